"""`load_clip`: the one entry point that turns any supported input into a `Clip`.

Sources: a video file; a folder of frames (optionally `xxx_image.png` + `xxx_mask.png` pairs); a glob pattern;
or frames in memory (numpy, torch, list of PIL). Separate masks can come as arrays, tensors, PIL images, or a
folder / glob of mask images, one per source frame.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .clip import Clip, FrameSelection
from .pixels import match_mask, to_uint8
from .image_files import IMAGE_SUFFIXES, files_of, list_images, natural_key, read_image_files, read_mask
from .in_memory import as_sequence, read_memory_frames, to_numpy
from .video import read_video

PathLike = str | os.PathLike


def load_clip(
    source: PathLike | Any,
    *,
    start: int = 0,
    end: int | None = None,
    stride: int = 1,
    max_frames: int | None = None,
    target_fps: float | None = None,
    max_side: int | None = None,
    masks: PathLike | Any | None = None,
    invert_masks: bool = False,
    fps: float | None = None,
) -> Clip:
    """Read the selected frames of `source` into a Clip (see `FrameSelection` for start/end/stride/...).

    source:       a video file, a folder of frames, a glob pattern such as "shots/a_*.png", or in-memory frames:
                  (T, H, W, 3|4) uint8 or float 0..1 numpy / torch (ComfyUI IMAGE), or a list of PIL images.
    max_side:     shrink frames (while reading) so that their longer side is at most this many pixels.
    masks:        subject masks, one per source frame, replacing any alpha: (T, H, W) uint8 / float 0..1 /
                  bool arrays or tensors, a list of PIL images, or a folder / glob pattern of mask images.
                  255 (or 1.0) = subject, unless `invert_masks`.
    invert_masks: set for masks where 1 means transparent, such as ComfyUI's MASK type.
    fps:          frame rate of the source; read from video files, otherwise DEFAULT_FPS.
    Raises InputError for missing or unreadable input and for fewer than 2 selected frames.
    """
    selection = FrameSelection(start, end, stride, max_frames, target_fps)
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 1):
        raise InputError(f"max_side must be a positive whole number of pixels, got {max_side!r}")
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise InputError(f"fps must be a positive number, got {fps}")
    if isinstance(source, (str, os.PathLike)):
        clip = _read_path(source, selection, max_side, fps)
    else:
        clip = read_memory_frames(source, selection, max_side, fps)
    if masks is not None:
        clip = clip.with_alpha(_separate_masks(masks, clip, invert_masks))
    return clip


def _read_path(source: PathLike, selection: FrameSelection, max_side: int | None, fps: float | None) -> Clip:
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise InputError(
                f"{path.name} is a single image: ActionMesh needs at least 2 frames. Give a video, a folder of "
                "frames or a glob pattern."
            )
        return read_video(path, selection, max_side, fps)
    if path.is_dir() or any(char in str(source) for char in "*?["):
        files, where = files_of(source)
        images, masks = list_images(files, where)
        return read_image_files(images, masks, selection, where, max_side, fps)
    raise InputError(f"{source} does not exist. Give a video file, a folder of frames or a glob pattern.")


def _separate_masks(masks: PathLike | Any, clip: Clip, invert: bool) -> np.ndarray:
    """(T, H, W) uint8 masks for the clip's frames, read from one mask per source frame."""
    if isinstance(masks, (str, os.PathLike)):
        files, where = files_of(masks)
        items = sorted((path for path in files if path.suffix.lower() in IMAGE_SUFFIXES), key=natural_key)
        load = read_mask
    else:
        items, where = as_sequence(masks, "masks"), "masks"
        if not isinstance(items, list) and items.ndim == 2:
            items = items[None]
        load = _mask_array
    last = int(clip.frame_indices[-1])
    if len(items) <= last:
        raise InputError(
            f"{where}: {len(items)} mask(s) given but source frame {last} is selected: give one mask per source frame"
        )
    selected = []
    for index in clip.frame_indices:
        mask = load(items[index])
        selected.append(match_mask(255 - mask if invert else mask, clip.size, f"mask {index}"))
    return np.stack(selected)


def _mask_array(mask: Any) -> np.ndarray:
    """One in-memory mask -> (H, W) uint8."""
    values = to_numpy(mask, "L")
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim != 2:
        raise InputError(f"each mask must be (H, W), got shape {values.shape}")
    return to_uint8(values, "masks")
