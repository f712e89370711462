"""Image sequences: a folder of frames, a folder of `xxx_image.png` + `xxx_mask.png` pairs, or a glob pattern;
and mask images given apart from the frames (a folder or glob).

Files are taken in natural order (frame_2 before frame_10) and only the selected ones are opened.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..base.log import log
from ..errors import InputError
from .clip import DEFAULT_FPS, Clip, FrameSelection, collect, collect_masks
from .pixels import match_mask, to_uint8


IMAGE_GROUPS = ((".png",), (".jpg", ".jpeg"), (".webp",))
"""Frame formats in order of preference: a folder with several formats uses the first one present."""
IMAGE_SUFFIXES = tuple(suffix for group in IMAGE_GROUPS for suffix in group)


def natural_key(path: Path) -> list[int | str]:
    """Sort key that orders embedded numbers by value: frame_2.png < frame_10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_images(files: list[Path], where: str) -> tuple[list[Path], list[Path] | None]:
    """Split candidate files into frames and, when there are `*_mask` files, their paired masks.

    Pairs match by name: `xxx_image.png` (or `xxx.png`) goes with `xxx_mask.png`. Without masks, only the
    first format of IMAGE_GROUPS that is present is used. Hidden files (".xxx") are ignored. Both lists are
    in natural order.
    """
    files = [path for path in files if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")]
    files = sorted(files, key=natural_key)
    masks = [path for path in files if path.stem.endswith("_mask")]
    if masks:
        return _pair(files, masks, where), masks
    for group in IMAGE_GROUPS:
        chosen = [path for path in files if path.suffix.lower() in group]
        if chosen:
            if len(chosen) < len(files):
                log.warning(
                    "%s: using the %d %s files and ignoring %d others",
                    where,
                    len(chosen),
                    group[0],
                    len(files) - len(chosen),
                )
            return chosen, None
    raise InputError(f"{where}: no PNG, JPG or WebP images found. Give a folder of frames, a glob pattern or a video.")


def _pair(files: list[Path], masks: list[Path], where: str) -> list[Path]:
    """The image for each mask, in the masks' order."""
    images = {path.stem.removesuffix("_image"): path for path in files if not path.stem.endswith("_mask")}
    keys = [mask.stem.removesuffix("_mask") for mask in masks]
    missing = [mask.name for key, mask in zip(keys, masks, strict=True) if key not in images]
    unmasked = sorted(set(images) - set(keys))
    if missing or unmasked:
        problems = [f"no image for mask(s) {', '.join(missing[:3])}"] if missing else []
        problems += [f"no mask for image(s) {', '.join(images[k].name for k in unmasked[:3])}"] if unmasked else []
        raise InputError(
            f"{where}: {'; '.join(problems)}. Each frame needs a pair: xxx_image.png (or xxx.png) and xxx_mask.png."
        )
    return [images[key] for key in keys]


def files_of(source: str | Path) -> tuple[list[Path], str]:
    """Candidate files of a folder or glob pattern, and a short name for messages."""
    path = Path(source)
    if path.is_dir():
        return [child for child in path.iterdir() if child.is_file()], path.name or str(path)
    matches = [Path(match) for match in glob.glob(str(source)) if Path(match).is_file()]
    if not matches:
        raise InputError(f"no files match the pattern {source}")
    return matches, str(source)


def read_image(path: Path) -> np.ndarray:
    """One image file -> (H, W, 4) uint8 RGBA when it has transparency, else (H, W, 3) RGB; EXIF rotation applied."""
    with _opened(path) as image:
        transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        return np.array(ImageOps.exif_transpose(image).convert("RGBA" if transparent else "RGB"))


def read_mask(path: Path) -> np.ndarray:
    """One mask image -> (H, W) uint8, 255 = subject. 16-bit masks are scaled down to 8 bits."""
    with _opened(path) as image:
        values = np.asarray(image)
        if values.dtype == np.uint16:
            return to_uint8(values, f"mask {path.name}")
        return np.asarray(image.convert("L"))


def _opened(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"cannot read the image {path}: {exc}") from None
    return image


def read_image_files(
    images: list[Path],
    masks: list[Path] | None,
    selection: FrameSelection,
    where: str,
    max_side: int | None = None,
    fps: float | None = None,
) -> Clip:
    """Read the selected frames of an image sequence, with `masks[i]` as the alpha of `images[i]` when given."""

    def load(index: int, path: Path) -> np.ndarray:
        frame = read_image(path)
        if masks is None:
            return frame
        mask = match_mask(read_mask(masks[index]), (frame.shape[1], frame.shape[0]), masks[index].name)
        return np.dstack([frame[..., :3], mask])

    return collect(
        selection,
        images,
        load,
        source_fps=fps or DEFAULT_FPS,
        where=where,
        max_side=max_side,
        num_frames=len(images),
        keep_alpha=masks is not None,
    )


def read_image_sequence(source: str | Path, selection: FrameSelection, max_side: int | None = None,
                        fps: float | None = None) -> Clip:
    """The selected frames of a folder or glob pattern of images (with their `_mask` pairs when there are any)."""
    files, where = files_of(source)
    images, masks = list_images(files, where)
    return read_image_files(images, masks, selection, where, max_side, fps)


def read_mask_files(source: str | Path, clip: Clip, invert: bool = False) -> np.ndarray:
    """(T, H, W) uint8 masks for the clip's frames from a folder or glob of mask images, one per source frame
    in natural order."""
    files, where = files_of(source)
    items = sorted((path for path in files if path.suffix.lower() in IMAGE_SUFFIXES), key=natural_key)
    return collect_masks(clip, items, read_mask, where=where, invert=invert)
