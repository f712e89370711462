"""Per-vertex normals of a triangle mesh, for one frame or a whole animation at once."""

from __future__ import annotations

import numpy as np
import scipy.sparse


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals.

    vertices: (V, 3) or (T, V, 3) float; faces: (F, 3) int, counter-clockwise seen from outside.
    Returns float32 of the same shape as `vertices`. A vertex with no area around it gets +Y.
    """
    vertices = np.asarray(vertices, dtype=np.float32)
    frames = vertices.reshape(-1, *vertices.shape[-2:])  # (T, V, 3)
    num_frames, num_vertices = frames.shape[:2]
    corners = frames[:, faces]  # (T, F, 3 corners, 3)
    face_normals = np.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0])
    incidence = scipy.sparse.csr_matrix(
        (np.ones(faces.size, np.float32), (faces.ravel(), np.repeat(np.arange(len(faces)), 3))),
        shape=(num_vertices, len(faces)),
    )
    sums = incidence @ face_normals.transpose(1, 0, 2).reshape(len(faces), -1)  # (V, T*3)
    sums = sums.reshape(num_vertices, num_frames, 3).transpose(1, 0, 2)
    length = np.linalg.norm(sums, axis=-1, keepdims=True)
    normals = np.where(length > 1e-20, sums / np.maximum(length, 1e-20), np.float32([0.0, 1.0, 0.0]))
    return normals.astype(np.float32).reshape(vertices.shape)
