"""`load_clip`: the one entry point that turns any supported input into a `Clip`. It picks the reader of the
source (`video`, `image_files`, `in_memory`), and of separate masks; each reader selects its frames with
`clip.collect`.

Sources: a video file; a folder of frames (optionally `xxx_image.png` + `xxx_mask.png` pairs); a glob pattern;
or frames in memory (numpy, torch, list of PIL). Separate masks can come as arrays, tensors, PIL images, or a
folder / glob of mask images, one per source frame.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..base.option_names import PYTHON_NAMES, OptionNames
from ..errors import InputError
from .clip import Clip, FrameSelection
from .image_files import IMAGE_SUFFIXES, read_image_sequence, read_mask_files
from .in_memory import read_memory_frames, read_memory_masks
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
    names: OptionNames = PYTHON_NAMES,
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
    names:        how the caller's user names these options, for messages (the command line's `--max-frames`, a
                  node's `frame_load_cap`; see `OptionNames`).
    Raises InputError for missing or unreadable input and for fewer than 2 selected frames.
    """
    selection = FrameSelection(start, end, stride, max_frames, target_fps, names)
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 1):
        raise InputError(f"{names('max_side')} must be a positive whole number of pixels, got {max_side!r}")
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise InputError(f"{names('fps')} must be a positive number, got {fps}")
    if isinstance(source, (str, os.PathLike)):
        clip = _read_path(source, selection, max_side, fps)
    else:
        clip = read_memory_frames(source, selection, max_side, fps)
    if masks is not None:
        read_masks = read_mask_files if isinstance(masks, (str, os.PathLike)) else read_memory_masks
        clip = clip.with_alpha(read_masks(masks, clip, invert_masks))
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
        return read_image_sequence(source, selection, max_side, fps)
    raise InputError(f"{source} does not exist. Give a video file, a folder of frames or a glob pattern.")
