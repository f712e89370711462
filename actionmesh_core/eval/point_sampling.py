"""Point sets the ActionBench metrics compare (spec §10.2): area-weighted surface samples per frame,
synchronised samples that follow one topology through time, and seeded subsets."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from ..errors import MeshError


def sample_frames(frames: list[tuple[np.ndarray, np.ndarray]], n: int, seed: int) -> np.ndarray:
    """Independent area-weighted samples of each frame, frame k drawn with seed + k.

    frames: T pairs of vertices (V_k, 3) and faces (F_k, 3) -> (T, n, 3) float32.
    """
    points = []
    for k, (vertices, faces) in enumerate(frames):
        mesh = trimesh.Trimesh(vertices, faces, process=False)
        if not mesh.area > 0:
            raise MeshError(f"predicted frame {k} has zero surface area: there is nothing to sample")
        points.append(trimesh.sample.sample_surface(mesh, n, seed=seed + k)[0])
    return np.stack(points).astype(np.float32)


def sample_synchronised(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The same surface points in every frame: faces drawn on frame 0 in proportion to their area
    (with replacement) and barycentric weights w0 = 1 - sqrt(u), w1 = sqrt(u)(1 - v), w2 = sqrt(u) v
    with u, v ~ U(0, 1), all from a torch generator seeded with `seed`.

    vertices: (T, V, 3), faces: (F, 3) -> points (T, n, 3) float32 and their faces (n,) int64.
    """
    vertices = torch.as_tensor(np.asarray(vertices, dtype=np.float32))
    corners = vertices[:, torch.as_tensor(faces, dtype=torch.int64)]  # (T, F, 3 corners, 3)
    areas = torch.linalg.cross(corners[0, :, 1] - corners[0, :, 0], corners[0, :, 2] - corners[0, :, 0]).norm(dim=-1)
    if not areas.sum() > 0:
        raise MeshError("frame 0 has zero surface area: there is nothing to sample")
    generator = torch.Generator().manual_seed(seed)
    face_index = torch.multinomial(areas, n, replacement=True, generator=generator)
    u, v = torch.rand(2, n, generator=generator)
    root = u.sqrt()
    weights = torch.stack([1 - root, root * (1 - v), root * v], dim=-1)  # (n, 3)
    points = (weights[None, :, :, None] * corners[:, face_index]).sum(dim=2)
    return points.numpy(), face_index.numpy()


def subset_indices(total: int, n: int, seed: int) -> np.ndarray:
    """The first n of a numpy RandomState(seed) permutation of range(total) (all of them if total <= n)."""
    return np.random.RandomState(seed).permutation(total)[:n]
