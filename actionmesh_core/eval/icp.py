"""Gradient-based ICP with a similarity transform (ActionBench protocol, spec §10.3).

For each fit, 24 starts (the initial rotations) are optimised in parallel by Adam (lr 0.01, 200
steps) on the squared-distance Chamfer loss, each step on the mean loss over the 24. The loss is the
official evaluator's, computed the way it computes it (`chamfer_loss`: float32, autograd through the
moved points); only the nearest-neighbour search is ours (KD-trees on the CPU, a compiled brute force
on a GPU). Many fits (the 16 frames of CD-3D) run together as one batch.

Kept for parity with the official loop:
- the lowest loss over every step and start wins, compared in float32 with a strict "<" (a later
  step with an equal float32 loss does not replace it);
- the transform kept for it mixes two steps: the rotation the loss was computed with, but the
  translation and scale after that step's Adam update (one step further).

Two of the 24 rotations repeat others: a repeated start follows its twin's path exactly, so only the
22 distinct ones run (the mean still divides by 24).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .neighbours import ChamferMatches
from .rotations import IDENTITY_6D, initial_rotations, rotation_from_6d

NUM_STARTS = len(initial_rotations())
FITS_PER_BATCH = 16
"""Fits optimised together (ActionBench's 16 frames): memory stays bounded for any number of frames."""


@dataclass
class Similarity:
    """Per-fit transforms p' = (scale * p) @ rotation + translation (row vectors).

    scale: (F, 3) per-axis, rotation: (F, 3, 3), translation: (F, 3).
    """

    scale: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        """points: (F, N, 3) -> (F, N, 3) moved; a single fit also moves (T, N, 3)."""
        return (points * self.scale[:, None]) @ self.rotation + self.translation[:, None]

    def __getitem__(self, index) -> "Similarity":
        return Similarity(self.scale[index], self.rotation[index], self.translation[index])


def chamfer_loss(moved: torch.Tensor, target: torch.Tensor, to_target: torch.Tensor,
                 to_source: torch.Tensor) -> torch.Tensor:
    """The official ICP loss for given matches: PyTorch3D's `chamfer_distance(moved, target,
    batch_reduction=None)`, in the dtype of the points (float32): per start, each direction's squared
    distances summed and divided by its point count, the two directions added.

    moved: (F, S, M, 3) every start's moved source; target: (F, N, 3); to_target: (F, S, M) nearest
    target of each moved point; to_source: (F, S, N) nearest moved point of each target -> (F, S).
    """
    F, S, M, _ = moved.shape
    N = target.shape[1]
    targets = target[:, None].expand(F, S, N, 3)
    forward = (moved - targets.gather(2, to_target[..., None].expand(F, S, M, 3))).square().sum(-1)
    backward = (targets - moved.gather(2, to_source[..., None].expand(F, S, N, 3))).square().sum(-1)
    return forward.sum(-1) / M + backward.sum(-1) / N


def fit_similarity(source: torch.Tensor, target: torch.Tensor, *, steps: int = 200, lr: float = 0.01) -> Similarity:
    """Align each source to its target: source (F, M, 3), target (F, N, 3) float32 -> F transforms.

    The fits run FITS_PER_BATCH at a time; each fit's optimisation is independent of the others."""
    fits = [_fit_batch(s, t, steps, lr) for s, t in zip(source.split(FITS_PER_BATCH), target.split(FITS_PER_BATCH))]
    return Similarity(*(torch.cat(parts) for parts in zip(*((f.scale, f.rotation, f.translation) for f in fits))))


def _fit_batch(source: torch.Tensor, target: torch.Tensor, steps: int, lr: float) -> Similarity:
    F, device = len(source), source.device
    starts = initial_rotations(distinct=True).to(device)
    S = len(starts)
    d6 = torch.tensor(IDENTITY_6D, device=device).repeat(F, S, 1).requires_grad_()
    scale = torch.ones(F, S, 3, device=device, requires_grad=True)
    translation = torch.zeros(F, S, 3, device=device, requires_grad=True)
    optimizer = torch.optim.Adam([translation, d6, scale], lr=lr)
    best_loss = torch.full((F,), float("inf"), device=device)
    best = Similarity(torch.ones(F, 3, device=device), torch.eye(3, device=device).repeat(F, 1, 1),
                      torch.zeros(F, 3, device=device))
    matches, fits = ChamferMatches(source, target), torch.arange(F, device=device)
    for _ in range(steps):
        rotation = starts @ rotation_from_6d(d6)  # (F, S, 3, 3)
        moved = (source[:, None] * scale[:, :, None]) @ rotation + translation[:, :, None]  # (F, S, M, 3)
        loss = chamfer_loss(moved, target, *matches(moved))  # (F, S) float32
        optimizer.zero_grad()
        (loss.sum(dim=1) / NUM_STARTS).sum().backward()  # each fit's step: the mean over its 24 starts
        optimizer.step()
        with torch.no_grad():
            value, start = loss.min(dim=1)
            better = value < best_loss
            best_loss = torch.where(better, value, best_loss)
            # kept for parity: `rotation` is this loss's, `scale` and `translation` are already one step further
            for kept, current in ((best.scale, scale), (best.rotation, rotation), (best.translation, translation)):
                chosen = current[fits, start]  # no boolean indexing: no GPU sync
                kept.copy_(torch.where(better.view(-1, *[1] * (kept.ndim - 1)), chosen, kept))
    return best
