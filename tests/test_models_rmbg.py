"""RMBG-1.4 network (against an independent reference) and the matting function around it."""

import numpy as np
import pytest
import reference_impl as ref
import torch

from actionmesh_core.models import build_model
from actionmesh_core.models.rmbg import predict_alpha


def test_predict_alpha_gives_a_binary_mask_per_frame(monkeypatch):
    import actionmesh_core.models.rmbg as rmbg

    monkeypatch.setattr(rmbg, "INPUT_SIZE", 64)  # keep the CPU cost small; the maths is size-independent
    model = build_model("rmbg")
    frames = np.full((2, 40, 50, 3), 255, np.uint8)
    frames[:, 10:30, 15:35] = (200, 30, 30)
    alpha = predict_alpha(model, frames, min_object_size=1)
    assert alpha.shape == (2, 40, 50) and alpha.dtype == np.uint8
    assert set(np.unique(alpha)) <= {0, 255}


def test_matte_comes_from_the_first_side_output_at_input_size():
    model = build_model("rmbg")
    with torch.no_grad():
        mattes = model(torch.rand(1, 3, 96, 80) - 0.5)
    assert [m.shape for m in mattes] == [(1, 1, 96, 80)] * 6
    assert not torch.allclose(mattes[0], mattes[1])


def random_batchnorm_statistics(model):
    """Non-trivial running statistics and affine parameters, so every BatchNorm changes its input."""
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.normal_(0, 0.1)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.normal_(1.0, 0.2)
            bn.bias.normal_(0.0, 0.2)
    return model


@pytest.fixture(scope="module")
def rmbg():
    torch.manual_seed(0)
    return random_batchnorm_statistics(build_model("rmbg"))


@pytest.mark.parametrize("stage, depth", [("stage1", 7), ("stage4", 4), ("stage5", None)])
def test_residual_u_blocks_match_the_reference(rmbg, stage, depth):
    block = getattr(rmbg, stage)
    x = torch.randn(1, block.rebnconvin.conv_s1.in_channels, 37, 29)  # odd sizes: ceil-mode pools, resizes
    with torch.no_grad():
        expected = ref.rsu(block, x, depth) if depth else ref.rsu4f(block, x)
        torch.testing.assert_close(block(x), expected, atol=1e-4, rtol=1e-4)


def test_network_matches_the_reference_on_every_side_output(rmbg):
    x = torch.rand(1, 3, 70, 54) - 0.5
    with torch.no_grad():
        ours, theirs = rmbg(x), ref.rmbg(rmbg, x)
    assert len(ours) == len(theirs) == 6
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert ours[0].std() > 1e-3  # the first matte is not saturated, so the comparison means something
