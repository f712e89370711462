"""Run settings of the pipeline, and the one rule that picks them: what the user set, else the preset's value.

Presets (`PRESETS`):
    "model default"  the weights root's recommendations (`actionmesh.json` "settings", `ModelSet.recommended`)
                     over the official defaults; the default everywhere (command line, nodes, Python API)
    "official"       the official `actionmesh.yaml` (100 prior steps, 30 steps, guidance 7.5)
    "fast"           the official `actionmesh_fast.yaml` (50 prior steps, 15 steps)
    "custom"         the official defaults under exactly the numbers the user gives
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..base.option_names import PYTHON_NAMES, OptionNames
from ..errors import InputError

PRESETS = ("model default", "official", "fast", "custom")
FAST = {"prior_steps": 50, "steps": 15}
# The values presets tune: the summary names those the user set to something else.
TUNED = ("prior_steps", "steps", "prior_guidance", "guidance", "mesh_resolution", "face_budget", "decode_window",
         "decode_anchored")


@dataclass
class Settings:
    """Everything a run can change besides its inputs and models.

    Defaults are the official `actionmesh.yaml`; build settings with `Settings.resolve` so that what the user
    did not set follows the preset. `low_vram` runs the guidance branches one after the other, recomputes the
    image keys/values per step, decodes one target frame at a time and frees each model after its stage.
    `source` says where the values came from, for summaries ("model default", "fast, with your steps", ...);
    `names` how the user names the options (`--low-vram`, a node's `low_vram`), for the advice in messages.
    """

    seed: int = 44
    anchor_frame: int = 0
    prior_steps: int = 100
    prior_guidance: float = 7.5
    steps: int = 30
    guidance: float = 7.5
    window: int = 16
    slide: int = 15
    face_budget: int = 40_000
    floaters_threshold: float = 0.02
    mesh_resolution: int | None = None  # None: the model set's default (512 for the official models)
    decode_window: int | None = None  # Stage II frames per window; None: the model set's (16 official)
    decode_anchored: bool | None = None  # Stage II windows all deform the anchor; None: the model set's (False)
    decode_batch: int = 4
    decode_memory_mb: int | None = None  # Stage II query activations at once; None: 1024 on CPU, 1/4 of free GPU
    low_vram: bool = False
    source: str = "official"
    names: OptionNames = field(default=PYTHON_NAMES, compare=False, repr=False)

    @classmethod
    def resolve(cls, recommended: Mapping | None = None, preset: str = "model default", *,
                custom: Mapping | None = None, low_vram: bool = False, names: OptionNames = PYTHON_NAMES,
                **overrides) -> "Settings":
        """The run settings: `overrides` (what the user set; None = not set) over the preset's values.

        recommended: the weights' recommendations (`ModelSet.recommended`), used by "model default"; keys that
                     are not settings are ignored (a newer `actionmesh.json` may carry more).
        custom:      values that apply only with the "custom" preset (the number widgets of a node).
        names:       how the caller's user names the options, for messages (`OptionNames`).
        """
        if preset not in PRESETS:
            raise InputError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
        settable = {f.name for f in dataclasses.fields(cls)} - {"source", "low_vram", "names"}
        values = {"decode_batch": 1} if low_vram else {}
        if preset == "model default":
            values.update({k: v for k, v in (recommended or {}).items() if k in settable})
        elif preset == "fast":
            values.update(FAST)
        given = {**((custom or {}) if preset == "custom" else {}), **overrides}
        user = {k: v for k, v in given.items() if v is not None}
        unknown = sorted(set(user) - settable)
        if unknown:
            raise InputError(f"unknown setting {unknown[0]!r}; settings are: {', '.join(sorted(settable))}")
        yours = [k for k in TUNED if k in user and user[k] != values.get(k, getattr(cls, k))]
        source = "model default = official" if preset == "model default" and not recommended else preset
        source += f", with your {', '.join(yours)}" if yours and preset != "custom" else ""
        settings = cls(**{**values, **user}, low_vram=low_vram, source=source, names=names)
        settings.validate()
        return settings

    @classmethod
    def preset(cls, fast: bool = False, low_vram: bool = False, **overrides) -> "Settings":
        """The official settings (or the official fast preset) under `overrides`: `resolve` without weights."""
        return cls.resolve(None, "fast" if fast else "official", low_vram=low_vram, **overrides)

    def describe(self) -> str:
        """Where the settings came from and the numbers that matter most, e.g. 'model default (25/15 steps,
        guidance 2.0)'."""
        guidance = f"guidance {_number(self.guidance)}" if self.guidance == self.prior_guidance else \
            f"guidance {_number(self.prior_guidance)}/{_number(self.guidance)}"
        return f"{self.source} ({self.prior_steps}/{self.steps} steps, {guidance})"

    def replace(self, **changes) -> "Settings":
        settings = dataclasses.replace(self, **changes)
        settings.validate()
        return settings

    def validate(self) -> None:
        checks = [
            (self.prior_steps >= 1 and self.steps >= 1, "steps must be at least 1"),
            (self.prior_guidance >= 0 and self.guidance >= 0, "guidance must be 0 or more"),
            (self.window >= 2, "the window must hold at least 2 frames"),
            (1 <= self.slide < self.window, f"slide must lie in [1, window - 1 = {self.window - 1}]"),
            (self.face_budget >= 100, "the face budget must be at least 100"),
            (0 <= self.floaters_threshold < 1, "floaters_threshold must lie in [0, 1)"),
            (self.mesh_resolution is None or (self.mesh_resolution >= 16
                                              and self.mesh_resolution & (self.mesh_resolution - 1) == 0),
             "mesh_resolution must be a power of two, 16 or more (512 is the official value)"),
            (self.decode_batch >= 1, "decode_batch must be at least 1"),
            (self.decode_memory_mb is None or self.decode_memory_mb >= 16,
             "decode_memory_mb must be at least 16 (MiB), or None for the default budget"),
            (self.decode_window is None or self.decode_window >= 2, "decode_window must be at least 2 frames"),
            (self.anchor_frame >= 0, "the anchor frame must be 0 or more"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)


def _number(value: float) -> str:
    """2.0 -> '2.0', 7.5 -> '7.5', 0.25 -> '0.25'."""
    return f"{value:.1f}" if round(value, 1) == value else f"{value:g}"
