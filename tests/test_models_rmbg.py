"""RMBG-1.4 network and the matting function around it."""

import numpy as np
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
