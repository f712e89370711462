"""Frames and masks already in memory: numpy arrays, torch tensors, lists of PIL images.

Only the selected frames are converted, one at a time, so a long float32 batch is never copied whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InputError
from .clip import DEFAULT_FPS, Clip, FrameSelection, collect, collect_masks
from .pixels import to_uint8


def read_memory_frames(
    frames: Any, selection: FrameSelection, max_side: int | None = None, fps: float | None = None
) -> Clip:
    """Frames given as (T, H, W, 3|4) uint8 or float 0..1 (numpy or torch), or a list of images/arrays."""
    sequence = as_sequence(frames, "frames")
    if not isinstance(sequence, list) and sequence.ndim == 3 and sequence.shape[-1] in (3, 4):
        raise InputError("frames is a single (H, W, C) image: ActionMesh needs a sequence of at least 2 frames")
    if not isinstance(sequence, list) and (sequence.ndim != 4 or sequence.shape[-1] not in (3, 4)):
        raise InputError(f"frames must have shape (T, H, W, 3) or (T, H, W, 4), got {tuple(sequence.shape)}")
    return collect(
        selection,
        sequence,
        lambda index, frame: _frame(frame, index),
        source_fps=fps or DEFAULT_FPS,
        where="frames",
        max_side=max_side,
        num_frames=len(sequence),
    )


def read_memory_masks(masks: Any, clip: Clip, invert: bool = False) -> np.ndarray:
    """(T, H, W) uint8 masks for the clip's frames from (N, H, W) uint8 / float 0..1 / bool arrays or tensors, a
    single (H, W) mask, or a list of PIL images: one per source frame."""
    items = as_sequence(masks, "masks")
    if not isinstance(items, list) and items.ndim == 2:
        items = items[None]
    return collect_masks(clip, items, _mask, where="masks", invert=invert)


def as_sequence(values: Any, what: str) -> Sequence:
    """A frame-indexable view of an array, tensor, list or tuple (nothing is converted yet)."""
    if isinstance(values, (list, tuple)):
        return list(values)
    if isinstance(values, np.ndarray) or _is_tensor(values):
        return values
    raise InputError(
        f"{what} of type {type(values).__name__} are not supported: give a path, a numpy array, a torch tensor "
        "or a list of PIL images"
    )


def to_numpy(value: Any, pil_mode: str) -> np.ndarray:
    """One frame or mask as a numpy array; PIL images are converted to `pil_mode` ("RGBA" or "L")."""
    if isinstance(value, Image.Image):
        return np.array(value.convert(pil_mode))
    if _is_tensor(value):
        value = value.detach().cpu()
        return (value.float() if value.is_floating_point() else value).numpy()
    return np.asarray(value)


def _frame(frame: Any, index: int) -> np.ndarray:
    """One in-memory frame -> (H, W, 3|4) uint8."""
    values = to_numpy(frame, "RGBA")
    if values.ndim != 3 or values.shape[-1] not in (3, 4):
        raise InputError(f"frame {index} has shape {values.shape}: each frame must be (H, W, 3) or (H, W, 4)")
    return to_uint8(values, "frames")


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "is_floating_point")


def _mask(mask: Any) -> np.ndarray:
    """One in-memory mask -> (H, W) uint8."""
    values = to_numpy(mask, "L")
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim != 2:
        raise InputError(f"each mask must be (H, W), got shape {values.shape}")
    return to_uint8(values, "masks")
