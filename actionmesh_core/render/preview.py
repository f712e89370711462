"""Preview pictures: turntables, several views of an animated mesh, strips beside the input frames."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from .compose import over_background, side_by_side
from .rasterizer import Shading, render_rgba


def turntable_azimuths(count: int, *, start_deg: float = 0.0) -> np.ndarray:
    """(count,) azimuths in degrees, one full turn in equal steps (the last one short of 360)."""
    return start_deg + 360.0 * np.arange(count) / count


def render_turntable(
    vertices: np.ndarray, faces: np.ndarray, *, num_views: int = 24, start_deg: float = 0.0, **render_options
) -> np.ndarray:
    """A static mesh (V, 3) seen from `num_views` azimuths around it: (num_views, H, W, 4) uint8.

    For an animation that turns while it plays, pass (T, V, 3) frames to `render_rgba` with
    `azimuth_deg=turntable_azimuths(T)`. render_options go to `render_rgba`.
    """
    return render_rgba(
        vertices, faces, azimuth_deg=turntable_azimuths(num_views, start_deg=start_deg), **render_options
    )


def fit_to_unit_cube(vertices: np.ndarray) -> np.ndarray:
    """Centre the animation's bounding box (over all frames) at the origin and scale it into [-1, 1]^3."""
    low, high = vertices.reshape(-1, 3).min(0), vertices.reshape(-1, 3).max(0)
    half_extent = max(float((high - low).max()) / 2.0, 1e-12)
    return ((vertices - (low + high) / 2.0) / half_extent).astype(np.float32)


def render_views(
    anim: AnimatedMesh, *, azimuths: Sequence[float] = (0.0,), fit: bool = True, **render_options
) -> list[np.ndarray]:
    """Every frame of `anim` from each azimuth, with its vertex colours and each material's base colour and
    texture: one (T, H, W, 4) per azimuth.

    fit: frame the whole animation (`fit_to_unit_cube`) instead of using the raw model coordinates.
    """
    vertices = fit_to_unit_cube(anim.vertices) if fit else anim.vertices
    appearance = mesh_appearance(anim)
    return [
        render_rgba(vertices, anim.faces, azimuth_deg=azimuth, **appearance, **render_options) for azimuth in azimuths
    ]


CAMERAS = ("turntable", "fixed")
RENDER_CHUNK = 8
"""Frames rendered between two progress calls (and the most held by the rasteriser at once)."""


def render_animation(
    anim: AnimatedMesh,
    *,
    camera: str = "turntable",
    azimuth_deg: float = 0.0,
    progress: Callable[[str, int, int], None] | None = None,
    **render_options,
) -> np.ndarray:
    """Every frame of `anim`, framed on the whole animation: (T, H, W, 4) uint8 with straight alpha.

    camera: "turntable" (one full turn over the clip, starting at `azimuth_deg`) or "fixed" (every frame from
    `azimuth_deg`). Frames are rendered RENDER_CHUNK at a time; `progress("rendering", done, total)` follows each
    chunk (it may raise to cancel). render_options go to `render_rgba` (size, elevation_deg, mode...)."""
    if camera not in CAMERAS:
        raise InputError(f"unknown camera {camera!r}: use one of {', '.join(CAMERAS)}")
    frames = anim.num_frames
    azimuths = azimuth_deg + (turntable_azimuths(frames) if camera == "turntable" else np.zeros(frames))
    fitted = dataclasses.replace(anim, vertices=fit_to_unit_cube(anim.vertices), frame_times=None)
    chunks = []
    for start in range(0, frames, RENDER_CHUNK):
        part = slice(start, start + RENDER_CHUNK)
        chunk = dataclasses.replace(fitted, vertices=fitted.vertices[part], frame_times=None)
        chunks.append(render_views(chunk, azimuths=[azimuths[part]], fit=False, **render_options)[0])
        if progress is not None:
            progress("rendering", min(start + RENDER_CHUNK, frames), frames)
    return np.concatenate(chunks)


def mesh_appearance(anim: AnimatedMesh, plain: Shading | None = None) -> dict:
    """The renderer's appearance options of `anim`: its vertex colours, UVs, and each material's base colour and
    texture; a mesh without materials is drawn with `plain` (default: the renderer's grey)."""
    appearance = {"vertex_colors": anim.vertex_colors, "uvs": anim.uvs, "shadings": (plain or Shading(),)}
    if anim.materials:
        appearance["shadings"] = [Shading(m.base_color_texture, m.base_color[:3]) for m in anim.materials]
        appearance["face_shadings"] = anim.face_materials
    return appearance


def preview_strip(
    anim: AnimatedMesh, *, input_frames=None, azimuths: Sequence[float] = (0.0,), **render_options
) -> np.ndarray:
    """(T, H, W, 3) uint8 on white: the input frames (if given) then one render per azimuth."""
    views = render_views(anim, azimuths=azimuths, **render_options)
    if input_frames is not None:
        return side_by_side(input_frames, views)
    return np.concatenate([over_background(view) for view in views], axis=2)
