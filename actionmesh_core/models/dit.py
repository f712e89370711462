"""The diffusion transformer of TripoSG, which is also ActionMesh's temporal denoiser (Stage I).

Both checkpoints hold the same parameters up to names (see `registry.py`). The temporal model adds
behaviour only: inflated self-attention across the frames of a window, RoPE on the frame axis, and a
per-frame flow time (0 for known, clean latents).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .embeddings import sinusoidal_embedding
from .rope import RopeTables, relative_positions, rope_tables
from .transformer import TransformerBlock

ContextKV = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class DiTConfig:
    """Field names follow the official config.json files (TripoSG `transformer/`, ActionMesh `denoiser/`)."""

    in_channels: int = 64
    width: int = 2048
    num_layers: int = 21
    num_attention_heads: int = 16
    cross_attention_dim: int = 1024
    mlp_ratio: float = 4.0
    temporal: bool = False  # inflated attention + frame RoPE (ActionMesh denoiser)
    inflated_layers: tuple[int, ...] | None = None  # None: every layer (temporal models only)

    @property
    def head_dim(self) -> int:
        return self.width // self.num_attention_heads

    def is_inflated(self, layer: int) -> bool:
        return self.temporal and (self.inflated_layers is None or layer in self.inflated_layers)


class TimestepMLP(nn.Module):
    """diffusers `TimestepEmbedding`: linear_1 -> exact GELU -> linear_2."""

    def __init__(self, width: int, inner: int):
        super().__init__()
        self.linear_1 = nn.Linear(width, inner)
        self.linear_2 = nn.Linear(inner, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.gelu(self.linear_1(x)))


class DiT(nn.Module):
    """Latent flow transformer: a prepended time token, U-Net long skips, cross-attention to image tokens."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = c = config
        self.time_proj = TimestepMLP(c.width, int(c.width * c.mlp_ratio))
        self.proj_in = nn.Linear(c.in_channels, c.width)
        self.blocks = nn.ModuleList(
            TransformerBlock(c.width, c.num_attention_heads, cross_attention_dim=c.cross_attention_dim,
                             qk_norm=True, skip=i > c.num_layers // 2, mlp_ratio=c.mlp_ratio)
            for i in range(c.num_layers)
        )
        self.norm_out = nn.LayerNorm(c.width)
        self.proj_out = nn.Linear(c.width, c.in_channels)

    def context_kv(self, context: torch.Tensor) -> ContextKV:
        """context: (B, T, S, ctx) or (B, S, ctx) image tokens -> per-block cached keys/values.

        Compute once per window and pass as `context_kv` to every denoising step."""
        context = context.flatten(0, 1) if context.dim() == 4 else context
        return [block.x_attn.context_kv(context) for block in self.blocks]

    def rope(self, frame_times: torch.Tensor) -> RopeTables:
        """frame_times: (B, T) -> tables broadcasting over a frame's tokens: (B*T, 1, 1, head_dim)."""
        tables = rope_tables(relative_positions(frame_times).flatten(), self.config.head_dim)
        return RopeTables(*(t.unsqueeze(1) for t in tables))

    def forward(self, latents: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor | None = None, *,
                context_kv: ContextKV | None = None, frame_times: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, rope: RopeTables | None = None) -> torch.Tensor:
        """Predict the flow velocity (pointing from noise to data).

        latents:     (B, T, N, C) or (B, N, C) for a single frame.
        timestep:    (B,) or (B, T) flow time on the 0..1000 scale.
        context:     (B, T, S, ctx) image tokens per frame (or (B, S, ctx)); or pass cached `context_kv`.
        frame_times: (B, T) frame indices for RoPE (temporal models; default 0..T-1); `rope` may be cached.
        mask:        (B, T), 1 where the latent is known and clean: its time is set to 0.
        Returns the velocity with the shape of `latents`.
        """
        single = latents.dim() == 3
        if single:
            latents = latents.unsqueeze(1)
        batch, frames, tokens, _ = latents.shape
        timestep = timestep.float().reshape(batch, -1).expand(batch, frames)
        if mask is not None:
            timestep = timestep * (1 - mask.float())
        if context_kv is None:
            context_kv = self.context_kv(context.unsqueeze(1) if context.dim() == 3 else context)
        if self.config.temporal and rope is None:
            if frame_times is None:
                frame_times = torch.arange(frames, device=latents.device).expand(batch, frames)
            rope = self.rope(frame_times)

        h = self.proj_in(latents.flatten(0, 1))
        time_token = self.time_proj(sinusoidal_embedding(timestep.flatten(), self.config.width, sin_first=True)
                                    .to(h.dtype))
        h = torch.cat([time_token.unsqueeze(1), h], dim=1)  # (B*T, 1+N, W)

        skips, middle = [], self.config.num_layers // 2
        for i, block in enumerate(self.blocks):
            inflated = self.config.is_inflated(i)
            h = block(h, skip=skips.pop() if i > middle else None, context_kv=context_kv[i],
                      rope=rope if inflated else None, frames=frames if inflated else 1)
            if i < middle:
                skips.append(h)

        out = self.proj_out(self.norm_out(h)[:, -tokens:])
        out = out.unflatten(0, (batch, frames))
        return out.squeeze(1) if single else out
