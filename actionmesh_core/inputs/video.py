"""Decode video files into a `Clip`, streaming through imageio-ffmpeg (any format its ffmpeg reads:
mp4, mov, webm, mkv, gif, avi...).

Frames arrive one at a time as raw RGB bytes (RGBA for sources with alpha); only the selected ones are
converted (and shrunk when `max_side` is set) before the next is read, and decoding stops once the
selection is complete. Frame indices count decoded frames (ffmpeg `-fps_mode passthrough`: no frame is
dropped or repeated), and times assume the constant rate the container reports.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import numpy as np

from ..base.log import log
from ..errors import InputError
from .clip import DEFAULT_FPS, Clip, FrameSelection, collect


ALPHA_DECODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}
"""ffmpeg's built-in VP8/VP9 decoders drop the alpha plane of transparent WebM files; libvpx keeps it."""

CHANNELS = {"rgb24": 3, "rgba": 4}
"""The raw formats read from ffmpeg: RGB, or RGBA for sources that carry alpha."""

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".gif", ".avi", ".m4v")
"""Files taken as videos where a folder is listed (`actionmesh batch`); any file ffmpeg reads works as an input."""

_HINT = (
    "Give a video file (mp4, mov, webm, mkv, gif, avi), a folder of frames or a glob pattern such as 'frames/*.png'."
)


def read_video(path: Path, selection: FrameSelection, max_side: int | None = None, fps: float | None = None) -> Clip:
    """Decode the selected frames of the video at `path`.

    fps: overrides the frame rate read from the file (also used when the file reports none).
    GIFs and videos with an alpha channel (e.g. VP9 WebM with yuva420p) keep it as the clip's alpha.
    """
    frame_limit = selection.end  # ffmpeg stops decoding there by itself
    params, pix_fmt = [], "rgb24"
    meta, reader = _open(path, params, pix_fmt, frame_limit)
    while True:  # at most 3 starts: VP8/VP9 first learn their alpha from libvpx, then read it
        decoder = ALPHA_DECODERS.get(meta["codec"].rstrip(","))
        wanted = (["-c:v", decoder] if decoder else [], "rgba" if _has_alpha(meta["pix_fmt"]) else "rgb24")
        if wanted == (params, pix_fmt):
            break
        reader.close()
        params, pix_fmt = wanted
        meta, reader = _open(path, params, pix_fmt, frame_limit)
    if fps is None:
        fps = meta["fps"]
        if not fps > 0:
            override = selection.names("fps")
            log.warning("%s: the file gives no frame rate; assuming %g fps%s", path.name, DEFAULT_FPS,
                        f" (set {override} to override)" if override else "")
            fps = DEFAULT_FPS
    width, height = meta["size"]
    with contextlib.closing(reader):
        return collect(
            selection,
            _checked(reader, path),
            lambda index, buffer: np.frombuffer(buffer, np.uint8).reshape(height, width, CHANNELS[pix_fmt]),
            source_fps=fps,
            where=path.name,
            max_side=max_side,
            num_frames=round(meta["duration"] * fps),
            estimated=True,
        )


def _has_alpha(pix_fmt: str) -> bool:
    """Whether an ffmpeg pixel format such as "yuva420p(tv, progressive)", "bgra" or "pal8" carries alpha."""
    return re.match(r"(yuva|gbrap|ya\d|rgba|bgra|argb|abgr|pal8)", pix_fmt) is not None


def _open(
    path: Path, input_params: list[str], pix_fmt: str, frame_limit: int | None
) -> tuple[dict, Generator[bytes, None, None]]:
    """Start ffmpeg on `path`: its metadata and the imageio-ffmpeg generator of raw frames in `pix_fmt`."""
    import imageio_ffmpeg  # here, so the core imports on machines that only evaluate or benchmark

    output_params = ["-fps_mode", "passthrough"] + (["-frames:v", str(frame_limit)] if frame_limit else [])
    reader = imageio_ffmpeg.read_frames(
        str(path),
        pix_fmt=pix_fmt,
        bits_per_pixel=8 * CHANNELS[pix_fmt],
        input_params=input_params,
        output_params=output_params,
    )
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as exc:
        if "does not contain any stream" in str(exc):  # e.g. an audio file
            raise InputError(f"{path.name} has no video stream. {_HINT}") from None
        raise InputError(
            f"cannot read {path.name} as a video (ffmpeg: {_last_line(exc)}): it is damaged or not a video. {_HINT}"
        ) from None
    except (IndexError, ValueError):  # a header imageio-ffmpeg cannot parse
        raise InputError(f"{path.name} has no readable video stream. {_HINT}") from None
    return meta, reader


def _checked(reader: Iterator[bytes], path: Path) -> Iterator[bytes]:
    """The raw frames of `reader`, with a decoding failure turned into an InputError."""
    try:
        yield from reader
    except RuntimeError as exc:
        raise InputError(
            f"{path.name}: decoding failed part-way ({_last_line(exc)}); the file may be damaged"
        ) from None


def _last_line(exc: BaseException) -> str:
    """The last non-empty line of an ffmpeg error message (ffmpeg's own complaint)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not line.startswith("===")]
    return lines[-1] if lines else type(exc).__name__
