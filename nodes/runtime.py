"""What every stage node does around its core call: progress and cancellation, device memory, run settings, and
validation answers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from ..actionmesh_core.base.option_names import OptionNames
from ..actionmesh_core.errors import ActionMeshError
from ..actionmesh_core.pipeline import Settings
from . import comfy_adapter as comfy
from .inputs import STAGE_NAMES
from .sockets import LoadedModels


class NodeProgress:
    """The pipeline's `progress(stage, done, total)` as the running node's ComfyUI progress bar (one bar, refilled
    by each stage). Every call is a cancellation point: it raises when the user pressed Cancel."""

    def __init__(self):
        self._bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        comfy.check_interrupt()
        if self._bar is None:
            self._bar = comfy.progress_bar(total)
        self._bar.update_absolute(done, total)


@contextlib.contextmanager
def on_device() -> Iterator[None]:
    """Around a node's stages: ComfyUI makes room on the device first and gets the freed memory back after. (Each
    model sits on the device only during its stage, with the kernel its ModelSet chose: ModelSet.use.)"""
    comfy.free_memory()
    try:
        yield
    finally:
        comfy.release_cache()


def run_settings(model: LoadedModels, preset: str, *, custom: dict | None = None, window: int | None = None,
                 mesh_resolution: int = 0, low_vram: bool = False, names: OptionNames = STAGE_NAMES,
                 **values) -> Settings:
    """Settings from node widgets, by the core's one rule (`Settings.resolve`): the preset's values for the
    loaded weights, `custom` (the step and guidance widgets) only with the "custom" preset, `values` always.
    Windows slide by window - 1; mesh_resolution 0 = the models' default; messages name the node's widgets."""
    if window is not None:
        values.update(window=window, slide=window - 1)
    return Settings.resolve(model.models.recommended, preset, custom=custom, low_vram=low_vram, names=names,
                            mesh_resolution=mesh_resolution or None, **values)


def validated(check: Callable[[], object]) -> bool | str:
    """VALIDATE_INPUTS' answer: True when `check()` passes, else the message of the ActionMeshError it raised."""
    try:
        check()
    except ActionMeshError as exc:
        return str(exc)
    return True
