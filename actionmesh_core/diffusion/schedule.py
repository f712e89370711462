"""Rectified-flow timestep schedules on the 0..1000 scale.

x_sigma = (1 - sigma) x0 + sigma * noise; the models predict v = x0 - noise and a step is
x <- x + (sigma_i - sigma_{i+1}) v.
"""

from __future__ import annotations

import numpy as np
import torch


def shift_sigma(sigma: np.ndarray, shift: float) -> np.ndarray:
    return shift * sigma / (1.0 + (shift - 1.0) * sigma)


def actionmesh_timesteps(steps: int, shift: float = 3.0, train_steps: int = 1000) -> torch.Tensor:
    """ActionMesh's Stage I schedule: steps + 1 float32 timesteps from 1000 down to about 8.93 (never 0).

    The shift is applied twice, as in the official scheduler: once to the training grid (which fixes the
    end points) and once to the linearly spaced inference grid."""
    full = shift_sigma(np.arange(train_steps, 0, -1, dtype=np.float64) / train_steps, shift)
    t = np.linspace(full[0] * train_steps, full[-1] * train_steps, steps + 1)
    return torch.from_numpy(shift_sigma(t / train_steps, shift) * train_steps).float()


def triposg_timesteps(steps: int, shift: float = 1.0) -> torch.Tensor:
    """TripoSG's schedule: sigma_i = 1 - i/steps (shifted), plus a final 0. Returns steps + 1 float32 values."""
    sigma = shift_sigma(1.0 - np.arange(steps, dtype=np.float64) / steps, shift)
    return torch.from_numpy(np.append(sigma * 1000.0, 0.0)).float()
