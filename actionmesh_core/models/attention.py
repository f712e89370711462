"""The one attention module of every model, with TripoSG's fused per-head projection layout.

Backends: flash-attn (when importable, on CUDA, with fp16/bf16 inputs), torch SDPA, or an explicit
math path used as the reference in tests. The backend is a property of each `Attention` module
(`use_attention_backend(model, name)` sets it for a whole model; `ModelSet(attention=...)` does it for
every model it loads): nothing is set process-wide.
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ActionMeshError
from .rope import RopeTables, apply_rope

BACKENDS = ("auto", "flash", "sdpa", "math")


def check_backend(name: str) -> str:
    """`name` if it is a usable attention backend here, else an ActionMeshError that says what to choose."""
    if name not in BACKENDS:
        raise ActionMeshError(f"unknown attention backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "flash" and not flash_attn_installed():
        raise ActionMeshError("attention backend 'flash' needs the flash-attn package (pip install flash-attn); "
                              "use 'auto' or 'sdpa' instead")
    return name


def use_attention_backend(model: nn.Module, name: str) -> nn.Module:
    """Run every `Attention` module of `model` with backend `name` (see BACKENDS); returns `model`."""
    check_backend(name)
    for module in model.modules():
        if isinstance(module, Attention):
            module.backend = name
    return model


def flash_attn_installed() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


def _flash_usable(q: torch.Tensor) -> bool:
    return q.is_cuda and q.dtype in (torch.float16, torch.bfloat16) and q.shape[-1] <= 256 and flash_attn_installed()


def scaled_dot_product(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """Softmax attention, scale 1/sqrt(D), no mask. q: (B, L, H, D), k, v: (B, S, H, D) -> (B, L, H, D).

    backend: "auto" and "flash" use flash-attn where it applies (CUDA, fp16/bf16, head size <= 256), else SDPA;
    "sdpa" always SDPA; "math" the explicit reference computation in float32."""
    if backend in ("auto", "flash") and _flash_usable(q):
        from flash_attn import flash_attn_func

        return flash_attn_func(q, k.to(q.dtype), v.to(q.dtype))
    if backend == "math":
        scores = torch.einsum("blhd,bshd->bhls", q.float(), k.float()) * q.shape[-1] ** -0.5
        return torch.einsum("bhls,bshd->blhd", scores.softmax(-1), v.float()).to(q.dtype)
    dtype = q.dtype
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.to(dtype).transpose(1, 2), v.to(dtype).transpose(1, 2))
    return out.transpose(1, 2)


class RMSNorm(nn.Module):
    """RMS normalisation over the last axis (statistics in fp32), learnable weight, no bias."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf * self.weight.float()).to(x.dtype)


class Attention(nn.Module):
    """Multi-head attention with the checkpoints' projection names and head layout.

    Self-attention: the concatenation [to_q(x) | to_k(x) | to_v(x)] is viewed as (..., heads, 3, head_dim),
    so head h takes channels [3*D*h, 3*D*h + 3*D) of it (TripoSG's fused layout, NOT the standard split).
    Cross-attention: q = to_q(x) viewed (..., heads, head_dim); [to_k(c) | to_v(c)] viewed (..., heads, 2, head_dim).
    Optional qk RMSNorm over head_dim, LayerNorm on the context (`norm_cross`), RoPE on q and k (self only),
    and inflation: `frames` consecutive batch rows attend jointly as one sequence.
    backend: the kernel (see `scaled_dot_product`); set for a whole model with `use_attention_backend`.
    """

    def __init__(self, dim: int, heads: int, kv_dim: int | None = None, qk_norm: bool = False,
                 norm_cross: bool = False):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.is_cross = kv_dim is not None
        kv_dim = kv_dim or dim
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(kv_dim, dim, bias=False)
        self.to_v = nn.Linear(kv_dim, dim, bias=False)
        self.norm_q = RMSNorm(self.head_dim) if qk_norm else None
        self.norm_k = RMSNorm(self.head_dim) if qk_norm else None
        self.norm_cross = nn.LayerNorm(kv_dim) if norm_cross else None
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])
        self.backend = "auto"

    def _norm(self, norm: RMSNorm | None, x: torch.Tensor) -> torch.Tensor:
        return x if norm is None else norm(x)

    def context_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """context: (B, S, kv_dim) -> keys and values, each (B, S, heads, head_dim). Cache these across steps."""
        if self.norm_cross is not None:
            context = self.norm_cross(context)
        weight = torch.cat([self.to_k.weight, self.to_v.weight])
        k, v = F.linear(context, weight).unflatten(-1, (self.heads, 2, self.head_dim)).unbind(-2)
        return self._norm(self.norm_k, k), v

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, *,
                kv: tuple[torch.Tensor, torch.Tensor] | None = None, rope: RopeTables | None = None,
                frames: int = 1) -> torch.Tensor:
        """x: (B, L, dim) -> (B, L, dim). Cross-attention takes `context` (B, S, kv_dim) or cached `kv`.
        `rope` tables broadcast to (B, L, heads, head_dim). Rows b*frames..(b+1)*frames-1 of the batch form
        one joint sequence of frames*L (cross-attention: frames*S) tokens (inflated attention; frames=1: plain)."""
        if self.is_cross:
            q = self.to_q(x).unflatten(-1, (self.heads, self.head_dim))
            k, v = kv if kv is not None else self.context_kv(context)
        else:
            weight = torch.cat([self.to_q.weight, self.to_k.weight, self.to_v.weight])
            q, k, v = F.linear(x, weight).unflatten(-1, (self.heads, 3, self.head_dim)).unbind(-2)
            k = self._norm(self.norm_k, k)
        q = self._norm(self.norm_q, q)
        if rope is not None:
            q, k = apply_rope(q, rope), apply_rope(k, rope)
        batch, length = x.shape[:2]
        q, k, v = (t.reshape(batch // frames, frames * t.shape[1], self.heads, self.head_dim) for t in (q, k, v))
        out = scaled_dot_product(q, k, v, self.backend).reshape(batch, length, -1)
        return self.to_out[0](out)
