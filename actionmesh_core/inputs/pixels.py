"""Pixel conversions every frame source shares: any dtype to uint8, shrinking, and fitting masks to frames."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import InputError


def to_uint8(values: np.ndarray, what: str) -> np.ndarray:
    """Pixel values of any common dtype -> uint8 in 0..255.

    bool -> {0, 255}; float in 0..1 (clipped) -> rounded 0..255; uint16 -> scaled by 255/65535; uint8 as is.
    Float values far above 1 (a 0..255 float image) raise an InputError instead of turning white.
    """
    values = np.asarray(values)
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * 255
    if values.dtype == np.uint16:
        return np.round(values.astype(np.float32) * (255.0 / 65535.0)).astype(np.uint8)
    if np.issubdtype(values.dtype, np.floating):
        if values.size and float(np.nanmax(values)) > 2.0:
            raise InputError(
                f"{what} are floats up to {float(np.nanmax(values)):g}: float pixels must lie in 0..1; "
                "divide by 255 or pass uint8 values"
            )
        return np.round(np.clip(np.nan_to_num(values), 0.0, 1.0) * 255.0).astype(np.uint8)
    raise InputError(f"{what} have dtype {values.dtype}: use uint8 (0..255), uint16, bool or float (0..1)")


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(width, height) shrunk so that the longer side is at most `max_side`, keeping the aspect ratio."""
    longest = max(width, height)
    if max_side is None or longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def fit(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    """One (H, W, 3|4) uint8 frame shrunk so its longer side is at most `max_side` (colour and alpha apart)."""
    size = scaled_size(frame.shape[1], frame.shape[0], max_side)
    if size == (frame.shape[1], frame.shape[0]):
        return frame
    channels = [resize(frame[..., :3], size)] + ([resize(frame[..., 3], size)] if frame.shape[-1] == 4 else [])
    return np.dstack(channels)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize one (H, W, C) RGB(A) or (H, W) mask uint8 image to size=(width, height).

    Colour uses Lanczos; masks use bilinear, which keeps them free of ringing. Both are antialiased.
    """
    if image.shape[1] == size[0] and image.shape[0] == size[1]:
        return image
    resample = Image.Resampling.BILINEAR if image.ndim == 2 else Image.Resampling.LANCZOS
    return np.asarray(Image.fromarray(image).resize(size, resample))


def match_mask(mask: np.ndarray, size: tuple[int, int], what: str) -> np.ndarray:
    """Resize a (h, w) uint8 mask to the frame size=(width, height); the aspect ratios must agree within 1 %."""
    height, width = mask.shape
    if abs(width / height - size[0] / size[1]) > 0.01 * size[0] / size[1]:
        raise InputError(
            f"{what} is {width}x{height} but the frames are {size[0]}x{size[1]}: masks must have the frames' shape"
        )
    return resize(mask, size)
