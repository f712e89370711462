"""Articulated objects: a tree of parts whose joints bend, swing and stretch over a clip.

Every part has a bone frame (rotation + translation in the world) and a stretch of its local Y axis;
its primitive lives in the bone frame. A pose is the stack of these transforms for every frame:

    world = R @ (scale * local) + t        (row-vector code: (local * scale) @ R.T + t)

The object is the union of its parts: the field is the max of the parts' fields (positive inside).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .primitives import KINDS, Primitive, primitive_sdf


@dataclass(frozen=True)
class Wave:
    """A periodic value over the clip: amplitude * sin(2 pi (cycles * u + phase)) for u in [0, 1]."""

    amplitude: float = 0.0
    cycles: float = 1.0
    phase: float = 0.0

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return self.amplitude * np.sin(2.0 * np.pi * (self.cycles * u + self.phase))


@dataclass(frozen=True)
class Part:
    """One rigid (or stretching) piece of an object.

    primitive: its shape in the bone frame.
    parent:    index of the parent part, -1 for the root (parents come before children).
    attach:    (3,) joint position in the parent's bone frame, before the parent's stretch
               (for the root: its position in the world).
    rest:      (3, 3) rest rotation of the bone frame relative to the parent's.
    axis:      (3,) unit joint axis in the part's rest frame; `swing` gives the angle in radians.
    stretch:   relative change of length along the local Y axis (0: rigid).
    color:     (3,) uint8 albedo used in renders.
    """

    primitive: Primitive
    parent: int
    attach: tuple[float, float, float]
    rest: np.ndarray
    axis: tuple[float, float, float]
    swing: Wave
    stretch: Wave
    color: tuple[int, int, int]


@dataclass
class Pose:
    """Bone frames of every part at every frame: rotations (T, P, 3, 3), translations (T, P, 3),
    scales (T, P, 3) (the stretch, times the normalisation scale)."""

    rotations: np.ndarray
    translations: np.ndarray
    scales: np.ndarray

    def normalized(self, center: np.ndarray, factor: float) -> Pose:
        """The pose after world -> factor * (world - center)."""
        return Pose(self.rotations, factor * (self.translations - center), factor * self.scales)

    def to_world(self, local: np.ndarray, part: np.ndarray, frame: int) -> np.ndarray:
        """local: (M, 3) points in their parts' bone frames, part: (M,) -> (M, 3) world positions."""
        rotation, scale = self.rotations[frame, part], self.scales[frame, part]
        return np.einsum("mij,mj->mi", rotation, local * scale) + self.translations[frame, part]

    def normals_to_world(self, normals: np.ndarray, part: np.ndarray, frame: int) -> np.ndarray:
        """Local unit normals (M, 3) -> world unit normals (inverse transpose of the linear part)."""
        world = np.einsum("mij,mj->mi", self.rotations[frame, part], normals / self.scales[frame, part])
        return world / np.linalg.norm(world, axis=1, keepdims=True)


def axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """(3, 3) rotation by `angle` radians about the unit `axis` (Rodrigues)."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + math.sin(angle) * k + (1.0 - math.cos(angle)) * (k @ k)


@dataclass
class Rig:
    """An articulated object: parts (parents first) and a vertical bob of the root over the clip."""

    parts: list[Part]
    bob: Wave = Wave()

    def pose(self, u: np.ndarray) -> Pose:
        """u: (T,) clip times in [0, 1] -> the pose at each time."""
        frames, count = len(u), len(self.parts)
        rotations = np.zeros((frames, count, 3, 3))
        translations = np.zeros((frames, count, 3))
        scales = np.ones((frames, count, 3))
        for p, part in enumerate(self.parts):
            angles, stretch = part.swing(u), part.stretch(u)
            scales[:, p, 1] = 1.0 + stretch
            for k in range(frames):
                joint = part.rest @ axis_angle(np.asarray(part.axis), angles[k])
                if part.parent < 0:
                    rotations[k, p] = joint
                    translations[k, p] = np.asarray(part.attach) + [0.0, self.bob(u[k]), 0.0]
                else:
                    q = part.parent
                    rotations[k, p] = rotations[k, q] @ joint
                    translations[k, p] = rotations[k, q] @ (np.asarray(part.attach) * scales[k, q]) + translations[k, q]
        return Pose(rotations, translations, scales)

    def shapes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The parts' primitives as arrays: kind (P,) int64 index into KINDS, center (P, 3), size (P, 3)."""
        kind = np.array([KINDS.index(part.primitive.kind) for part in self.parts])
        center = np.array([part.primitive.center for part in self.parts], dtype=np.float64)
        size = np.array([part.primitive.size for part in self.parts], dtype=np.float64)
        return kind, center, size

    def sdf(self, pose: Pose, frame: int, points: np.ndarray, skip: int | None = None) -> np.ndarray:
        """points: (M, 3) world -> (M,) union field at `frame`, positive inside (`skip`: leave one part out)."""
        valid = np.ones(len(self.parts), bool)
        if skip is not None:
            valid[skip] = False
        return union_field(*self.shapes(), pose.rotations[frame], pose.translations[frame], pose.scales[frame],
                           points, valid)

    def blend_weights(self, pose: Pose, frame: int, points: np.ndarray, softness: float) -> np.ndarray:
        """points: (M, 3) world at `frame` -> (M, P) weights of the parts (rows sum to 1): a softmax of the parts'
        own fields over `softness` (world units), so a point follows the part it lies on, and points where
        parts meet blend them smoothly. Weights below 1e-4 are dropped."""
        fields = part_fields(*self.shapes(), pose.rotations[frame], pose.translations[frame], pose.scales[frame],
                             np.asarray(points, np.float64)).T  # (M, P)
        weights = np.exp((fields - fields.max(axis=1, keepdims=True)) / softness)
        weights /= weights.sum(axis=1, keepdims=True)
        weights[weights < 1e-4] = 0.0
        return weights / weights.sum(axis=1, keepdims=True)

    def deform(self, pose: Pose, frame: int, points: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Carry points (M, 3), world at `frame`, through the clip: each part moves (and stretches) the point
        as if fixed in its bone frame, and the results are blended with `weights` (M, P).
        Returns (T, M, 3) float64 world positions at every frame of `pose`."""
        points = np.asarray(points, np.float64)
        moved = np.zeros((len(pose.rotations), len(points), 3))
        for p in np.flatnonzero(weights.any(axis=0)):
            rotation, scale, origin = pose.rotations[frame, p], pose.scales[frame, p], pose.translations[frame, p]
            local = (points - origin) @ rotation / scale  # the inverse of `Pose.to_world`
            world = np.einsum("tij,tmj->tmi", pose.rotations[:, p], local[None] * pose.scales[:, p, None, :])
            moved += weights[:, p, None] * (world + pose.translations[:, p, None, :])
        return moved

    def meshes(self, pose: Pose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All parts' meshes at every frame (they overlap; fine for pictures, not a watertight union).

        Returns vertices (T, V, 3) float32, faces (F, 3) int64 and vertex colours (V, 3) uint8."""
        pieces = [part.primitive.mesh() for part in self.parts]
        counts = np.cumsum([0] + [len(v) for v, _ in pieces])
        part_of_vertex = np.repeat(np.arange(len(pieces)), np.diff(counts))
        local = np.concatenate([v for v, _ in pieces])
        faces = np.concatenate([f + counts[i] for i, (_, f) in enumerate(pieces)])
        frames = np.stack([pose.to_world(local, part_of_vertex, k) for k in range(len(pose.rotations))])
        colors = np.asarray([self.parts[p].color for p in part_of_vertex], dtype=np.uint8)
        return frames.astype(np.float32), faces, colors


def union_field(kind: np.ndarray, center: np.ndarray, size: np.ndarray, rotations: np.ndarray,
                translations: np.ndarray, scales: np.ndarray, points: np.ndarray,
                valid: np.ndarray | None = None) -> np.ndarray:
    """The field of a union of posed primitives, positive inside, over any leading batch axes (...).

    kind (..., P), center, size (..., P, 3): the primitives; rotations (..., P, 3, 3), translations,
    scales (..., P, 3): their bone frames; points (..., M, 3) world; valid (..., P) bool: parts to use
    (default all). Returns (..., M); -inf where no part is valid.
    """
    field = part_fields(kind, center, size, rotations, translations, scales, points)
    if valid is not None:
        field = np.where(valid[..., None], field, -np.inf)
    return field.max(axis=-2)


def part_fields(kind: np.ndarray, center: np.ndarray, size: np.ndarray, rotations: np.ndarray,
                translations: np.ndarray, scales: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The field of every posed primitive on its own, positive inside: arguments as `union_field`;
    returns (..., P, M)."""
    offsets = points[..., None, :, :] - translations[..., :, None, :]  # (..., P, M, 3)
    local = np.einsum("...pji,...pmj->...pmi", rotations, offsets) / scales[..., :, None, :]
    field = primitive_sdf(kind[..., None], center[..., None, :], size[..., None, :], local)
    return field * scales.min(axis=-1)[..., None]
