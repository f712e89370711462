"""Synthetic 4D data: procedurally articulated objects (capsules, boxes, ellipsoids on bending, swinging,
stretching joints), their exact fields and watertight meshes per frame, tracked surface points, and RGBA
renders from a chosen camera; stored as memory-mapped datasets for training.

    clip = make_clip(seed)                              # seeds >= HELD_OUT_SEED are the held-out split
    build_dataset("data/train", "train", 1200)
"""

from .clips import FRAMES, HELD_OUT_SEED, Camera, SyntheticClip, TrackedSurface, make_clip, split_seeds
from .dataset import SyntheticDataset, build_dataset, model_images
from .layouts import CATEGORIES

__all__ = ["CATEGORIES", "FRAMES", "HELD_OUT_SEED", "Camera", "SyntheticClip", "SyntheticDataset", "TrackedSurface",
           "build_dataset", "make_clip", "model_images", "split_seeds"]
