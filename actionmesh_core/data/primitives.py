"""The shapes articulated objects are built from: capsules, boxes and ellipsoids.

Each primitive lives in its part's bone frame (capsules run along the local Y axis). It gives a signed
field that is positive INSIDE (the pipeline's convention), a triangle mesh for rendering, and the
projection of nearby points onto its exact surface with outward normals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

KINDS = ("capsule", "box", "ellipsoid")
Y_FROM_Z = trimesh.transformations.rotation_matrix(-np.pi / 2, (1, 0, 0))  # maps +Z onto +Y


@dataclass(frozen=True)
class Primitive:
    """kind: one of KINDS; center: (3,) in the bone frame; size: (3,) half extents (box), radii
    (ellipsoid), or (radius, half length of the axis segment, radius) (capsule along Y)."""

    kind: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]

    def sdf(self, points: np.ndarray) -> np.ndarray:
        """points: (M, 3) in the bone frame -> (M,) signed distance, positive inside (see `primitive_sdf`)."""
        return primitive_sdf(np.int64(KINDS.index(self.kind)), np.asarray(self.center), np.asarray(self.size),
                             points)

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """A closed triangle mesh of the surface: vertices (V, 3) float64, faces (F, 3) int64."""
        size = np.asarray(self.size)
        if self.kind == "capsule":
            mesh = trimesh.creation.capsule(height=2.0 * size[1], radius=size[0], count=(16, 16))
            mesh.apply_transform(Y_FROM_Z)
        elif self.kind == "box":
            mesh = trimesh.creation.box(extents=2.0 * size)
        else:
            mesh = trimesh.creation.icosphere(subdivisions=3)
            mesh.apply_scale(size)
        return np.asarray(mesh.vertices) + np.asarray(self.center), np.asarray(mesh.faces, dtype=np.int64)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """points: (M, 3) near the surface -> their projections onto it (M, 3) and outward unit normals (M, 3)."""
        p = points - np.asarray(self.center)
        size = np.asarray(self.size)
        if self.kind == "capsule":
            axis = np.zeros_like(p)
            axis[:, 1] = np.clip(p[:, 1], -size[1], size[1])
            normals = _unit(p - axis)
            return axis + size[0] * normals + np.asarray(self.center), normals
        if self.kind == "box":
            q = np.abs(p) / size
            face_axis = q.argmax(axis=1)
            normals = np.zeros_like(p)
            normals[np.arange(len(p)), face_axis] = np.sign(p[np.arange(len(p)), face_axis])
            projected = np.clip(p, -size, size)
            projected[np.arange(len(p)), face_axis] = (normals * size)[np.arange(len(p)), face_axis]
            return projected + np.asarray(self.center), normals
        on_surface = p / np.linalg.norm(p / size, axis=1, keepdims=True)
        return on_surface + np.asarray(self.center), _unit(on_surface / size**2)


def primitive_sdf(kind: np.ndarray, center: np.ndarray, size: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Signed distance to primitives, positive inside, broadcasting over leading axes.

    kind: (...) index into KINDS; center, size: (..., 3); points: (..., 3) in the bone frames -> (...).
    Exact for capsules and boxes; for ellipsoids the zero level is exact and the magnitude a bound.
    """
    p = points - center
    capsule_axis = np.clip(p[..., 1], -size[..., 1], size[..., 1])
    capsule = size[..., 0] - np.sqrt(p[..., 0] ** 2 + (p[..., 1] - capsule_axis) ** 2 + p[..., 2] ** 2)
    q = np.abs(p) - size
    box = -(np.linalg.norm(np.maximum(q, 0.0), axis=-1) + np.minimum(q.max(axis=-1), 0.0))
    ellipsoid = (1.0 - np.linalg.norm(p / size, axis=-1)) * size.min(axis=-1)
    return np.choose(kind, [capsule, box, ellipsoid])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
