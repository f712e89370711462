"""`VideoFit`: what the stage after Stage II does with the video (register the animation to it, colour it)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..render.camera import DEFAULT_FOV_DEG
from .colour import MODES
from .texture import check_texture_size

COLOUR_CHOICES = ("none", *MODES)


@dataclass(frozen=True)
class VideoFit:
    """colour: "none" (cameras only: per-frame IoU, the camera export, the overlay), "vertex" or "texture";
    texture_size: of a baked texture (a power of two); fov_deg: the video camera's vertical field of view;
    delight: remove the video's light from the colours."""

    colour: str = "vertex"
    texture_size: int = 1024
    fov_deg: float = DEFAULT_FOV_DEG
    delight: bool = True

    def __post_init__(self) -> None:
        if self.colour not in COLOUR_CHOICES:
            raise InputError(f"colour must be one of {', '.join(COLOUR_CHOICES)}, got {self.colour!r}")
        check_texture_size(self.texture_size)
        if not 1.0 <= self.fov_deg <= 170.0:
            raise InputError(f"the camera's field of view must lie in [1, 170] degrees, got {self.fov_deg}")


def default_colour(mesh=None) -> str:
    """The colour mode a run uses unless told: "vertex", or "none" for a user mesh with a look of its own (a
    base-colour texture with UVs, or vertex colours), which it keeps unless the user asks to re-colour it.
    mesh: a `UserMesh`, a `PreparedMesh` (its source is asked), an `AnimatedMesh` or None."""
    mesh = getattr(mesh, "source", mesh)
    if mesh is None:
        return "vertex"
    textured = getattr(mesh, "uvs", None) is not None and any(
        material.base_color_texture is not None for material in getattr(mesh, "materials", None) or ())
    return "none" if textured or getattr(mesh, "vertex_colors", None) is not None else "vertex"
