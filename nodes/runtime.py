"""What every stage node does around its core call: progress and cancellation, device memory, run settings,
subject masks, and the prepared frames shared by the nodes of one workflow."""

from __future__ import annotations

import contextlib
import dataclasses
import weakref
from collections.abc import Callable, Iterator

import numpy as np

from ..actionmesh_core.errors import ActionMeshError, InputError
from ..actionmesh_core.geometry import prepare_user_mesh
from ..actionmesh_core.io.mesh_file import UserMesh
from ..actionmesh_core.pipeline import PreparedFrames, ReferenceMesh, Settings, matting_for, prepare_frames
from . import comfy_adapter as comfy
from .comfy_types import clip_from_comfy
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


def run_settings(model: LoadedModels, *, window: int | None = None, mesh_resolution: int = 0, fast: bool = False,
                 low_vram: bool = False, **values) -> Settings:
    """Settings from node widgets: windows slide by window - 1; mesh_resolution 0 = the models' default."""
    if window is not None:
        values.update(window=window, slide=window - 1)
    values["mesh_resolution"] = mesh_resolution or model.models.mesh_resolution
    return Settings.preset(fast=fast, low_vram=low_vram, **values)


def subject_alpha(model: LoadedModels, frames: np.ndarray, progress: NodeProgress) -> np.ndarray:
    """RMBG-1.4 masks, frames (T, H, W, 3) uint8 -> alpha (T, H, W) uint8 (255 = subject), one frame a step."""
    if not model.models.has("rmbg"):
        raise InputError(f"no subject masks were given and the RMBG-1.4 background remover is not installed in "
                         f"{model.name}: connect a mask (1 = background), or put RMBG-1.4 (briaai/RMBG-1.4: "
                         "config.json + model.safetensors) in the weights folder's RMBG/ subfolder")
    return matting_for(model.models, progress)(frames)


_last_prepared: tuple[tuple, PreparedFrames] | None = None


def prepared_frames(model: LoadedModels, images, masks, fps: float, progress: NodeProgress) -> PreparedFrames:
    """Frames with subject masks, square-cropped, and their DINOv2 tokens (on the CPU).

    The last result is kept for the very same IMAGE, MASK and models objects (held weakly, so nothing is kept
    alive), so the prior and the temporal diffusion of one workflow encode the frames once."""
    global _last_prepared
    sources = (images, masks, model.models)
    if _last_prepared is not None and all(
            source is (ref() if ref is not None else None) for source, ref in zip(sources, _last_prepared[0])):
        frames = _last_prepared[1]
    else:
        clip = clip_from_comfy(images, masks, fps)
        if clip.alpha is None:
            clip = clip.with_alpha(subject_alpha(model, clip.frames, progress))
        frames = prepare_frames(clip, model.models)
        frames.features = frames.features.cpu()
        _last_prepared = tuple(weakref.ref(s) if s is not None else None for s in sources), frames
    return dataclasses.replace(frames, clip=dataclasses.replace(frames.clip, fps=fps))


def as_reference(mesh, latent=None) -> ReferenceMesh:
    """An ACTIONMESH_MESH as the mesh the animation deforms: a ReferenceMesh as is (with `latent` if given), a
    UserMesh prepared for the model (its latent: `latent`, which the caller encoded or was given)."""
    if isinstance(mesh, ReferenceMesh):
        return mesh if latent is None else dataclasses.replace(mesh, latent=latent)
    if isinstance(mesh, UserMesh):
        prepared = prepare_user_mesh(mesh)
        return ReferenceMesh(prepared.vertices, prepared.faces, latent, prepared=prepared)
    raise InputError(f"expected an ACTIONMESH_MESH, got {type(mesh).__name__}")


def validated(check: Callable[[], object]) -> bool | str:
    """VALIDATE_INPUTS' answer: True when `check()` passes, else the message of the ActionMeshError it raised."""
    try:
        check()
    except ActionMeshError as exc:
        return str(exc)
    return True
