"""Per-vertex normals of a triangle mesh, for one frame or a whole animation at once."""

from __future__ import annotations

import numpy as np
import scipy.sparse


CHUNK_BYTES = 64 * 2**20
"""Frames are processed in groups whose per-face temporaries (corners, edges, face normals: about 84 bytes per
face and frame) stay under this, so memory does not grow with frames x faces."""


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals.

    vertices: (V, 3) or (T, V, 3) float; faces: (F, 3) int, counter-clockwise seen from outside.
    Returns float32 of the same shape as `vertices`. A vertex with no area around it gets +Y.
    """
    vertices = np.asarray(vertices, dtype=np.float32)
    frames = vertices.reshape(-1, *vertices.shape[-2:])  # (T, V, 3)
    num_frames, num_vertices = frames.shape[:2]
    incidence = scipy.sparse.csr_matrix(
        (np.ones(faces.size, np.float32), (faces.ravel(), np.repeat(np.arange(len(faces)), 3))),
        shape=(num_vertices, len(faces)),
    )
    normals = np.empty(frames.shape, np.float32)
    step = max(1, CHUNK_BYTES // max(1, 84 * len(faces)))
    for start in range(0, num_frames, step):
        group = frames[start:start + step]
        corners = group[:, faces]  # (t, F, 3 corners, 3)
        face_normals = np.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0])
        sums = incidence @ face_normals.transpose(1, 0, 2).reshape(len(faces), -1)  # (V, t*3)
        sums = sums.reshape(num_vertices, len(group), 3).transpose(1, 0, 2)
        length = np.linalg.norm(sums, axis=-1, keepdims=True)
        normals[start:start + step] = np.where(length > 1e-20, sums / np.maximum(length, 1e-20),
                                               np.float32([0.0, 1.0, 0.0]))
    return normals.reshape(vertices.shape)
