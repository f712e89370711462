"""Mixed precision without fp32 weight copies: weights are stored in the run dtype and autocast only
decides which ops run in it (LayerNorms, softmax statistics and the fp32 heads stay in fp32)."""

from __future__ import annotations

import contextlib

import torch

LOW_PRECISION = (torch.float16, torch.bfloat16)


def autocast(device: torch.device | str, dtype: torch.dtype):
    """torch.autocast to `dtype` on the device when it is fp16/bf16; a no-op context for fp32."""
    device = torch.device(device)
    if dtype in LOW_PRECISION:
        return torch.autocast(device.type, dtype=dtype)
    return contextlib.nullcontext()


def parse_dtype(name: str | torch.dtype) -> torch.dtype:
    """'bf16' | 'bfloat16' | 'fp16' | 'float16' | 'fp32' | 'float32' -> torch dtype."""
    if isinstance(name, torch.dtype):
        return name
    table = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
             "half": torch.float16, "fp32": torch.float32, "float32": torch.float32, "float": torch.float32}
    from ..errors import InputError

    if name not in table:
        raise InputError(f"unknown precision {name!r}; use bf16, fp16 or fp32")
    return table[name]
