"""The pre-norm transformer block shared by the VAE, the DiT and the temporal autoencoder.

Submodule names are the ActionMesh checkpoint names; TripoSG checkpoints are renamed on load
(norm1 -> norm_s_attn, attn1 -> s_attn, norm2 -> norm_x_attn, attn2 -> x_attn, norm3 -> norm_ff,
skip_norm -> norm_skip, skip_linear -> linear_skip).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import Attention
from .rope import RopeTables


class FP32LayerNorm(nn.LayerNorm):
    """LayerNorm computed in fp32 and cast back to the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.float(), self.normalized_shape, self.weight.float(), self.bias.float(),
                            self.eps).to(x.dtype)


class GELUProjection(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x))


class FeedForward(nn.Module):
    """Linear -> exact GELU -> Linear, keyed `net.0.proj` and `net.2` like the checkpoints."""

    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.net = nn.ModuleList([GELUProjection(dim, inner), nn.Identity(), nn.Linear(inner, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.net:
            x = layer(x)
        return x


class TransformerBlock(nn.Module):
    """x = norm_skip(linear_skip([skip, x])) if skip; x += s_attn(norm(x)); x += x_attn(norm(x), ctx);
    x += ff(norm(x)). No gating, no AdaLN."""

    def __init__(self, dim: int, heads: int, *, self_attention: bool = True, cross_attention_dim: int | None = None,
                 cross_norm: bool = False, qk_norm: bool = False, skip: bool = False, mlp_ratio: float = 4.0):
        super().__init__()
        if self_attention:
            self.norm_s_attn = FP32LayerNorm(dim)
            self.s_attn = Attention(dim, heads, qk_norm=qk_norm)
        if cross_attention_dim is not None:
            self.norm_x_attn = FP32LayerNorm(dim)
            self.x_attn = Attention(dim, heads, kv_dim=cross_attention_dim, qk_norm=qk_norm, norm_cross=cross_norm)
        self.norm_ff = FP32LayerNorm(dim)
        self.ff = FeedForward(dim, int(dim * mlp_ratio))
        if skip:
            self.linear_skip = nn.Linear(2 * dim, dim)
            self.norm_skip = FP32LayerNorm(dim)

    @property
    def has_self_attention(self) -> bool:
        return hasattr(self, "s_attn")

    @property
    def has_cross_attention(self) -> bool:
        return hasattr(self, "x_attn")

    @property
    def has_skip(self) -> bool:
        return hasattr(self, "linear_skip")

    def forward(self, x: torch.Tensor, *, skip: torch.Tensor | None = None, context: torch.Tensor | None = None,
                context_kv: tuple[torch.Tensor, torch.Tensor] | None = None, rope: RopeTables | None = None,
                frames: int = 1) -> torch.Tensor:
        """x: (B, L, dim); skip: (B, L, dim) long-skip input; context (B, S, ctx) or cached `context_kv`."""
        if self.has_skip:
            x = self.norm_skip(self.linear_skip(torch.cat([skip, x], dim=-1)))
        if self.has_self_attention:
            x = x + self.s_attn(self.norm_s_attn(x), rope=rope, frames=frames)
        if self.has_cross_attention:
            x = x + self.x_attn(self.norm_x_attn(x), context, kv=context_kv)
        return x + self.ff(self.norm_ff(x))
