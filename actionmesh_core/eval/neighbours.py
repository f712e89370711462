"""Nearest neighbours for the ICP loss, batched: pykdtree KD-trees on the CPU (float32, OpenMP
threads; about twice as fast as scipy's here), a brute force fused by torch.compile on a GPU. Each
query point gets the index of its nearest target point (squared Euclidean distance; a tie may
resolve differently, which changes no distance).
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..base.extras import require_extra

PAIR_BUDGET = 1 << 28
"""Query x target pairs per call of the eager brute force (about 4 GB of temporaries)."""


class NearestIndex:
    """Target sets searched many times. targets: (B, N, 3) float32."""

    def __init__(self, targets: torch.Tensor):
        self.targets = targets.detach().contiguous()
        self.trees = None
        if targets.device.type == "cpu":
            require_extra("eval", "the evaluator's nearest-neighbour search")
            from pykdtree.kdtree import KDTree

            self.trees = [KDTree(t) for t in self.targets.numpy()]

    def __call__(self, queries: torch.Tensor) -> torch.Tensor:
        """queries: (B, M, 3) -> (B, M) int64 index into each batch element's targets."""
        queries = queries.detach()
        if self.trees is not None:
            found = [tree.query(q)[1] for tree, q in zip(self.trees, queries.contiguous().numpy())]
            return torch.from_numpy(np.stack(found).astype(np.int64))
        kernel, fused = _gpu_kernel()
        rows = queries.shape[1] if fused else max(1, PAIR_BUDGET // (queries.shape[0] * self.targets.shape[1]))
        return torch.cat([kernel(chunk.contiguous(), self.targets) for chunk in queries.split(rows, dim=1)], dim=1)


class ChamferMatches:
    """Nearest neighbours both ways between moved copies of source sets and fixed target sets.

    source: (F, M, 3), target: (F, N, 3). Called with moved sources (F, S, M, 3) (S copies of each source,
    each moved its own way), it returns to_target (F, S, M), each moved point's nearest target point, and
    to_source (F, S, N), each target point's nearest moved point, as indices in the points' given order.
    On the CPU the points are searched listed leaf by leaf of a KD-tree of the unmoved sets (successive
    searches of nearby points share cached nodes: about 1.3x faster); the order of the answers is not
    changed by that.
    """

    def __init__(self, source: torch.Tensor, target: torch.Tensor):
        cpu = source.device.type == "cpu"
        self.source_order = spatial_order(source) if cpu else None  # (F, M) or None: the given order
        self.target_order = spatial_order(target) if cpu else None  # (F, N) or None
        self.target = _listed(target.detach(), self.target_order)
        self.target_index = NearestIndex(self.target)

    def __call__(self, moved: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        F, S, M, _ = moved.shape
        N = self.target.shape[1]
        queries = _listed(moved.detach(), self.source_order)
        to_target = self.target_index(queries.flatten(1, 2)).view(F, S, M)
        to_source = NearestIndex(queries.flatten(0, 1))(self.target.repeat_interleave(S, dim=0)).view(F, S, N)
        device = moved.device
        return (_in_given_order(to_target.to(device), self.source_order, self.target_order),
                _in_given_order(to_source.to(device), self.target_order, self.source_order))


def spatial_order(points: torch.Tensor) -> torch.Tensor:
    """points: (B, N, 3) on the CPU -> (B, N) int64: each set's points listed leaf by leaf of a KD-tree."""
    return torch.from_numpy(np.stack([cKDTree(p).indices for p in points.detach().numpy()]).astype(np.int64))


def _listed(points: torch.Tensor, order: torch.Tensor | None) -> torch.Tensor:
    """points (B, N, 3) or (B, S, N, 3), listed in `order` (B, N) along N; the points themselves without one."""
    if order is None:
        return points
    index = order.view(len(order), *[1] * (points.ndim - 3), order.shape[1], 1).expand_as(points)
    return points.gather(points.ndim - 2, index)


def _in_given_order(found: torch.Tensor, query_order: torch.Tensor | None,
                    target_order: torch.Tensor | None) -> torch.Tensor:
    """found (B, S, Q): for the queries listed in query_order, indices of the targets listed in target_order
    -> for the queries in their given order, indices of the targets in their given order."""
    if query_order is None:
        return found
    B, S, Q = found.shape
    found = target_order[:, None].expand(B, S, -1).gather(2, found)
    return torch.empty_like(found).scatter_(2, query_order[:, None].expand(B, S, Q), found)


def _argmin_sqdist(queries: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Written coordinate by coordinate so that torch.compile fuses it into one reduction kernel."""
    sqdist = sum((queries[:, :, None, i] - targets[:, None, :, i]).square() for i in range(3))
    return sqdist.argmin(dim=-1)


@functools.cache
def _gpu_kernel():
    """(kernel, fused): `_argmin_sqdist` compiled into one reduction that stores no distances, or,
    where Triton is missing (e.g. Windows), the eager version, run in chunks and several times slower."""
    if importlib.util.find_spec("triton") is None:
        return _argmin_sqdist, False
    return torch.compile(_argmin_sqdist, dynamic=False), True
