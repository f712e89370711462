"""Animations with a known skinning answer (plain helpers for the skinning tests): a rigid motion (one bone)
and a two-part articulated shape built with the training data's rig generator (two bones)."""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from actionmesh_core.data.clips import Camera, SyntheticClip
from actionmesh_core.data.primitives import Primitive
from actionmesh_core.data.rig import Part, Rig, Wave

NUM_FRAMES = 10


def rigid_motion(num_frames: int = NUM_FRAMES) -> np.ndarray:
    """(T, V, 3) a box turning about a tilted axis and drifting: one rigid motion."""
    box = trimesh.creation.box((1.0, 0.6, 0.3))
    box = box.subdivide().subdivide()
    angles = np.linspace(0.0, 1.5, num_frames)
    rotations = Rotation.from_rotvec(angles[:, None] * np.array([0.3, 1.0, 0.2]) / np.linalg.norm([0.3, 1.0, 0.2]))
    moved = np.einsum("tij,vj->tvi", rotations.as_matrix(), box.vertices)
    return (moved + np.linspace(0.0, 1.0, num_frames)[:, None, None] * [0.5, 0.2, -0.3]).astype(np.float32)


def two_part_clip(num_frames: int = NUM_FRAMES) -> SyntheticClip:
    """A box body with one capsule arm on a hinge, built with the training data's rig generator."""
    body = Part(Primitive("box", (0.0, 0.0, 0.0), (0.5, 0.2, 0.25)), -1, (0.0, 0.0, 0.0), np.eye(3),
                (0.0, 1.0, 0.0), Wave(0.3, 1.0, 0.0), Wave(), (200, 90, 90))
    arm = Part(Primitive("capsule", (0.0, 0.35, 0.0), (0.1, 0.25, 0.1)), 0, (0.35, 0.15, 0.0), np.eye(3),
               (0.0, 0.0, 1.0), Wave(0.9, 1.0, 0.0), Wave(), (90, 90, 200))
    rig = Rig([body, arm], bob=Wave(0.05, 1.0, 0.25))
    return SyntheticClip(0, "two-part", rig, rig.pose(np.linspace(0.0, 1.0, num_frames)), Camera(0.0, 0.0))
