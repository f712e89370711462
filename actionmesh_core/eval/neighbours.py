"""Nearest neighbours for the ICP loss, batched: scipy KD-trees on the CPU, a brute force fused by
torch.compile on a GPU. Each query point gets the index of its nearest target point (squared
Euclidean distance; a tie may resolve differently, which changes no distance).
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import torch
from scipy.spatial import cKDTree

PARALLEL_QUERIES = 4096
"""Queries per KD-tree call from which threads pay for their start (below, one thread is faster)."""
PAIR_BUDGET = 1 << 28
"""Query x target pairs per call of the eager brute force (about 4 GB of temporaries)."""


class NearestIndex:
    """Target sets searched many times. targets: (B, N, 3) float32."""

    def __init__(self, targets: torch.Tensor):
        self.targets = targets.detach().contiguous()
        self.trees = None
        if targets.device.type == "cpu":
            self.trees = [cKDTree(t, balanced_tree=False, compact_nodes=False) for t in self.targets.numpy()]

    def __call__(self, queries: torch.Tensor) -> torch.Tensor:
        """queries: (B, M, 3) -> (B, M) int64 index into each batch element's targets."""
        queries = queries.detach()
        if self.trees is not None:
            workers = -1 if queries.shape[1] >= PARALLEL_QUERIES else 1
            return torch.from_numpy(np.stack([tree.query(q, workers=workers)[1]
                                              for tree, q in zip(self.trees, queries.numpy())]))
        kernel, fused = _gpu_kernel()
        rows = queries.shape[1] if fused else max(1, PAIR_BUDGET // (queries.shape[0] * self.targets.shape[1]))
        return torch.cat([kernel(chunk.contiguous(), self.targets) for chunk in queries.split(rows, dim=1)], dim=1)


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
