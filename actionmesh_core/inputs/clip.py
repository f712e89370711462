"""`Clip`: the frames the pipeline works on; `FrameSelection`: which source frames become a clip; `collect` and
`collect_masks`: the selected frames (and masks) of a source, one item per source frame, as a Clip."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..base.log import log
from ..base.option_names import PYTHON_NAMES, OptionNames
from ..errors import InputError
from .pixels import fit, match_mask

T = TypeVar("T")

DEFAULT_FPS = 8.0
"""Frame rate assumed for image sequences and in-memory frames (the official export rate)."""

MIN_FRAMES = 2


@dataclass
class Clip:
    """Video frames with an optional subject mask.

    frames:        (T, H, W, 3) uint8 RGB.
    alpha:         (T, H, W) uint8 subject mask (255 = subject) or None when the source had none.
    fps:           frame rate of the selected frames (source_fps / stride, or target_fps).
    frame_indices: (T,) int64 index of each frame in the source, strictly increasing.
    source_fps:    frame rate of the source, the unit of `frame_indices`.
    source:        a short name for messages: the file or folder name, or "frames" for in-memory frames.
    """

    frames: np.ndarray
    alpha: np.ndarray | None
    fps: float
    frame_indices: np.ndarray
    source_fps: float
    source: str = "frames"

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames)
        self.frame_indices = np.asarray(self.frame_indices, dtype=np.int64)
        if self.frames.dtype != np.uint8 or self.frames.ndim != 4 or self.frames.shape[-1] != 3:
            raise InputError(f"clip frames must be (T, H, W, 3) uint8, got {self.frames.shape} {self.frames.dtype}")
        if len(self.frames) == 0:
            raise InputError(f"{self.source}: the clip has no frames")
        if self.alpha is not None:
            self.alpha = np.asarray(self.alpha)
            if self.alpha.dtype != np.uint8 or self.alpha.shape != self.frames.shape[:3]:
                raise InputError(
                    f"clip alpha must be {self.frames.shape[:3]} uint8, got {self.alpha.shape} {self.alpha.dtype}"
                )
        if self.frame_indices.shape != (len(self.frames),):
            raise InputError(f"frame_indices must have shape ({len(self.frames)},), got {self.frame_indices.shape}")
        if len(self.frame_indices) > 1 and not (np.diff(self.frame_indices) > 0).all():
            raise InputError("frame_indices must increase strictly")
        for name in ("fps", "source_fps"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise InputError(f"{name} must be a positive number, got {value}")

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: slice) -> Clip:
        """A sub-clip for a slice of frame positions, e.g. `clip[4:20]` or `clip[::2]`."""
        if not isinstance(index, slice):
            raise TypeError("a Clip can be sliced (clip[a:b:step]); use clip.frames[i] for one frame")
        step = index.step or 1
        if step < 1:
            raise ValueError("a Clip slice step must be positive")
        return Clip(
            frames=self.frames[index],
            alpha=None if self.alpha is None else self.alpha[index],
            fps=self.fps / step,
            frame_indices=self.frame_indices[index],
            source_fps=self.source_fps,
            source=self.source,
        )

    @property
    def rgba(self) -> np.ndarray:
        """(T, H, W, 4) uint8 frames with the subject mask as alpha (opaque when the clip has no mask)."""
        alpha = np.full(self.frames.shape[:3], 255, np.uint8) if self.alpha is None else self.alpha
        return np.concatenate([self.frames, alpha[..., None]], axis=-1)

    @property
    def times(self) -> np.ndarray:
        """(T,) float64 seconds of each frame in the source."""
        return self.frame_indices / self.source_fps

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.frames.shape[2], self.frames.shape[1]

    def with_alpha(self, alpha: np.ndarray | None) -> Clip:
        """The same clip with `alpha` (T, H, W) uint8 (or None) as its subject mask."""
        return Clip(self.frames, alpha, self.fps, self.frame_indices, self.source_fps, self.source)


@dataclass(frozen=True)
class FrameSelection:
    """Which source frames to keep.

    start:      index of the first frame considered.
    end:        index one past the last frame considered (None = to the end), like a Python slice.
    stride:     keep every `stride`-th frame from `start`.
    max_frames: keep at most this many (the first ones); a warning says how many were dropped.
    target_fps: resample to this rate by picking the nearest source frame to each target time
                (instead of `stride`); never above the source rate, so no frame is repeated.
    names:      how the user names these options (`--max-frames`, `frame_load_cap`...), for messages.
    """

    start: int = 0
    end: int | None = None
    stride: int = 1
    max_frames: int | None = None
    target_fps: float | None = None
    names: OptionNames = field(default=PYTHON_NAMES, compare=False)

    def __post_init__(self) -> None:
        name = self.names
        for option in ("start", "end", "stride", "max_frames"):
            value = getattr(self, option)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise InputError(f"{name(option)} must be a whole number, got {value!r}")
        if self.start < 0:
            raise InputError(f"{name('start')} must be 0 or more, got {self.start}")
        if self.end is not None and self.end <= self.start:
            raise InputError(f"{name('end')} ({self.end}) must be greater than {name('start')} ({self.start})")
        if self.stride < 1:
            raise InputError(f"{name('stride')} must be 1 or more, got {self.stride}")
        if self.max_frames is not None and self.max_frames < MIN_FRAMES:
            raise InputError(f"{name('max_frames')} must be at least {MIN_FRAMES}, got {self.max_frames}")
        if self.target_fps is not None:
            if not (self.target_fps > 0 and math.isfinite(self.target_fps)):
                raise InputError(f"{name('target_fps')} must be a positive number, got {self.target_fps}")
            if self.stride != 1:
                raise InputError(f"give either {name('stride')} or {name('target_fps')}, not both")

    def step(self, source_fps: float) -> float:
        """Distance in source frames between kept frames (>= 1, so no frame is ever repeated)."""
        if self.target_fps is None:
            return float(self.stride)
        return max(1.0, source_fps / self.target_fps)

    def candidates(self, source_fps: float) -> Iterator[int]:
        """Source indices to keep, in order, before `max_frames` applies (unbounded when `end` is None)."""
        step = self.step(source_fps)
        for k in itertools.count():
            index = self.start + math.floor(k * step + 0.5)
            if self.end is not None and index >= self.end:
                return
            yield index

    def select(
        self,
        items: Iterable[T],
        source_fps: float,
        source: str,
        num_frames: int | None = None,
        estimated: bool = False,
    ) -> Iterator[tuple[int, T]]:
        """Walk the source frames `items` in order and yield (source index, item) for each kept frame.

        items:      one item per source frame, produced lazily (file paths, raw frame buffers...); iteration
                    stops as soon as nothing more can be kept, so the rest is never produced.
        num_frames: the source length when known beforehand (`estimated`: only roughly, as for a video whose
                    decoding stops early); used to report how many frames `max_frames` dropped.
        Once exhausted, raises InputError if fewer than MIN_FRAMES were kept, and logs a warning if
        `max_frames` dropped any.
        """
        names = self.names
        if self.target_fps is not None and self.target_fps > source_fps:
            log.warning(
                "%s: %s=%g is above the source rate of %g fps: keeping every frame",
                source,
                names("target_fps"),
                self.target_fps,
                source_fps,
            )
        wanted = self.candidates(source_fps)
        next_index = next(wanted, None)
        kept = seen = 0
        exhausted = True
        for index, item in enumerate(items):
            seen = index + 1
            if next_index is None or kept == self.max_frames:
                exhausted = False
                break
            if index == next_index:
                yield index, item
                kept += 1
                next_index = next(wanted, None)
        total = seen if exhausted else max(seen, num_frames or 0)
        if kept < MIN_FRAMES:
            advice = names.advice(("lower", "start"), ("lower", "stride"), ("raise", "end"), ("raise", "target_fps"))
            chosen = names.values(start=self.start, end=self.end, stride=self.stride, target_fps=self.target_fps)
            raise InputError(
                f"{source}: {kept} frame(s) selected out of {total}" + (f" ({chosen})" if chosen else "") + "; "
                f"ActionMesh needs at least {MIN_FRAMES}. Give a longer video" + (f", or {advice}." if advice else ".")
            )
        dropped = sum(1 for _ in itertools.takewhile(lambda i: i < total, self.candidates(source_fps))) - kept
        if dropped > 0:
            parts = "/".join(names(option) for option in ("start", "end") if names.offers(option))
            log.warning(
                "%s: %s=%d kept the first %d selected frames and dropped %s%d later ones. To keep them, %s%s.",
                source,
                names("max_frames"),
                self.max_frames,
                kept,
                "about " if estimated and not exhausted else "",
                dropped,
                names.advice(("raise", "max_frames"), ("raise", "stride"), ("lower", "target_fps")),
                f", or choose another part with {parts}" if parts else "",
            )


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


def collect_masks(clip: Clip, items: Sequence[T], load: Callable[[T], np.ndarray], *, where: str,
                  invert: bool = False) -> np.ndarray:
    """(T, H, W) uint8 masks for the clip's selected frames, from `items` (one per source frame).

    load:   item -> (h, w) uint8 mask (255 = subject); called only for the clip's frames, resized to its size.
    invert: for masks where 255 means transparent, such as ComfyUI's MASK type.
    """
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
