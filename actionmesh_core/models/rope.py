"""Temporal rotary position embedding (RoPE) on the frame axis.

Every token of a frame shares the frame's position `p = frame - min(frame)`; pairs of channels are
rotated GPT-J style (interleaved `(x[2i], x[2i+1])`), base 10000, computed in fp32.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class RopeTables(NamedTuple):
    """cos and sin, each broadcastable to the (batch, tokens, heads, head_dim) attention inputs."""

    cos: torch.Tensor
    sin: torch.Tensor


def relative_positions(frame_times: torch.Tensor) -> torch.Tensor:
    """frame_times: (B, T) frame indices -> (B, T) positions relative to each row's first frame."""
    frame_times = frame_times.float()
    return frame_times - frame_times.min(dim=-1, keepdim=True).values


def rope_tables(positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> RopeTables:
    """positions: (..., L) -> tables of shape (..., L, 1, head_dim) in fp32 (the 1 broadcasts over heads)."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim)
    phase = positions.float()[..., None] * inv_freq  # (..., L, head_dim/2)
    phase = phase.repeat_interleave(2, dim=-1).unsqueeze(-2)
    return RopeTables(phase.cos(), phase.sin())


def apply_rope(x: torch.Tensor, tables: RopeTables) -> torch.Tensor:
    """x: (B, L, H, D); rotates interleaved channel pairs in fp32 and returns x's dtype."""
    xf = x.float()
    pairs = xf.unflatten(-1, (-1, 2))
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return (xf * tables.cos + rotated * tables.sin).to(x.dtype)
