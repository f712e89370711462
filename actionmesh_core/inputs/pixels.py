"""What every frame source shares: dtype to uint8, resizing, and `collect` (selected frames -> Clip)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from ..errors import InputError
from .clip import Clip, FrameSelection

T = TypeVar("T")


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


def collect(
    selection: FrameSelection,
    items: Iterable[T],
    load: Callable[[int, T], np.ndarray],
    *,
    source_fps: float,
    where: str,
    max_side: int | None = None,
    num_frames: int | None = None,
    estimated: bool = False,
    keep_alpha: bool = False,
) -> Clip:
    """Select frames from `items` (one per source frame), load the kept ones and build a Clip.

    load:       (source index, item) -> (H, W, 3) RGB or (H, W, 4) RGBA uint8; called only for kept frames,
                one at a time, and each frame is shrunk to `max_side` before the next is loaded.
    keep_alpha: keep the alpha even when fully opaque (it holds masks the caller gave explicitly);
                otherwise an opaque alpha means "no mask" and the clip's alpha is None.
    num_frames, estimated: see `FrameSelection.select`.
    """
    frames, indices, first = [], [], None
    for index, item in selection.select(items, source_fps, where, num_frames=num_frames, estimated=estimated):
        frame = load(index, item)
        name = item.name if isinstance(item, Path) else f"frame {index}"
        first = first or (name, frame.shape[:2])
        if frame.shape[:2] != first[1]:
            raise InputError(
                f"{where}: {name} is {frame.shape[1]}x{frame.shape[0]} but {first[0]} is {first[1][1]}x{first[1][0]}: "
                "every frame must have the same size"
            )
        frames.append(fit(frame, max_side))
        indices.append(index)
    alpha = None
    if any(frame.shape[-1] == 4 for frame in frames):
        alpha = np.stack(
            [frame[..., 3] if frame.shape[-1] == 4 else np.full(frame.shape[:2], 255, np.uint8) for frame in frames]
        )
        if not keep_alpha and (alpha == 255).all():
            alpha = None
    rgb = np.stack([frame[..., :3] for frame in frames])
    fps = source_fps / selection.step(source_fps)
    return Clip(rgb, alpha, fps, np.asarray(indices), source_fps, where)
