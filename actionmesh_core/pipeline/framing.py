"""Subject masks and the model's input framing (spec §7.2-7.3).

Every frame is composited on white, cropped to the **union** bounding box of the subject over the whole
clip (one box, so framing and scale stay constant over time) and padded with white to a square with a
10 % margin. Unlike the official code, the square is exact: when the padding cannot be split evenly,
the extra pixel goes to the right / bottom.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..base.option_names import PYTHON_NAMES, OptionNames
from ..errors import InputError
from ..inputs.clip import Clip

MASK_THRESHOLD = 127
MIN_COVERAGE = 0.01
"""A usable mask leaves at least 1 % of the pixels on each side of MASK_THRESHOLD."""

MattingFn = Callable[[np.ndarray], np.ndarray]
"""Background remover: frames (T, H, W, 3) uint8 -> alpha (T, H, W) uint8, 255 = subject."""


@dataclass
class SquareFrames:
    """The model's input frames and where they came from.

    images:  (T, S, S, 3) uint8, or float32 in 0..1.
    box:     (x0, y0, x1, y1) crop in clip pixels, end-exclusive; the same for every frame.
    padding: (left, top, right, bottom) white pixels around the crop; a clip pixel (x, y) lands at
             (x - x0 + left, y - y0 + top).
    """

    images: np.ndarray
    box: tuple[int, int, int, int]
    padding: tuple[int, int, int, int]


def with_subject_masks(clip: Clip, matting_fn: MattingFn | None = None, names: OptionNames = PYTHON_NAMES) -> Clip:
    """The clip with a checked subject mask: its own alpha, else `matting_fn`'s, else an InputError (advice worded
    with the user's option `names`)."""
    if clip.alpha is not None:
        check_masks(clip, "the mask")
        return clip
    if matting_fn is None:
        masks = f"subject masks ({names('masks')})" if names.offers("masks") else "subject masks"
        raise InputError(
            f"{clip.source} has no subject masks: give frames with a transparent background or {masks}, or install "
            "the RMBG-1.4 background remover (briaai/RMBG-1.4) in the weights root's RMBG/ folder so that they can "
            "be computed (`actionmesh weights download --only rmbg`)."
        )
    alpha = np.asarray(matting_fn(clip.frames))
    if alpha.shape != clip.frames.shape[:3] or alpha.dtype != np.uint8:
        raise TypeError(f"matting_fn must return {clip.frames.shape[:3]} uint8, got {alpha.shape} {alpha.dtype}")
    clip = clip.with_alpha(alpha)
    check_masks(clip, "the background remover's mask")
    return clip


def check_masks(clip: Clip, what: str = "the mask") -> None:
    """Raise an InputError naming the frames whose mask is empty or covers (almost) the whole frame."""
    coverage = (clip.alpha > MASK_THRESHOLD).mean(axis=(1, 2))
    empty = clip.frame_indices[coverage < MIN_COVERAGE].tolist()
    full = clip.frame_indices[coverage > 1.0 - MIN_COVERAGE].tolist()
    problems = []
    if empty:
        problems.append(f"{what} of frame(s) {_listed(empty)} is empty: the subject is not visible")
    if full:
        problems.append(f"{what} of frame(s) {_listed(full)} covers the whole frame: there is no background")
    if problems:
        raise InputError(
            f"{clip.source}: {'; '.join(problems)}. Each mask must leave at least {MIN_COVERAGE:.0%} of the "
            "pixels on each side. Fix the masks, or choose frames without these with start/end."
        )


def _listed(indices: list[int], limit: int = 10) -> str:
    more = f" and {len(indices) - limit} more" if len(indices) > limit else ""
    return ", ".join(map(str, indices[:limit])) + more


def union_box(alpha: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) end-exclusive box of alpha > 0 over all frames. alpha: (T, H, W) uint8."""
    seen = (alpha > 0).any(axis=0)
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    if len(rows) == 0:
        raise InputError("every mask is empty: the subject is not visible in any frame")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def square_padding(width: int, height: int, padding_ratio: float = 0.1) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) padding that makes a width x height crop an exact square with a margin.

    As in the spec: m = max(w, h), base = int(ratio * m), pad = base + (m - side) // 2 on both sides;
    the pixel that an odd (m - side) leaves over goes to the right / bottom. The side is m + 2 * base.
    """
    longest = max(width, height)
    base = int(padding_ratio * longest)
    pad_x, pad_y = base + (longest - width) // 2, base + (longest - height) // 2
    return pad_x, pad_y, pad_x + (longest - width) % 2, pad_y + (longest - height) % 2


def preprocess_clip(
    clip: Clip, padding_ratio: float = 0.1, matting_fn: MattingFn | None = None, dtype: type = np.uint8,
    box: tuple[int, int, int, int] | None = None,
) -> SquareFrames:
    """Composite on white, crop to the union subject box, pad to a square; native resolution, no resize.

    matting_fn: used only when the clip has no alpha (see `with_subject_masks`).
    dtype:      np.uint8 (rounded) or np.float32 (0..1, no rounding).
    box:        (x0, y0, x1, y1) crop to use instead of the union box (an extension keeps its first run's
                framing; parts of the subject outside it are cut off).
    """
    if not (0.0 <= padding_ratio <= 1.0):
        raise InputError(f"padding_ratio must lie in [0, 1], got {padding_ratio}")
    if dtype not in (np.uint8, np.float32):
        raise InputError(f"dtype must be numpy.uint8 or numpy.float32, got {dtype}")
    clip = with_subject_masks(clip, matting_fn)
    x0, y0, x1, y1 = box = union_box(clip.alpha) if box is None else tuple(int(v) for v in box)
    left, top, right, bottom = padding = square_padding(x1 - x0, y1 - y0, padding_ratio)
    side = left + (x1 - x0) + right
    scale = 255.0 if dtype == np.uint8 else 1.0
    images = np.full((len(clip), side, side, 3), scale, dtype=dtype)
    for t in range(len(clip)):  # one frame at a time: only the crop is ever held in float
        rgb = clip.frames[t, y0:y1, x0:x1].astype(np.float32) / 255.0
        alpha = clip.alpha[t, y0:y1, x0:x1, None].astype(np.float32) / 255.0
        composite = rgb * alpha + (1.0 - alpha)
        images[t, top : top + y1 - y0, left : left + x1 - x0] = np.round(composite * 255.0) if scale > 1 else composite
    return SquareFrames(images, box, padding)
