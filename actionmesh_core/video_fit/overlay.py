"""The animated mesh drawn over its video through the registered cameras, as frames (ComfyUI's IMAGE; the mp4 is
`export.mp4.write_overlay_mp4`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from ..render.compose import as_uint8_images
from ..render.preview import mesh_appearance
from ..render.rasterizer import Shading, render_cameras

TINT = (1.0, 0.62, 0.25)
"""Colour of a mesh without colours of its own (orange: visible on most videos)."""
WIREFRAME_COLOR = (0.08, 0.08, 0.08)
FRAMES_PER_CHUNK = 8


def overlay_chunks(anim: AnimatedMesh, frames, *, opacity: float = 0.6, wireframe: bool = False,
                   mode: str = "shaded", tint: Sequence[float] = TINT) -> Iterator[np.ndarray]:
    """Yield (n, H, W, 3) uint8 chunks of the video frames with the mesh over them (see `render_overlay`);
    only one chunk of renders is held at a time."""
    if anim.cameras is None:
        raise InputError("this animation has no video cameras: register it to its video first (fit_cameras, the "
                         "Fit Camera node, or `actionmesh colour`)")
    if not 0.0 <= opacity <= 1.0:
        raise InputError(f"overlay opacity must lie in [0, 1], got {opacity}")
    frames = as_uint8_images(frames, "video frames")[..., :3]
    cameras = anim.cameras
    if len(frames) != anim.num_frames or (frames.shape[2], frames.shape[1]) != cameras.image_size:
        raise InputError(f"the overlay needs the animation's {anim.num_frames} video frames of "
                         f"{cameras.image_size[0]}x{cameras.image_size[1]} pixels, got {len(frames)} of "
                         f"{frames.shape[2]}x{frames.shape[1]}")
    projection = cameras.projection(None, *cameras.clip_planes(anim.vertices))
    plain = Shading(color=tint) if anim.vertex_colors is None else Shading()
    appearance = mesh_appearance(anim, plain)
    width, height = cameras.image_size
    for start in range(0, anim.num_frames, FRAMES_PER_CHUNK):
        chunk = slice(start, start + FRAMES_PER_CHUNK)
        renders = render_cameras(anim.vertices[chunk], anim.faces, cameras.world_to_camera[chunk], projection,
                                 width=width, height=height, mode=mode, wireframe=WIREFRAME_COLOR if wireframe else None,
                                 **appearance)
        alpha = renders[..., 3:].astype(np.float32) / 255.0 * opacity
        mixed = frames[chunk].astype(np.float32) * (1.0 - alpha) + renders[..., :3].astype(np.float32) * alpha
        yield np.rint(mixed).astype(np.uint8)


def render_overlay(anim: AnimatedMesh, frames, *, opacity: float = 0.6, wireframe: bool = False,
                   mode: str = "shaded", tint: Sequence[float] = TINT) -> np.ndarray:
    """(T, H, W, 3) uint8: each video frame (T, H, W, 3|4 uint8 or float in [0, 1]) with the mesh of that frame
    drawn over it through its registered camera (`anim.cameras`).

    opacity: of the mesh over the video (0: the video only, 1: the mesh hides it); wireframe: draw the edges too;
    mode: "shaded", "flat" (the colours unlit) or "normals"; tint: the colour of a mesh without colours."""
    return np.concatenate(list(overlay_chunks(anim, frames, opacity=opacity, wireframe=wireframe, mode=mode,
                                              tint=tint)))
