"""Write frames to an H.264 mp4 with the ffmpeg that imageio-ffmpeg ships, and preview videos of an animation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..animated_mesh import AnimatedMesh
from ..base.atomic import atomic_path
from ..errors import InputError
from ..render.compose import WHITE, as_uint8_images, over_background
from ..render.preview import preview_strip


def write_mp4(frames, path: str | os.PathLike, fps: float, *, background=WHITE, quality: float = 8.0) -> Path:
    """Encode (T, H, W, 3|4) uint8 (or float in [0, 1]) frames to `path`, atomically.

    Transparent pixels are shown on `background`. Odd sizes are padded by one pixel with the
    background (H.264 in yuv420p needs even sizes). quality: 0 (smallest) .. 10 (best).
    """
    import imageio_ffmpeg

    if not (fps > 0 and np.isfinite(fps)):
        raise InputError(f"video fps must be a positive number, got {fps}")
    images = as_uint8_images(frames, "video frames")
    if images.shape[-1] == 3:
        images = np.concatenate([images, np.full_like(images[..., :1], 255)], axis=-1)
    padding = ((0, 0), (0, images.shape[1] % 2), (0, images.shape[2] % 2), (0, 0))
    rgb = over_background(np.pad(images, padding), background)  # padding is transparent
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp),
            (rgb.shape[2], rgb.shape[1]),
            fps=float(fps),
            codec="libx264",
            quality=quality,
            macro_block_size=2,
            output_params=["-movflags", "+faststart"],
        )
        writer.send(None)
        try:
            for frame in rgb:
                writer.send(np.ascontiguousarray(frame))
        finally:
            writer.close()
    return path


def write_preview_mp4(
    anim: AnimatedMesh,
    path: str | os.PathLike,
    *,
    input_frames=None,
    azimuths: Sequence[float] = (0.0,),
    fps: float | None = None,
    **render_options,
) -> Path:
    """Render `preview_strip` and encode it as an mp4 at `fps` (default: the animation's fps)."""
    strip = preview_strip(anim, input_frames=input_frames, azimuths=azimuths, **render_options)
    return write_mp4(strip, path, fps or anim.fps)
