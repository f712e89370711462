"""Run settings of the pipeline, with the official presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import InputError


@dataclass
class Settings:
    """Everything a run can change besides its inputs and models.

    Defaults are the official `actionmesh.yaml`; `fast` is `actionmesh_fast.yaml` (50 / 15 steps);
    `low_vram` runs the guidance branches one after the other, recomputes the image keys/values per
    step, decodes one target frame at a time and frees each model after its stage.
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
    low_vram: bool = False

    @classmethod
    def preset(cls, fast: bool = False, low_vram: bool = False, **overrides) -> "Settings":
        values = dict(prior_steps=50, steps=15) if fast else {}
        if low_vram:
            values["decode_batch"] = 1
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(low_vram=low_vram, **values)
        settings.validate()
        return settings

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
            (self.decode_window is None or self.decode_window >= 2, "decode_window must be at least 2 frames"),
            (self.anchor_frame >= 0, "the anchor frame must be 0 or more"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
