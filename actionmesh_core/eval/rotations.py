"""Rotation helpers for the ICP: Euler angles, the 6-D parametrisation and the 24 starts.

Matrices act on row vectors (`p @ R`), as in the official evaluator.
"""

from __future__ import annotations

import math

import torch

# ActionBench's initial rotations (degrees), Euler convention "XYZ" = (azimuth, elevation, roll).
# Some triples give the same rotation (22 distinct of 24); they are kept as the evaluator has them.
AZIMUTHS = [0] * 4 + [90] * 4 + [180] * 4 + [270] * 4 + [0] * 4 + [90] * 4
ELEVATIONS = [0] * 16 + [90] * 2 + [-90] * 2 + [90] * 2 + [-90] * 2
ROLLS = [0, 90, 180, 270] * 4 + [0, 90] * 4
IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def axis_rotation(axis: str, angle: float) -> torch.Tensor:
    """(3, 3) float64 rotation by `angle` radians about axis "x", "y" or "z" (column-vector form)."""
    c, s = math.cos(angle), math.sin(angle)
    rows = {
        "x": [[1, 0, 0], [0, c, -s], [0, s, c]],
        "y": [[c, 0, s], [0, 1, 0], [-s, 0, c]],
        "z": [[c, -s, 0], [s, c, 0], [0, 0, 1]],
    }[axis]
    return torch.tensor(rows, dtype=torch.float64)


def euler_xyz(angles_deg: tuple[float, float, float]) -> torch.Tensor:
    """(3, 3) float64 matrix R_x(a) @ R_y(b) @ R_z(c) for angles (a, b, c) in degrees."""
    a, b, c = (math.radians(x) for x in angles_deg)
    return axis_rotation("x", a) @ axis_rotation("y", b) @ axis_rotation("z", c)


def initial_rotations(distinct: bool = False) -> torch.Tensor:
    """(24, 3, 3) float32: the ICP's starting rotations; (22, 3, 3) with distinct=True (the
    first of each repeated rotation, in order)."""
    rotations = torch.stack([euler_xyz(t) for t in zip(AZIMUTHS, ELEVATIONS, ROLLS)])
    if distinct:
        keys = [tuple(r.round(decimals=6).flatten().tolist()) for r in rotations]
        rotations = rotations[[keys.index(key) == i for i, key in enumerate(keys)]]
    return rotations.float()


def rotation_from_6d(d6: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt of two 3-vectors (Zhou et al. 2019): (..., 6) -> (..., 3, 3), rows b1, b2, b3."""
    b1 = torch.nn.functional.normalize(d6[..., :3], dim=-1)
    a2 = d6[..., 3:]
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    return torch.stack([b1, b2, torch.linalg.cross(b1, b2)], dim=-2)
