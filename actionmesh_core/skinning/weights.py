"""Skin weights for fixed bone transforms: per vertex, the best non-negative weights that sum to 1 on at
most K bones (K <= 4), found exactly among a few candidate bones.

For vertex v with rest position p~ = (p, 1) and positions y_t, each bone b leaves the residual
r_tb = M_tb p~ - y_t when the vertex follows it alone. Weights summing to 1 leave sum_b w_b r_tb, so the
squared error over the clip is

    E(w) = w^T D w,   D_bc = sum_t r_tb . r_tc = p~^T S_bc p~ - p~^T (z_b + z_c) + |y|^2,
    S_bc = sum_t M_tb^T M_tc (4 x 4, shared by all vertices),   z_b = sum_t M_tb^T y_t (one matrix product).

The candidates are the C bones that explain the vertex best on their own (smallest D_bb). On a subset of
them, min w^T D w with sum(w) = 1 is w = adj(D) 1 / (1^T adj(D) 1) with error det(D) / (1^T adj(D) 1)
(closed forms up to 4 x 4, all vertices and subsets at once; a singular D, a perfect fit, needs no
special case); subsets with a negative weight are dropped and the lowest error wins: the exact optimum over
the candidates. A vertex keeps its previous weights when they are at least as good, so an update never
increases the error. Weights are rounded to multiples of 1 / WEIGHT_LEVELS (what the files store) before
they are compared.
"""

from __future__ import annotations

import itertools

import torch

from .rig import WEIGHT_LEVELS

CANDIDATES = 6
"""Bones tried per vertex: the best single-bone fits (6 bones: 56 subsets of at most 4)."""


def update_weights(transforms: torch.Tensor, rest: torch.Tensor, frames: torch.Tensor, joints: torch.Tensor,
                   weights: torch.Tensor, budget: int = 1 << 24) -> tuple[torch.Tensor, torch.Tensor]:
    """New (V, K) joints and weights for (T, B, 3, 4) transforms, (V, 3) rest and (V, T, 3) frames, given the
    current (V, K) joints and weights. Vertices are solved in chunks of about `budget` / B^2 (bounded memory)."""
    steps, bones = transforms.shape[:2]
    influences = joints.shape[1]
    gram = torch.einsum("tbia,tcid->bcad", transforms, transforms).reshape(bones, bones, 16)  # S_bc
    flat = transforms.permute(0, 2, 1, 3).reshape(steps * 3, bones * 4)
    count = min(CANDIDATES, bones)
    groups = [torch.tensor(list(itertools.combinations(range(count), size)), device=rest.device)
              for size in range(1, min(influences, count) + 1)]
    new_joints, new_weights = [], []
    chunk = max(1024, budget // (bones * bones))
    for start in range(0, rest.shape[0], chunk):
        part = slice(start, start + chunk)
        residuals = _Residuals(gram, flat, rest[part], frames[part])
        candidates = torch.topk(residuals.single(), count, dim=1, largest=False).indices  # (n, C)
        best_joints, best_weights = _best_subset(residuals.matrix(candidates), candidates, groups, influences)
        best_error = residuals.error(best_joints, best_weights)
        keep = (residuals.error(joints[part], weights[part]) <= best_error)[:, None]
        new_joints.append(torch.where(keep, joints[part], best_joints))
        new_weights.append(torch.where(keep, weights[part], best_weights))
    return torch.cat(new_joints), torch.cat(new_weights)


def single_bone_errors(transforms: torch.Tensor, rest: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """(V, B) D_bb: the squared error over the clip of each vertex following each bone alone.
    transforms (T, B, 3, 4), rest (V, 3), frames (V, T, 3)."""
    steps, bones = transforms.shape[:2]
    gram = torch.einsum("tbia,tbid->bad", transforms, transforms).reshape(bones, 16)  # S_bb
    homogeneous, linear, squared = _projections(transforms.permute(0, 2, 1, 3).reshape(steps * 3, bones * 4), rest,
                                                frames)
    outer = (homogeneous[:, :, None] * homogeneous[:, None, :]).reshape(-1, 16)
    return outer @ gram.T - 2 * linear + squared[:, None]


def _projections(flat: torch.Tensor, rest: torch.Tensor, frames: torch.Tensor):
    """p~ (n, 4), p~^T z_b (n, B) and |y|^2 (n,) of n vertices: flat (3T, 4B) the transforms as one matrix,
    rest (n, 3), frames (n, T, 3)."""
    n = rest.shape[0]
    homogeneous = torch.cat([rest, torch.ones_like(rest[:, :1])], dim=1)
    trajectories = frames.reshape(n, -1)  # (n, 3T)
    linear = ((trajectories @ flat).reshape(n, -1, 4) * homogeneous[:, None]).sum(-1)
    return homogeneous, linear, (trajectories * trajectories).sum(1)


class _Residuals:
    """The residual Gram matrices D (n, B, B) of n vertices over all bones (module docstring).

    gram: (B, B, 16) S_bc flattened; flat: (3T, 4B) the transforms as one matrix; rest (n, 3); frames (n, T, 3)."""

    def __init__(self, gram: torch.Tensor, flat: torch.Tensor, rest: torch.Tensor, frames: torch.Tensor):
        n, bones = rest.shape[0], gram.shape[0]
        homogeneous, linear, squared = _projections(flat, rest, frames)
        outer = (homogeneous[:, :, None] * homogeneous[:, None, :]).reshape(n, 16)  # p~ p~^T
        self.full = (outer @ gram.reshape(bones * bones, 16).T).reshape(n, bones, bones) \
            - linear[:, :, None] - linear[:, None, :] + squared[:, None, None]

    def single(self) -> torch.Tensor:
        """(n, B) D_bb: the error of each vertex when it follows one bone only."""
        return self.full.diagonal(dim1=1, dim2=2)

    def matrix(self, joints: torch.Tensor) -> torch.Tensor:
        """(n, k, k) D restricted to the bones `joints` (n, k)."""
        rows = torch.arange(len(joints), device=joints.device)[:, None, None]
        return self.full[rows, joints[:, :, None], joints[:, None, :]]

    def error(self, joints: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """(n,) E(w) = w^T D w of (n, k) joints and weights."""
        return torch.einsum("ni,nij,nj->n", weights, self.matrix(joints), weights)


def _best_subset(matrix: torch.Tensor, candidates: torch.Tensor, groups: list[torch.Tensor],
                 influences: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The best weights over every subset of the candidates: matrix (n, C, C) D of the candidates (n, C);
    groups: for each size k, (S_k, k) the subsets as indices into the candidates. Returns (n, K) joints and
    (n, K) weights (rounded, zero-padded)."""
    scale = matrix.diagonal(dim1=1, dim2=2).amax(1).clamp_min(1e-300)
    entries = (matrix / scale[:, None, None]).permute(1, 2, 0).contiguous()  # (C, C, n); conditioning only
    best_error = torch.full_like(scale, float("inf"))
    best_joints = torch.zeros(len(matrix), influences, dtype=candidates.dtype, device=candidates.device)
    best_weights = torch.zeros(len(matrix), influences, dtype=matrix.dtype, device=matrix.device)
    rows = torch.arange(len(matrix), device=matrix.device)
    for subset in groups:
        k = subset.shape[1]
        d = [[entries[subset[:, i], subset[:, j]] for j in range(k)] for i in range(k)]  # k x k of (S, n)
        weights, error = _simplex_face_minimum(d)  # (S, n, k), (S, n)
        error, pick = error.min(0)
        better = (error < best_error)[:, None]
        pad = (0, influences - k)
        chosen = torch.nn.functional.pad(weights[pick, rows], pad)
        joints = torch.nn.functional.pad(candidates.gather(1, subset[pick]), pad)
        best_joints = torch.where(better, joints, best_joints)
        best_weights = torch.where(better, chosen, best_weights)
        best_error = torch.where(better[:, 0], error, best_error)
    return best_joints, quantize(best_weights)


def _simplex_face_minimum(d: list[list[torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """min w^T D w subject to sum(w) = 1, for PSD matrices D given entry by entry (k x k lists of tensors of
    any one shape, k <= 4). Returns the weights (..., k) and the error (...), which is +inf where a weight is
    negative (that face of the simplex holds no minimum) or the reduced system is singular (its minimum is
    then also on a smaller face, which is tried separately).

    With w = (1 - sum z, z): E = D_00 + 2 g^T z + z^T F z, F_ij = D_ij - D_0i - D_0j + D_00 and
    g_i = D_0i - D_00 (i, j >= 1), so z = -adj(F) g / det(F) and E = D_00 + g^T z: closed forms of size
    k - 1 <= 3, elementwise over all vertices and subsets (batched LAPACK is several times slower for
    millions of tiny systems)."""
    k = len(d)
    if k == 1:
        return torch.ones_like(d[0][0])[..., None], d[0][0]
    m = range(1, k)
    f = [[d[i][j] - d[0][i] - d[0][j] + d[0][0] for j in m] for i in m]
    g = [d[0][i] - d[0][0] for i in m]
    adjugate, determinant = _adjugate(f)
    safe = torch.where(determinant > 0, determinant, torch.ones_like(determinant))
    z = [-sum(adjugate[i][j] * g[j] for j in range(k - 1)) / safe for i in range(k - 1)]
    weights = torch.stack([1.0 - sum(z)] + z, -1)
    error = d[0][0] + sum(gi * zi for gi, zi in zip(g, z))
    feasible = (determinant > 1e-14) & (weights >= -1e-9).all(-1)
    return weights.clamp_min(0.0), torch.where(feasible, error, torch.full_like(error, float("inf")))


def _adjugate(f: list[list[torch.Tensor]]) -> tuple[list[list[torch.Tensor]], torch.Tensor]:
    """Adjugate and determinant of symmetric m x m matrices (m <= 3) given entry by entry."""
    if len(f) == 1:
        return [[torch.ones_like(f[0][0])]], f[0][0]
    if len(f) == 2:
        (a, b), (_, c) = f
        return [[c, -b], [-b, a]], a * c - b * b
    (a, b, c), (_, e, g), (_, _, i) = f  # [[a b c] [b e g] [c g i]]
    adjugate = [[e * i - g * g, c * g - b * i, b * g - c * e],
                [None, a * i - c * c, b * c - a * g],
                [None, None, a * e - b * b]]
    for r in range(3):
        for col in range(r):
            adjugate[r][col] = adjugate[col][r]
    return adjugate, a * adjugate[0][0] + b * adjugate[0][1] + c * adjugate[0][2]


def quantize(weights: torch.Tensor) -> torch.Tensor:
    """(..., k) non-negative weights summing to 1 -> multiples of 1 / WEIGHT_LEVELS summing to exactly 1
    (the rounding remainder goes to the largest weight)."""
    levels = torch.round(weights * WEIGHT_LEVELS)
    largest = levels.argmax(-1, keepdim=True)
    levels.scatter_add_(-1, largest, WEIGHT_LEVELS - levels.sum(-1, keepdim=True))
    return levels / WEIGHT_LEVELS
