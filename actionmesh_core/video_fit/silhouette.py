"""A differentiable silhouette loss for registration: projected surface points must lie inside the subject mask,
and every part of the mask must be covered by projected points. Both terms are distances in pixels of the
fitting grid, so the loss is zero exactly when the projected surface fills the mask, and its gradient pulls
the camera toward that everywhere (a distance transform has no flat regions outside the mask).

    inside   mean over points of the distance to the nearest subject cell (a distance transform, sampled
             bilinearly)
    cover    mean over sampled subject cells (the contour and the interior) of the distance to the nearest
             projected point
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from scipy.spatial import cKDTree

@dataclass
class SilhouetteTargets:
    """What the loss compares with, per frame, on an S x S grid laid over the fitting window.

    outside: (T, 1, S, S) float32 distance in cells to the nearest subject cell (0 on the subject).
    samples: (T, M, 2) float32 grid coordinates (x, y) of subject cells; weights: (T, M) float32 (1 for a
             sample, 0 for padding in frames with fewer subject cells).
    """

    outside: torch.Tensor
    samples: torch.Tensor
    weights: torch.Tensor

    def frames(self, index: slice) -> SilhouetteTargets:
        return SilhouetteTargets(self.outside[index], self.samples[index], self.weights[index])


def silhouette_targets(coverage: np.ndarray, seed: int, count: int) -> SilhouetteTargets:
    """Targets of (T, S, S) subject coverage grids (a cell is subject above 0.5), with at most `count` subject
    cells per frame for the cover term (half on the contour, half inside)."""
    subject = coverage > 0.5
    rng = np.random.default_rng(seed)
    outside = np.stack([ndimage.distance_transform_edt(~mask) if mask.any() else np.zeros(mask.shape)
                        for mask in subject]).astype(np.float32)
    samples = np.zeros((len(subject), count, 2), np.float32)
    weights = np.zeros((len(subject), count), np.float32)
    for t, mask in enumerate(subject):
        contour = mask & ~ndimage.binary_erosion(mask)
        picked = [_pick(np.argwhere(contour), count // 2, rng), _pick(np.argwhere(mask & ~contour), count // 2, rng)]
        cells = np.concatenate(picked)
        samples[t, :len(cells)] = cells[:, ::-1] + 0.5  # (row, col) -> (x, y) of the cell centre
        weights[t, :len(cells)] = 1.0
    return SilhouetteTargets(torch.from_numpy(outside)[:, None], torch.from_numpy(samples), torch.from_numpy(weights))


def _pick(cells: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """At most `count` of the (K, 2) cells, evenly spread in their (row-major) order, with a random start."""
    if len(cells) <= count:
        return cells
    start = rng.random() * len(cells) / count
    return cells[(start + np.arange(count) * (len(cells) / count)).astype(np.int64)]


def silhouette_loss(pixels: torch.Tensor, targets: SilhouetteTargets, nearest: torch.Tensor) -> torch.Tensor:
    """pixels: (T, N, 2) projected points on the grid; nearest: (T, M) index of the point nearest to each subject
    sample (`nearest_among`) -> (T,) inside + cover distances in grid cells."""
    size = targets.outside.shape[-1]
    grid = pixels / size * 2.0 - 1.0  # cell centres at (i + 0.5) / S * 2 - 1 (align_corners=False)
    inside = F.grid_sample(targets.outside, grid[:, None], mode="bilinear", padding_mode="border",
                           align_corners=False)[:, 0, 0]  # (T, N)
    beyond = (grid.abs() - 1.0).clamp(min=0.0).norm(dim=-1) * (size / 2.0)  # outside the window: keep pulling in
    gap = (targets.samples - pixels.gather(1, nearest[..., None].expand(-1, -1, 2))).norm(dim=-1)  # (T, M)
    cover = (gap * targets.weights).sum(-1) / targets.weights.sum(-1).clamp(min=1.0)
    return (inside + beyond).mean(-1) + cover


def nearest_candidates(queries: torch.Tensor, points: torch.Tensor, count: int) -> torch.Tensor:
    """(T, M, count) int64 indices of the `count` points (T, N, 2) nearest to each query (T, M, 2), frame by frame:
    a k-d tree per frame on the CPU (no (M, N) table), one batched distance table on a GPU."""
    if points.device.type != "cpu":
        return torch.cdist(queries, points).topk(count, dim=-1, largest=False).indices
    return torch.from_numpy(np.stack([cKDTree(p, balanced_tree=False, compact_nodes=False).query(q, k=count)[1]
                                      for p, q in zip(points.numpy(), queries.numpy())]))


def nearest_among(queries: torch.Tensor, points: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """(T, M) index of the nearest point (T, N, 2) to each query (T, M, 2) among its candidates (T, M, K): the
    nearest of all while it stays among them (points move little between two `nearest_candidates`)."""
    frames = torch.arange(len(points))[:, None, None]
    distances = (points[frames, candidates] - queries[:, :, None]).square().sum(-1)  # (T, M, K)
    return candidates.gather(-1, distances.argmin(-1, keepdim=True))[..., 0]
