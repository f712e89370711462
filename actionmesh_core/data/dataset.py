"""Synthetic clips rendered once and stored as arrays on disk, for training.

    build_dataset("data/train", "train", 1200)       # seeds 0..1199, two worker processes
    data = SyntheticDataset("data/train")
    data.images[c, t]        # (224, 224, 3) uint8: frame t of clip c exactly as the pipeline feeds DINOv2
    data.points[c, t]        # (P, 6) float16 tracked surface samples [xyz, normal], model frame
    data.sdf(clips, frames, xyz)                      # exact fields, positive inside

Folder layout (every array a .npy file, memory-mapped when read): meta.json, images, points, kind, center,
size (the parts' primitives, padded to MAX_PARTS with kind -1), rotations, translations, scales (their
bone frames at every frame).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..base.atomic import atomic_dir
from ..pipeline.framing import preprocess_clip
from ..inputs.load import load_clip
from ..models.dinov2 import CROP_SIZE, resize_and_crop
from .clips import FRAMES, category_of, make_clip, split_seeds
from .rig import union_field

MAX_PARTS = 12
ARRAYS = {  # name: (shape after the clip axis, dtype); P = points, F = frames
    "images": (("F", CROP_SIZE, CROP_SIZE, 3), np.uint8),
    "points": (("F", "P", 6), np.float16),
    "kind": ((MAX_PARTS,), np.int8),
    "center": ((MAX_PARTS, 3), np.float32),
    "size": ((MAX_PARTS, 3), np.float32),
    "rotations": (("F", MAX_PARTS, 3, 3), np.float32),
    "translations": (("F", MAX_PARTS, 3), np.float32),
    "scales": (("F", MAX_PARTS, 3), np.float32),
}


def model_images(frames: np.ndarray) -> np.ndarray:
    """RGBA frames (T, H, W, 4) uint8 -> (T, 224, 224, 3) uint8: the pipeline's union-box square on white,
    then DINOv2's resize and centre crop (`normalize_pixels` finishes the preprocessing)."""
    return np.stack([resize_and_crop(square) for square in preprocess_clip(load_clip(frames)).images])


def clip_record(seed: int, points: int) -> dict[str, np.ndarray]:
    """Everything stored for one clip (see ARRAYS), computed from its seed."""
    clip = make_clip(seed)
    count = len(clip.rig.parts)
    if count > MAX_PARTS:
        raise ValueError(f"clip {seed} has {count} parts; MAX_PARTS is {MAX_PARTS}")
    kind, center, size = clip.rig.shapes()
    record = {"images": model_images(clip.render()), "points": clip.points(clip.surface(points, seed=seed))}
    padded = {"kind": np.full(MAX_PARTS, -1), "center": np.zeros((MAX_PARTS, 3)), "size": np.ones((MAX_PARTS, 3)),
              "rotations": np.tile(np.eye(3), (FRAMES, MAX_PARTS, 1, 1)),
              "translations": np.zeros((FRAMES, MAX_PARTS, 3)), "scales": np.ones((FRAMES, MAX_PARTS, 3))}
    padded["kind"][:count], padded["center"][:count], padded["size"][:count] = kind, center, size
    for name in ("rotations", "translations", "scales"):
        padded[name][:, :count] = getattr(clip.pose, name)
    record.update(padded)
    return record


def _write_clips(folder: str, indices: list[int], seeds: list[int], points: int) -> int:
    arrays = {name: np.load(Path(folder) / f"{name}.npy", mmap_mode="r+") for name in ARRAYS}
    for index, seed in zip(indices, seeds):
        for name, value in clip_record(seed, points).items():
            arrays[name][index] = value
    for array in arrays.values():
        array.flush()
    return len(indices)


def build_dataset(folder: str | os.PathLike, split: str, count: int, *, start: int = 0, points: int = 2048,
                  workers: int = 2, chunk: int = 8, progress: bool = True) -> Path:
    """Render `count` clips of a split (seeds from `split_seeds(split, count, start)`) into `folder`,
    atomically (the folder appears only when complete), in `workers` processes (1: in this one).
    Returns the folder."""
    from tqdm import tqdm

    if count < 1:
        raise InputError(f"a dataset needs at least one clip, got count={count}")
    seeds = split_seeds(split, count, start)
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        sizes = {"F": FRAMES, "P": points}
        for name, (shape, dtype) in ARRAYS.items():
            full = (count, *(sizes.get(s, s) for s in shape))
            np.lib.format.open_memmap(tmp / f"{name}.npy", mode="w+", dtype=dtype, shape=full).flush()
        jobs = [(list(range(i, min(i + chunk, count))), seeds[i:i + chunk]) for i in range(0, count, chunk)]
        bar = tqdm(total=count, desc=f"rendering {split} clips", disable=not progress)
        if workers <= 1:
            for indices, chunk_seeds in jobs:
                bar.update(_write_clips(str(tmp), indices, chunk_seeds, points))
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                for done in pool.map(_write_clips, *zip(*[(str(tmp), i, s, points) for i, s in jobs])):
                    bar.update(done)
        bar.close()
        categories = [category_of(seed) for seed in seeds]
        meta = {"split": split, "seeds": seeds, "categories": categories, "frames": FRAMES, "points": points}
        (tmp / "meta.json").write_text(json.dumps(meta))
    return folder


class SyntheticDataset:
    """A folder written by `build_dataset`, memory-mapped."""

    def __init__(self, folder: str | os.PathLike):
        folder = Path(folder)
        if not (folder / "meta.json").is_file():
            raise InputError(f"{folder} is not a synthetic dataset (no meta.json); create it with "
                             "`actionmesh train data --split train --count N --out FOLDER`")
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text())
        for name in ARRAYS:
            setattr(self, name, np.load(folder / f"{name}.npy", mmap_mode="r"))

    def __len__(self) -> int:
        return len(self.meta["seeds"])

    @property
    def num_frames(self) -> int:
        return int(self.meta["frames"])

    def sdf(self, clips: np.ndarray, frames: np.ndarray, xyz: np.ndarray) -> np.ndarray:
        """clips, frames: (B,) int; xyz: (B, M, 3) -> (B, M) float32 exact fields, positive inside."""
        kind = np.asarray(self.kind[clips], dtype=np.int64)
        return union_field(np.maximum(kind, 0), self.center[clips].astype(np.float64),
                           self.size[clips].astype(np.float64), self.rotations[clips, frames].astype(np.float64),
                           self.translations[clips, frames].astype(np.float64),
                           self.scales[clips, frames].astype(np.float64), np.asarray(xyz, np.float64),
                           valid=kind >= 0).astype(np.float32)
