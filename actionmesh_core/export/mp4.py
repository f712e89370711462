"""Write frames to an H.264 mp4 with the ffmpeg that imageio-ffmpeg ships, and preview videos of an animation."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..animated_mesh import AnimatedMesh
from ..base.atomic import atomic_path
from ..errors import InputError
from ..render.compose import WHITE, as_uint8_images, over_background
from ..render.preview import preview_strip
from ..video_fit.overlay import overlay_chunks


def write_mp4(frames, path: str | os.PathLike, fps: float, *, background=WHITE, quality: float = 8.0) -> Path:
    """Encode (T, H, W, 3|4) uint8 (or float in [0, 1]) frames to `path`, atomically.

    Transparent pixels are shown on `background`. Odd sizes are padded by one pixel with the
    background (H.264 in yuv420p needs even sizes). quality: 0 (smallest) .. 10 (best).
    """
    return write_mp4_chunks([frames], path, fps, background=background, quality=quality)


def write_mp4_chunks(chunks: Iterable, path: str | os.PathLike, fps: float, *, background=WHITE,
                     quality: float = 8.0) -> Path:
    """`write_mp4` for frames that come in chunks (n, H, W, 3|4), all of one size: each chunk is encoded as it
    arrives, so a long video is never held whole."""
    import imageio_ffmpeg

    if not (fps > 0 and np.isfinite(fps)):
        raise InputError(f"video fps must be a positive number, got {fps}")
    path = Path(path)
    with atomic_path(path) as tmp, contextlib.ExitStack() as stack:
        writer, size = None, None
        for chunk in chunks:
            images = as_uint8_images(chunk, "video frames")
            if images.shape[-1] == 3:
                images = np.concatenate([images, np.full_like(images[..., :1], 255)], axis=-1)
            padding = ((0, 0), (0, images.shape[1] % 2), (0, images.shape[2] % 2), (0, 0))
            rgb = over_background(np.pad(images, padding), background)  # padding is transparent
            if writer is None:
                size = rgb.shape[1:3]
                writer = imageio_ffmpeg.write_frames(str(tmp), (size[1], size[0]), fps=float(fps), codec="libx264",
                                                     quality=quality, macro_block_size=2,
                                                     output_params=["-movflags", "+faststart"])
                writer.send(None)
                stack.callback(writer.close)
            if rgb.shape[1:3] != size:
                raise InputError(f"video frames change size from {size[1]}x{size[0]} to {rgb.shape[2]}x{rgb.shape[1]}")
            for frame in rgb:
                writer.send(np.ascontiguousarray(frame))
        if writer is None:
            raise InputError("a video needs at least one frame")
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


def write_overlay_mp4(anim: AnimatedMesh, frames, path: str | os.PathLike, *, fps: float | None = None,
                      **options) -> Path:
    """Encode `video_fit.render_overlay` (the mesh over its video frames through the registered cameras) as an
    H.264 mp4 at `path`, atomically, rendering and encoding chunk by chunk. fps: default the animation's;
    options: those of `render_overlay`."""
    return write_mp4_chunks(overlay_chunks(anim, frames, **options), path, fps or anim.fps)
