"""Checks that need a CUDA device (run on a GPU machine; skipped elsewhere)."""

import pytest
import torch

from actionmesh_core.models import build_model
from actionmesh_core.models.attention import attention_backend, flash_attn_installed, scaled_dot_product
from actionmesh_core.models.precision import autocast
from actionmesh_core.models.presets import TINY_CONFIGS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.skipif(not flash_attn_installed(), reason="needs flash-attn")
def test_flash_attention_matches_sdpa_within_bf16_tolerance():
    q, k, v = (torch.randn(2, 300, 16, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    with attention_backend("flash"):
        flash = scaled_dot_product(q, k, v)
    with attention_backend("sdpa"):
        sdpa = scaled_dot_product(q, k, v)
    assert (flash.float() - sdpa.float()).abs().max() < 2e-2


def test_bf16_denoiser_on_gpu_matches_fp32_on_cpu():
    cpu = build_model("actionmesh-denoiser", TINY_CONFIGS["actionmesh-denoiser"])
    gpu = build_model("actionmesh-denoiser", TINY_CONFIGS["actionmesh-denoiser"], device="cuda", dtype=torch.bfloat16)
    gpu.load_state_dict(cpu.state_dict())
    x, t, c = torch.randn(1, 4, 32, 16), torch.tensor([500.0]), torch.randn(1, 4, 9, 32)
    with torch.no_grad():
        full = cpu(x, t, c)
        with autocast("cuda", torch.bfloat16):
            half = gpu(x.cuda(), t.cuda(), c.cuda()).float().cpu()
    assert (half - full).norm() / full.norm() < 0.05


def test_full_size_denoiser_window_fits_and_runs_in_bf16():
    model = build_model("actionmesh-denoiser", device="cuda", dtype=torch.bfloat16)
    x, c = torch.randn(2, 16, 2048, 64, device="cuda"), torch.randn(2, 16, 257, 1024, device="cuda")
    with torch.no_grad(), autocast("cuda", torch.bfloat16):
        out = model(x, torch.tensor([1000.0, 1000.0], device="cuda"), c)
    assert out.shape == x.shape and torch.isfinite(out).all()
