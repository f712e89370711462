"""Put renders on a background and next to the input video frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from ..errors import InputError

WHITE = (255, 255, 255)


def as_uint8_images(images, what: str = "images") -> np.ndarray:
    """(T, H, W, 3|4) uint8 from uint8 or float-in-[0, 1] frames (numpy arrays or CPU tensors)."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] not in (3, 4) or images.shape[0] == 0:
        raise InputError(f"{what} must have shape (T, H, W, 3|4), got {images.shape}")
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise InputError(f"{what} must be uint8 or float in [0, 1], got {images.dtype}")
    return np.rint(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def over_background(images, background: Sequence[int] = WHITE) -> np.ndarray:
    """Composite straight-alpha RGBA frames over a plain colour: (T, H, W, 3) uint8 (RGB passes through)."""
    images = as_uint8_images(images)
    if images.shape[-1] == 3:
        return images
    alpha = images[..., 3:].astype(np.float32) / 255.0
    rgb = images[..., :3] * alpha + np.float32(background) * (1.0 - alpha)
    return np.rint(rgb).astype(np.uint8)


def side_by_side(input_frames, renders, *, background: Sequence[int] = WHITE) -> np.ndarray:
    """A strip per frame: the input frame, then each render, left to right.

    input_frames: (T, h, w, 3|4) uint8 or float in [0, 1]; resized to the renders' height.
    renders: (T, H, W, 3|4) uint8, or a sequence of such arrays (several views).
    Returns (T, H, w' + W * views, 3) uint8, transparent pixels shown on `background`.
    """
    views = [renders] if isinstance(renders, np.ndarray) else list(renders)
    columns = [over_background(view, background) for view in views]
    frames = over_background(input_frames, background)
    count, height = columns[0].shape[0], columns[0].shape[1]
    if any(column.shape[:2] != (count, height) for column in columns) or len(frames) != count:
        raise InputError(
            f"side_by_side needs the same frame count and render height everywhere: input frames "
            f"{frames.shape[:3]}, renders {[column.shape[:3] for column in columns]}"
        )
    width = max(1, round(frames.shape[2] * height / frames.shape[1]))
    resized = np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.LANCZOS)) for f in frames])
    return np.concatenate([resized, *columns], axis=2)
