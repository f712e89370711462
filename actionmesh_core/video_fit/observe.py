"""What the video shows of each surface point: for every frame, whether the point is seen (in front of its
camera, not hidden by another part of the mesh: a depth test against a render of that frame, and on the subject
mask) and how much to trust the pixel there (how squarely the surface faces the camera, how far the pixel is
from the edge of the mask, and how well that frame registered), accumulated over all frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..animated_mesh import AnimatedMesh
from ..render.rasterizer import render_cameras
from .masks import Window, empty_frames, subject_window, window_coverage

MAX_GRID = 512
"""At most this many depth / mask cells across the subject window per frame."""
DEPTH_TOLERANCE = 0.02
"""A point is in front when it is at most this fraction of the object's size behind the depth render."""
EDGE = 0.015
EDGE_RAMP = 0.04
"""Pixels closer to the mask edge than EDGE x the window side are not used; the trust then grows linearly over
the next EDGE_RAMP x the side (the edge mixes subject and background, and registration errors show there first)."""
MIN_FACING = 0.1
"""Surface seen at a grazing angle (cosine below this) is not used."""
FRAMES_PER_CHUNK = 8


@dataclass
class PointSet:
    """`count` surface points to colour: their positions and unit normals at frame t, each (count, 3)."""

    count: int
    positions: Callable[[int], np.ndarray]
    normals: Callable[[int], np.ndarray]


@dataclass
class Observations:
    """Colours seen of N points over all frames: sums (N, 3) float64 of weight x RGB (0-255), weights (N,), and
    normal_sums (N, 3) of weight x the unit normal the point had where it was seen."""

    sums: np.ndarray
    weights: np.ndarray
    normal_sums: np.ndarray

    @classmethod
    def empty(cls, count: int) -> Observations:
        return cls(np.zeros((count, 3)), np.zeros(count), np.zeros((count, 3)))

    def colours(self) -> np.ndarray:
        """(N, 3) float64 weighted mean colour (0 where never seen)."""
        return self.sums / np.maximum(self.weights, 1e-12)[:, None]

    def normals(self) -> np.ndarray:
        """(N, 3) float64 unit weighted mean normal where seen (0 where never seen)."""
        return self.normal_sums / np.maximum(np.linalg.norm(self.normal_sums, axis=1, keepdims=True), 1e-12)

    @property
    def seen(self) -> np.ndarray:
        return self.weights > 1e-6


def frame_trust(iou: np.ndarray, poor: float) -> np.ndarray:
    """(T,) weight of each frame: IoU squared, 0 below `poor` (unless every frame is), 0 without a subject."""
    iou = np.nan_to_num(np.asarray(iou, np.float64), nan=0.0)
    good = iou >= poor
    return np.where(good if good.any() else iou > 0, iou**2, 0.0)


def observe(anim: AnimatedMesh, frames: np.ndarray, masks: np.ndarray, point_sets: list[PointSet],
            trust: np.ndarray) -> list[Observations]:
    """Accumulate, for each point set, the colour of every frame's pixel under each point where it is seen.

    anim: with `cameras`; frames: (T, H, W, 3) uint8; masks: (T, H, W) bool; trust: (T,) frame weights."""
    cameras = anim.cameras
    usable = ~empty_frames(masks)
    window = subject_window(masks, usable)
    grid = int(min(window.side, MAX_GRID))
    cell_px = window.side / grid
    near, far = cameras.clip_planes(anim.vertices)
    projection = cameras.projection(window.box, near, far)
    low, high = anim.vertices.reshape(-1, 3).min(0), anim.vertices.reshape(-1, 3).max(0)
    tolerance = DEPTH_TOLERANCE * float(np.linalg.norm(high - low))
    centres = cameras.centres()
    results = [Observations.empty(points.count) for points in point_sets]
    for start in range(0, anim.num_frames, FRAMES_PER_CHUNK):
        chunk = np.arange(start, min(start + FRAMES_PER_CHUNK, anim.num_frames))
        chunk = chunk[trust[chunk] > 0]
        if not len(chunk):
            continue
        _, depth = render_cameras(anim.vertices[chunk], anim.faces, cameras.world_to_camera[chunk], projection,
                                  width=grid, height=grid, mode="flat", samples=0, depth=True)
        subject = window_coverage(masks[chunk], window, grid) > 0.5
        for i, t in enumerate(chunk):
            edge_distance = ndimage.distance_transform_edt(subject[i]) * cell_px
            edge_trust = np.clip((edge_distance - EDGE * window.side) / (EDGE_RAMP * window.side), 0.0, 1.0)
            for k, points in enumerate(point_sets):
                normals = points.normals(t)
                colours, weights = _frame(frames[t], cameras, t, points.positions(t), normals, centres[t], window,
                                          grid, depth[i], edge_trust, tolerance)
                weights *= trust[t]
                results[k].sums += colours * weights[:, None]
                results[k].weights += weights
                results[k].normal_sums += normals * weights[:, None]
    return results


def _frame(frame: np.ndarray, cameras, t: int, positions: np.ndarray, normals: np.ndarray, centre: np.ndarray,
           window: Window, grid: int, depth: np.ndarray, edge_trust: np.ndarray,
           tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """One frame's colours (N, 3) and weights (N,) of points (N, 3) with unit normals (N, 3)."""
    pixels, distance = cameras.project(positions, t)
    cells = np.floor(window.to_grid(pixels, grid)).astype(np.int64)
    inside = (cells >= 0).all(axis=1) & (cells < grid).all(axis=1) & (distance > 0)
    col, row = np.clip(cells[:, 0], 0, grid - 1), np.clip(cells[:, 1], 0, grid - 1)
    front = inside & (distance <= depth[row, col] + tolerance)
    view = centre - positions
    facing = np.einsum("nc,nc->n", normals, view) / np.maximum(np.linalg.norm(view, axis=1), 1e-12)
    weights = np.where(front & (facing > MIN_FACING), facing * edge_trust[row, col], 0.0)
    colours = np.zeros((len(positions), 3))
    used = weights > 0
    colours[used] = bilinear(frame, pixels[used])
    return colours, weights


def bilinear(image: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """(N, C) float64 values of an (H, W, C) image at pixel coordinates (N, 2) (x, y; pixel centres at +0.5),
    clamped at the borders."""
    height, width = image.shape[:2]
    x = np.clip(pixels[:, 0] - 0.5, 0.0, width - 1.0)
    y = np.clip(pixels[:, 1] - 0.5, 0.0, height - 1.0)
    x0, y0 = np.minimum(x.astype(np.int64), width - 2).clip(0), np.minimum(y.astype(np.int64), height - 2).clip(0)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    top = image[y0, x0] * (1.0 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1.0 - fx) + image[y1, x1] * fx
    return top * (1.0 - fy) + bottom * fy
