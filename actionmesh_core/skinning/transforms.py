"""Bone transforms for fixed weights: one weighted Procrustes (Kabsch) problem per bone, all frames at once.

Transforms are (T, B, 3, 4) float64 tensors [R | t] that carry the rest pose to each frame; vertex
positions over the clip are stored vertex-major, (V, T, 3), so a bone's vertices are one gather. With the
weights fixed, the bones are updated one after the other (block coordinate descent, as in SSDR): bone b
gets the rigid transform that best explains what the other bones leave unexplained on its vertices,

    min over R_t, t_t of  sum_v || w_vb (R_t p_v + t_t) - q_tv ||^2,   q_tv = y_tv - sum_{c != b} w_vc M_tc p~_v

which is solved exactly (SVD of a 3 x 3 matrix per frame), so no update ever increases the squared error.
"""

from __future__ import annotations

import torch


def rigid_fit(points: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The rigid transforms minimising sum_v || w_v (R_t p_v + t_t) - q_tv ||^2 at every frame.

    points: (N, 3) rest positions p; targets: (N, T, 3) q; weights: (N,) w > 0.
    Returns (T, 3, 4) [R | t] with det R = +1 (a reflection is never returned).
    """
    mass = (weights * weights).sum()
    center = (weights * weights) @ points / mass  # (3,) weighted centre of the rest points
    target_center = torch.einsum("n,ntj->tj", weights, targets) / mass  # (T, 3)
    covariance = torch.einsum("ni,ntj->tij", weights[:, None] * points, targets) \
        - mass * center[:, None] * target_center[:, None, :]
    u, _, vh = torch.linalg.svd(covariance)
    flip = torch.ones_like(covariance[:, 0])
    flip[:, 2] = torch.sign(torch.det(vh.transpose(1, 2) @ u.transpose(1, 2)))
    rotation = vh.transpose(1, 2) @ (flip[:, :, None] * u.transpose(1, 2))
    translation = target_center - rotation @ center
    return torch.cat([rotation, translation[:, :, None]], dim=2)


def apply(transforms: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """transforms (T, 3, 4), points (N, 3) -> (N, T, 3)."""
    return torch.einsum("tij,nj->nti", transforms[:, :, :3], points) + transforms[:, :, 3]


class BoneMembers:
    """The influences of a skin listed bone by bone: for bone b, `vertices[b]` (N_b,) and `weights[b]` (N_b,).

    joints, weights: (V, K) with zero weights for unused slots (left out)."""

    def __init__(self, joints: torch.Tensor, weights: torch.Tensor, num_bones: int):
        used = weights > 0
        vertex = torch.arange(len(joints), device=joints.device)[:, None].expand_as(joints)[used]
        bone, weight = joints[used], weights[used]
        order = torch.argsort(bone, stable=True)
        counts = torch.bincount(bone, minlength=num_bones).tolist()  # one host sync per update
        self.vertices = list(torch.split(vertex[order], counts))
        self.weights = list(torch.split(weight[order], counts))


def skinned(transforms: torch.Tensor, rest: torch.Tensor, members: BoneMembers) -> torch.Tensor:
    """(V, T, 3) positions of the skin: transforms (T, B, 3, 4), rest (V, 3)."""
    positions = torch.zeros(rest.shape[0], transforms.shape[0], 3, dtype=rest.dtype, device=rest.device)
    for bone, (vertices, weights) in enumerate(zip(members.vertices, members.weights)):
        if len(vertices):
            positions.index_add_(0, vertices, weights[:, None, None] * apply(transforms[:, bone], rest[vertices]))
    return positions


def update_transforms(transforms: torch.Tensor, rest: torch.Tensor, frames: torch.Tensor, members: BoneMembers,
                      rest_frame: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One sweep of the bone-by-bone update (module docstring).

    transforms (T, B, 3, 4), rest (V, 3), frames (V, T, 3). The rest frame keeps identity transforms (the
    rest pose is reproduced exactly there whatever the weights). Returns the new transforms and the (V, T, 3)
    skinned positions they give.
    """
    transforms = transforms.clone()
    positions = skinned(transforms, rest, members)
    for bone, (vertices, weights) in enumerate(zip(members.vertices, members.weights)):
        if len(vertices) == 0:
            continue
        points = rest[vertices]
        own = weights[:, None, None] * apply(transforms[:, bone], points)  # (N, T, 3) this bone's share
        fitted = rigid_fit(points, frames[vertices] - positions[vertices] + own, weights)
        fitted[rest_frame] = identity_transform(rest)
        positions.index_add_(0, vertices, weights[:, None, None] * apply(fitted, points) - own)
        transforms[:, bone] = fitted
    return transforms, positions


def identity_transform(like: torch.Tensor) -> torch.Tensor:
    """(3, 4) [I | 0] with the dtype and device of `like`."""
    return torch.eye(3, 4, dtype=like.dtype, device=like.device)
