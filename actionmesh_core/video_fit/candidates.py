"""The start of registration: camera rotations all around the object, each placed so that the object's projected
box matches the subject's box, scored by the exact silhouette IoU of a few key frames."""

from __future__ import annotations

import numpy as np

from ..render.camera import orbit_view

AZIMUTHS = np.arange(0.0, 360.0, 30.0)
ELEVATIONS = (-30.0, 0.0, 30.0, 60.0)
"""48 orbit cameras, upright (the object's +Y up in the image): every 30 degrees around the object, from below
to high above. The nearest one is within about 21 degrees of any upright view; refinement does the rest."""
MIN_DEPTH = 1.2
"""Nearest allowed distance to the centre of an object normalised into [-1, 1]^3 (beyond the sphere around it)."""


def candidate_rotations() -> np.ndarray:
    """(C, 3, 3) world-to-camera rotations of the orbit cameras at AZIMUTHS x ELEVATIONS."""
    return np.stack([orbit_view(az, el, 1.0)[:3, :3] for el in ELEVATIONS for az in AZIMUTHS]).astype(np.float64)


def place(rotations: np.ndarray, points: np.ndarray, boxes: np.ndarray, focal: float, principal: np.ndarray,
          iterations: int = 3) -> np.ndarray:
    """Translations that put the projected box of the rotated points on the target boxes.

    rotations (..., 3, 3); points (..., N, 3) normalised; boxes (..., 4) target (x0, y0, x1, y1) on the fitting
    grid; focal: focal length in grid pixels; principal (2,): the principal point on the grid.
    Returns (..., 3) camera-space translations (the object in front: z < 0). The depth starts from the
    orthographic box size and the box centre and size are then matched under perspective.
    """
    rotated = np.einsum("...ij,...nj->...ni", rotations, points)
    target_size = np.maximum(boxes[..., 2:] - boxes[..., :2], 1.0)
    target_centre = (boxes[..., :2] + boxes[..., 2:]) / 2.0
    low, high = rotated[..., :2].min(axis=-2), rotated[..., :2].max(axis=-2)
    ortho_size = np.maximum(high - low, 1e-6)
    depth = focal / np.sqrt(target_size.prod(-1) / ortho_size.prod(-1))
    closest = MIN_DEPTH + rotated[..., 2].max(axis=-1)
    depth = np.maximum(depth, closest)
    offset = (target_centre - principal) * depth[..., None] / focal * [1.0, -1.0] - (low + high) / 2.0
    translation = np.concatenate([offset, -depth[..., None]], axis=-1)
    for _ in range(iterations):
        camera = rotated + translation[..., None, :]
        pixels = principal + focal * camera[..., :2] / -camera[..., 2:] * [1.0, -1.0]
        size = np.maximum(pixels.max(axis=-2) - pixels.min(axis=-2), 1e-6)
        centre = (pixels.max(axis=-2) + pixels.min(axis=-2)) / 2.0
        grow = np.sqrt(size.prod(-1) / target_size.prod(-1))  # > 1: too big, move away along the centre's ray
        translation = translation * np.maximum(grow, closest / depth)[..., None]
        depth = -translation[..., 2]
        translation[..., :2] += (target_centre - centre) * depth[..., None] / focal * [1.0, -1.0]
    return translation


def boxes_of(coverage: np.ndarray) -> np.ndarray:
    """(T, 4) (x0, y0, x1, y1) grid boxes of the subject cells (coverage > 0.5) of (T, S, S) grids; the whole grid
    for a frame without any."""
    subject = coverage > 0.5
    size = coverage.shape[-1]
    boxes = np.tile(np.array([0.0, 0.0, size, size]), (len(coverage), 1))
    for t, mask in enumerate(subject):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if len(rows):
            boxes[t] = cols[0], rows[0], cols[-1] + 1, rows[-1] + 1
    return boxes


def distinct_best(scores: np.ndarray, rotations: np.ndarray, count: int, min_angle_deg: float = 25.0) -> list[int]:
    """Indices of up to `count` best-scoring rotations, each at least min_angle_deg from the ones before."""
    chosen: list[int] = []
    for index in np.argsort(-scores, kind="stable"):
        if all(rotation_angle(rotations[index], rotations[other]) >= np.radians(min_angle_deg) for other in chosen):
            chosen.append(int(index))
        if len(chosen) == count:
            break
    return chosen


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """The angle in radians of the rotation between rotation matrices a and b (3, 3)."""
    cosine = (np.trace(a @ b.T) - 1.0) / 2.0
    return float(np.arccos(np.clip(cosine, -1.0, 1.0)))
