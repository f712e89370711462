"""Parameter-free embeddings: point Fourier features and sinusoidal time embeddings."""

from __future__ import annotations

import math

import torch


def fourier_point_features(points: torch.Tensor, num_freqs: int = 8, include_pi: bool = False) -> torch.Tensor:
    """points: (..., 3) -> (..., 3 + 6 * num_freqs): [xyz, sin(a), cos(a)] with a coordinate-major
    (a = [x*f_0..x*f_{n-1}, y*f_0.., z*f_0..]) and f_k = 2^k (times pi when include_pi)."""
    freqs = 2.0 ** torch.arange(num_freqs, device=points.device, dtype=points.dtype)
    if include_pi:
        freqs = freqs * math.pi
    angles = (points[..., None] * freqs).flatten(-2)
    return torch.cat([points, angles.sin(), angles.cos()], dim=-1)


def sinusoidal_embedding(t: torch.Tensor, dim: int, sin_first: bool) -> torch.Tensor:
    """t: (...,) -> (..., dim) fp32 with frequencies exp(-ln(10000) j / (dim/2)), j < dim/2.

    sin_first=True is the diffusers `Timesteps(flip_sin_to_cos=False)` layout (Stage I diffusion time);
    sin_first=False gives [cos, sin] (Stage II source/target alphas).
    """
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[..., None] * freqs
    parts = (args.sin(), args.cos()) if sin_first else (args.cos(), args.sin())
    return torch.cat(parts, dim=-1)
