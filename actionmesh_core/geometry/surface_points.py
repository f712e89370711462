"""Surface samples, farthest point sampling and vertex normals (plain numpy / torch, no pytorch3d)."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from ..errors import MeshError


def sample_surface(
    vertices: np.ndarray, faces: np.ndarray, n: int, seed: int | np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted uniform samples of a triangle mesh, deterministic for a seed (or generator).

    vertices: (V, 3), faces: (F, 3) -> points (n, 3) float32 and their faces' unit normals
    (n, 3) float32.
    """
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    if not mesh.area > 0:
        raise MeshError("the mesh has zero surface area: there is nothing to sample")
    points, face_index = trimesh.sample.sample_surface(mesh, n, seed=np.random.default_rng(seed))
    return points.astype(np.float32), mesh.face_normals[face_index].astype(np.float32)


def farthest_point_sampling(points: torch.Tensor, k: int, start_index: int = 0) -> torch.Tensor:
    """Greedy farthest point sampling, deterministic (ties go to the lowest index).

    points: (N, 3) -> indices (k,) int64 on points' device; indices[0] = start_index.
    """
    if not 0 < k <= len(points):
        raise ValueError(f"cannot pick {k} of {len(points)} points")
    coords = points.T.contiguous()  # (3, N): sums over 3 rows are much faster than over 3 columns
    indices = torch.empty(k, dtype=torch.int64, device=points.device)
    indices[0] = start_index
    nearest = torch.full((len(points),), float("inf"), dtype=points.dtype, device=points.device)
    for i in range(1, k):
        nearest = torch.minimum(nearest, (coords - coords[:, indices[i - 1], None]).square().sum(0))
        indices[i] = nearest.argmax()
    return indices


def encoder_point_cloud(
    vertices: np.ndarray,
    faces: np.ndarray,
    seed: int,
    num_points: int = 16_384,
    num_candidates: int = 8_192,
    num_queries: int = 2_048,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The TripoSG encoder input: surface samples and the query subset picked from them.

    Samples `num_points` points with face normals, picks `num_candidates` of them at random
    (seeded), then keeps `num_queries` by farthest point sampling from the first candidate.
    Upstream draws the candidates and the FPS start without a seed (weak point 10); here the
    whole result depends only on `seed`.

    vertices: (V, 3), faces: (F, 3) -> surface (num_points, 6) float32 [xyz, normal] and
    queries (num_queries, 6) float32, both CPU tensors.
    """
    rng = np.random.default_rng(seed)
    points, normals = sample_surface(vertices, faces, num_points, rng)
    surface = torch.from_numpy(np.concatenate([points, normals], axis=1))
    candidates = rng.choice(num_points, num_candidates, replace=False)
    candidates = surface[torch.from_numpy(candidates)]
    return surface, candidates[farthest_point_sampling(candidates[:, :3], num_queries)]
