"""Previews of meshes and animations: an OpenGL rasteriser (moderngl on EGL; GPU or Mesa's CPU
llvmpipe), turntables and strips beside the input video, as pixels (mp4 files: `export.mp4`)."""

from .camera import DEFAULT_FOV_DEG
from .compose import over_background, side_by_side
from .context import renderer_name
from .preview import (
    CAMERAS,
    fit_to_unit_cube,
    preview_strip,
    render_animation,
    render_turntable,
    render_views,
    turntable_azimuths,
)
from .rasterizer import MODES, Shading, render_cameras, render_rgba

__all__ = [
    "CAMERAS",
    "DEFAULT_FOV_DEG",
    "MODES",
    "Shading",
    "fit_to_unit_cube",
    "over_background",
    "preview_strip",
    "render_animation",
    "render_cameras",
    "render_rgba",
    "render_turntable",
    "render_views",
    "renderer_name",
    "side_by_side",
    "turntable_azimuths",
]
