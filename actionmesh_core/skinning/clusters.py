"""Where the bones go: vertices clustered by rigid motion (the initialisation of SSDR, Le & Deng 2012).

Each cluster is one bone: the rigid transforms (T, 3, 4) that best carry its vertices' rest positions to
their positions in every frame. Clusters grow one at a time: the cluster with the largest squared error is
split (a seed vertex drawn from it with probability proportional to its error, k-means++ style, from the
decomposition's seed; its vertices nearer in the rest pose to the seed than to the cluster's centre start the
new cluster), then k-means rounds settle all of them: every cluster's rigid fit, every vertex to the bone
that explains its motion best, until no vertex moves. The clusters of B bones are the start of the B-bone
skin (`decomposition.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .transforms import identity_transform, rigid_fit
from .weights import single_bone_errors

ROUNDS = 10
"""The most k-means rounds after a split."""


@dataclass
class Clusters:
    """labels: (V,) int64 bone of each vertex; transforms: (T, B, 3, 4) float64, identity at the rest frame."""

    labels: torch.Tensor
    transforms: torch.Tensor

    @classmethod
    def single(cls, rest: torch.Tensor, frames: torch.Tensor, rest_frame: int) -> Clusters:
        """One cluster of every vertex. rest (V, 3), frames (V, T, 3)."""
        labels = torch.zeros(rest.shape[0], dtype=torch.int64, device=rest.device)
        empty = torch.zeros(frames.shape[1], 1, 3, 4, dtype=rest.dtype, device=rest.device)
        return cls(labels, _fit(labels, empty, rest, frames, rest_frame))

    def one_hot(self, influences: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(V, influences) joints and weights of the clusters as a skin: weight 1 on the vertex's bone."""
        joints = torch.zeros(len(self.labels), influences, dtype=torch.int64, device=self.labels.device)
        joints[:, 0] = self.labels
        weights = torch.zeros(joints.shape, dtype=self.transforms.dtype, device=self.labels.device)
        weights[:, 0] = 1.0
        return joints, weights

    def split(self, rest: torch.Tensor, frames: torch.Tensor, rest_frame: int, generator: torch.Generator) -> Clusters:
        """One more cluster (module docstring), settled by k-means rounds. `generator`: a CPU generator."""
        bones = self.transforms.shape[1]
        errors = single_bone_errors(self.transforms, rest, frames).gather(1, self.labels[:, None])[:, 0].clamp_min(0).cpu()
        labels = self.labels.cpu()
        worst = int(torch.bincount(labels, weights=errors, minlength=bones).argmax())
        members = torch.nonzero(labels == worst)[:, 0]
        chance = errors[members]
        labels = self.labels.clone()
        if len(members) >= 2 and chance.sum() > 0:
            seed = int(members[torch.multinomial(chance / chance.sum(), 1, generator=generator)[0]])
            members = members.to(rest.device)
            points = rest[members]
            new = (points - rest[seed]).norm(dim=1) < (points - points.mean(0)).norm(dim=1)
            labels[members[new]] = bones
        transforms = torch.cat([self.transforms, self.transforms[:, worst:worst + 1]], dim=1)
        for _ in range(ROUNDS):
            transforms = _fit(labels, transforms, rest, frames, rest_frame)
            moved = single_bone_errors(transforms, rest, frames).argmin(1)
            if torch.equal(moved, labels):
                break
            labels = moved
        return Clusters(labels, transforms)


def _fit(labels: torch.Tensor, transforms: torch.Tensor, rest: torch.Tensor, frames: torch.Tensor,
         rest_frame: int) -> torch.Tensor:
    """The rigid fit of each cluster's vertices (a cluster of fewer than 3 vertices keeps its transforms)."""
    transforms = transforms.clone()
    order = torch.argsort(labels, stable=True)
    counts = torch.bincount(labels, minlength=transforms.shape[1]).tolist()  # one host sync per round
    for bone, vertices in enumerate(torch.split(order, counts)):
        if len(vertices) >= 3:
            transforms[:, bone] = rigid_fit(rest[vertices], frames[vertices], torch.ones_like(rest[vertices, 0]))
            transforms[rest_frame, bone] = identity_transform(rest)
    return transforms
