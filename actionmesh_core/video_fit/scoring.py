"""Exact silhouettes from the project's rasteriser, and their IoU with the subject masks."""

from __future__ import annotations

import numpy as np

from ..render.rasterizer import render_cameras
from ..video_cameras import frustum, rigid
from .masks import Window


def silhouettes(vertices: np.ndarray, faces: np.ndarray, rotations: np.ndarray, translations: np.ndarray,
                image_size: tuple[int, int], yfov: float, window: Window, size: int) -> np.ndarray:
    """(N, size, size) bool coverage of the window by the mesh (one pixel sample, no anti-aliasing).

    vertices: (V, 3) or (N, V, 3); rotations (N, 3, 3), translations (N, 3): world-to-camera poses of the
    images. Near and far planes follow each pose's distance to the vertices."""
    vertices = np.asarray(vertices, np.float64)
    if vertices.ndim == 2:
        depth = -(vertices @ rotations[:, 2].T).T - translations[:, None, 2]
    else:
        depth = -np.einsum("nj,nvj->nv", rotations[:, 2], vertices) - translations[:, None, 2]
    near = np.maximum(depth.min(axis=1) * 0.9, 1e-3 * depth.max(axis=1) + 1e-9)
    far = np.maximum(depth.max(axis=1) * 1.1, near * 2.0)
    projections = np.stack([frustum(image_size, yfov, window.box, n, f) for n, f in zip(near, far)])
    alpha = render_cameras(vertices, faces, rigid(rotations, translations), projections, width=size, height=size,
                           mode="flat", samples=0)[..., 3]
    return alpha > 127


def iou(rendered: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """(N,) IoU of (N, S, S) bool silhouettes with (N, S, S) subject coverage (subject above 0.5); NaN where
    both are empty."""
    subject = coverage > 0.5
    union = (rendered | subject).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, (rendered & subject).sum(axis=(1, 2)) / union, np.nan)
