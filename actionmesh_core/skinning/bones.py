"""Adding a bone: split the cluster that explains its vertices worst.

The vertices are clustered by their main bone (largest weight). The cluster with the largest squared error
is split: a seed vertex is drawn from it with probability proportional to its error (k-means++ seeding,
from the decomposition's seed), the cluster's vertices nearer (in the rest pose) to the seed than to the
cluster's centre start the new bone, and a few 2-means rounds (rigid fit of each half, each vertex to the
half whose motion explains it better) settle its motion. Only the new bone's transforms are kept: the other
bones and every weight are left as they were, so the skin with the new bone at weight 0 is exactly the skin
before, and the next weight update can only improve on it.
"""

from __future__ import annotations

import torch

from .transforms import apply, identity_transform, rigid_fit

SPLIT_ROUNDS = 3


def split_worst_cluster(transforms: torch.Tensor, rest: torch.Tensor, frames: torch.Tensor, positions: torch.Tensor,
                        joints: torch.Tensor, weights: torch.Tensor, rest_frame: int,
                        generator: torch.Generator) -> torch.Tensor:
    """transforms (T, B, 3, 4), rest (V, 3), frames and current skinned positions (V, T, 3), joints and
    weights (V, K) -> (T, B + 1, 3, 4) with the new bone appended (identity at `rest_frame`).
    `generator`: a CPU generator."""
    errors = ((positions - frames) ** 2).sum((1, 2)).cpu()  # (V,) squared error over the clip
    owner = joints.gather(1, weights.argmax(1, keepdim=True))[:, 0].cpu()
    worst = int(torch.bincount(owner, weights=errors, minlength=transforms.shape[1]).argmax())
    members = torch.nonzero(owner == worst)[:, 0]
    chance = errors[members]
    if len(members) < 2 or not chance.sum() > 0:
        return torch.cat([transforms, transforms[:, worst:worst + 1]], dim=1)  # nothing to split: a copy
    seed = members[torch.multinomial(chance / chance.sum(), 1, generator=generator)[0]]
    members, seed = members.to(rest.device), seed.to(rest.device)
    points, targets = rest[members], frames[members]
    new = (points - rest[seed]).norm(dim=1) < (points - points.mean(0)).norm(dim=1)
    new[members == seed] = True
    ones = torch.ones(len(members), dtype=rest.dtype, device=rest.device)
    fitted = rigid_fit(points[new], targets[new], ones[new])
    for _ in range(SPLIT_ROUNDS):
        if new.all():
            break
        kept = rigid_fit(points[~new], targets[~new], ones[~new])
        fitted_error = ((apply(fitted, points) - targets) ** 2).sum((1, 2))
        kept_error = ((apply(kept, points) - targets) ** 2).sum((1, 2))
        new = fitted_error < kept_error
        if not new.any():
            break
        fitted = rigid_fit(points[new], targets[new], ones[new])
    fitted[rest_frame] = identity_transform(rest)
    return torch.cat([transforms, fitted[:, None]], dim=1)
