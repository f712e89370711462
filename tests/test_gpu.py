"""Checks that need a CUDA device (run on a GPU machine; skipped elsewhere)."""

import numpy as np
import pytest
import torch

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.errors import ActionMeshError
from actionmesh_core.eval import Protocol, evaluate_sample, fixture_animation, tracked_points
from actionmesh_core.eval.rotations import axis_rotation
from actionmesh_core.models import build_model
from actionmesh_core.models.attention import flash_attn_installed, scaled_dot_product
from actionmesh_core.models.precision import autocast
from actionmesh_core.models.presets import TINY_CONFIGS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.skipif(not flash_attn_installed(), reason="needs flash-attn")
def test_flash_attention_matches_sdpa_within_bf16_tolerance():
    q, k, v = (torch.randn(2, 300, 16, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    flash = scaled_dot_product(q, k, v, "flash")
    sdpa = scaled_dot_product(q, k, v, "sdpa")
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


def test_eval_on_cuda_matches_the_cpu_run():
    """One 16-frame fixture sample, moved so that the ICP has work to do, at a reduced protocol.
    Sampling and Chamfer scores run on the CPU either way; only the ICP fits (brute-force compiled
    neighbours on CUDA, KD-trees on the CPU) can differ, by rounding."""
    anim = fixture_animation("bender", 16)
    rotation = (axis_rotation("y", 0.3) @ axis_rotation("z", -0.2)).float().numpy()
    pred = AnimatedMesh(anim.vertices @ rotation * 1.15 + np.float32([0.1, -0.05, 0.2]), anim.faces)
    gt = tracked_points(anim, 20_000, seed=0)
    protocol = Protocol(surface_points=20_000, icp_points=1_000, chamfer_points=5_000, icp_steps=60)
    cpu, cuda = (evaluate_sample(gt, pred, protocol=protocol, device=device) for device in ("cpu", "cuda"))
    for key in ("cd_3d", "cd_4d", "cd_m"):
        assert cuda[key] == pytest.approx(cpu[key], rel=0.02, abs=2e-4), (key, cpu[key], cuda[key])


def test_egl_renders_on_the_gpu_not_on_llvmpipe():
    from actionmesh_core.render import renderer_name

    try:
        name = renderer_name()
    except ActionMeshError as exc:
        pytest.skip(f"no EGL library here: {exc}")
    assert "llvmpipe" not in name.lower(), (
        f"EGL renders with {name!r} on a CUDA machine: install the NVIDIA driver's EGL library (libEGL_nvidia; "
        "in a container, NVIDIA_DRIVER_CAPABILITIES must include graphics) or set GLCONTEXT_DEVICE_INDEX")


def test_skinning_decomposition_on_cuda_matches_the_cpu_run():
    from actionmesh_core.data import make_clip
    from actionmesh_core.skinning import SkinningConfig, decompose

    vertices = make_clip(1_000_001, frames=12).watertight_animation(resolution=64).vertices
    cpu, gpu = (decompose(vertices, SkinningConfig(bones=5, device=device)) for device in ("cpu", "cuda"))
    assert gpu.device.startswith("cuda") and gpu.rig.num_bones == cpu.rig.num_bones == 5
    assert gpu.mean_error == pytest.approx(cpu.mean_error, rel=1e-3)
    np.testing.assert_allclose(gpu.rig.positions(), cpu.rig.positions(), atol=1e-4)
