"""Subject masks for registration: checking them, finding the frames without a subject, the square window of the
frames that holds the subject, and the window resampled to a small grid.

Masks are (T, H, W) arrays in the video's own pixels: uint8 (subject above 127, the pipeline's threshold), bool,
or float in [0, 1] (subject above 0.5).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import InputError

log = logging.getLogger(__name__)

MIN_SUBJECT_PIXELS = 16
"""A frame whose mask has fewer subject pixels than this has no usable subject (it keeps its neighbours' camera)."""
WINDOW_MARGIN = 0.15
"""The fitting window is the union subject box grown by this fraction of its longer side on each side."""


def subject_masks(masks, num_frames: int | None = None, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """(T, H, W) bool subject masks from uint8 (> 127), bool or float (> 0.5) masks (numpy or CPU torch).

    num_frames, image_size (width, height): what the masks must match (an InputError otherwise)."""
    array = np.asarray(masks.cpu().numpy() if hasattr(masks, "cpu") else masks)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or 0 in array.shape:
        raise InputError(f"subject masks must have shape (frames, height, width), got {array.shape}")
    if num_frames is not None and len(array) != num_frames:
        raise InputError(f"there are {len(array)} masks for an animation of {num_frames} frames: give the masks (and "
                         "frames) of the video the animation was made from, with the same frame selection")
    if image_size is not None and (array.shape[2], array.shape[1]) != tuple(image_size):
        raise InputError(f"the masks are {array.shape[2]}x{array.shape[1]} pixels, the video frames "
                         f"{image_size[0]}x{image_size[1]}: give masks of the video's size")
    if array.dtype == np.bool_:
        return array
    if array.dtype == np.uint8:
        return array > 127
    if np.issubdtype(array.dtype, np.floating):
        return array > 0.5
    raise InputError(f"subject masks must be uint8, bool or float in [0, 1], got {array.dtype}")


def empty_frames(masks: np.ndarray) -> np.ndarray:
    """(T,) bool: frames whose (T, H, W) bool mask has fewer than MIN_SUBJECT_PIXELS subject pixels."""
    return masks.reshape(len(masks), -1).sum(axis=1) < MIN_SUBJECT_PIXELS


@dataclass(frozen=True)
class Window:
    """A square of the video frames in pixels: left x0, top y0 and side (it may reach outside the frame)."""

    x0: float
    y0: float
    side: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1)."""
        return self.x0, self.y0, self.x0 + self.side, self.y0 + self.side

    def to_grid(self, pixels: np.ndarray, size: int) -> np.ndarray:
        """Frame pixel coordinates (..., 2) -> coordinates on a size x size grid laid over the window."""
        return (pixels - [self.x0, self.y0]) * (size / self.side)


def subject_window(masks: np.ndarray, usable: np.ndarray) -> Window:
    """The square around the union subject box of the usable frames of (T, H, W) bool masks, grown by
    WINDOW_MARGIN and snapped to whole pixels."""
    seen = masks[usable].any(axis=0)
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    x0, x1, y0, y1 = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
    side = int(np.ceil(max(x1 - x0, y1 - y0) * (1.0 + 2.0 * WINDOW_MARGIN)))
    return Window(float(np.floor((x0 + x1 - side) / 2)), float(np.floor((y0 + y1 - side) / 2)), float(side))


def window_coverage(masks: np.ndarray, window: Window, size: int) -> np.ndarray:
    """(T, size, size) float32: the fraction of each grid cell of the window covered by the subject (0 outside
    the frame). masks: (T, H, W) bool."""
    x0, y0, side = int(window.x0), int(window.y0), int(window.side)
    height, width = masks.shape[1:]
    out = np.zeros((len(masks), size, size), np.float32)
    crop = np.zeros((side, side), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, width), min(y0 + side, height)
    for t, mask in enumerate(masks):  # one frame at a time: only one window is ever held in full
        crop[:] = 0
        if sx1 > sx0 and sy1 > sy0:
            crop[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = mask[sy0:sy1, sx0:sx1] * np.uint8(255)
        out[t] = np.asarray(Image.fromarray(crop).resize((size, size), Image.BOX), np.float32) / 255.0
    return out
