"""Points fixed on the surface of an animation (the same material point in every frame), and the box that
normalises an animation for fitting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MeshError


@dataclass(frozen=True)
class SurfacePoints:
    """N points on a mesh: face (N,) int64 and barycentric coordinates bary (N, 3) float32 in that face."""

    face: np.ndarray
    bary: np.ndarray

    def positions(self, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """vertices (T, V, 3) or (V, 3) -> the points at every frame (T, N, 3) or (N, 3) float32."""
        corners = np.asarray(vertices, np.float32)[..., faces[self.face], :]  # (..., N, 3 corners, 3)
        return np.einsum("...nkc,nk->...nc", corners, self.bary).astype(np.float32)


def sample_surface_points(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int = 0) -> SurfacePoints:
    """`count` points spread uniformly over the area of the mesh (V, 3), deterministic for a seed."""
    corners = np.asarray(vertices, np.float64)[faces]
    areas = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    if not areas.sum() > 0:
        raise MeshError("the mesh has zero surface area: there is nothing to register to the video")
    rng = np.random.default_rng(seed)
    face = rng.choice(len(faces), size=count, p=areas / areas.sum())
    r1, r2 = np.sqrt(rng.random(count)), rng.random(count)  # uniform in the triangle
    bary = np.stack([1.0 - r1, r1 * (1.0 - r2), r1 * r2], axis=1).astype(np.float32)
    return SurfacePoints(face.astype(np.int64), bary)


def normalising_box(vertices: np.ndarray) -> tuple[np.ndarray, float]:
    """(centre (3,), half extent) of the bounding box of every frame (T, V, 3): x -> (x - centre) / half_extent
    puts the animation in [-1, 1]^3 whatever its units."""
    flat = np.asarray(vertices, np.float64).reshape(-1, 3)
    low, high = flat.min(axis=0), flat.max(axis=0)
    return (low + high) / 2.0, max(float((high - low).max()) / 2.0, 1e-12)
