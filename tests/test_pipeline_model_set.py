"""ModelSet: where each model lives between stages (offload policies) and the attention kernel it runs with."""

import pytest
import torch

from actionmesh_core.errors import ActionMeshError, InputError
from actionmesh_core.models.attention import Attention
from actionmesh_core.pipeline import ModelSet


class Placed(torch.nn.Module):
    """A model that records every move between devices (the CPU stands in for the GPU and the RAM alike)."""

    def __init__(self, log: list):
        super().__init__()
        self.attn, self.log = Attention(8, 2), log

    def to(self, device):
        self.log.append(("to", str(device)))
        return self


def placed_models(offload: str, attention: str = "auto"):
    log = []

    def loader(name, device, dtype):
        log.append(("load", name))
        return Placed(log)

    return ModelSet(loader, {"dinov2"}, device="cpu", dtype="fp32", offload=offload, attention=attention), log


@pytest.mark.parametrize("offload, expected", [
    ("cpu", [("load", "dinov2"), ("to", "cpu"), ("to", "cpu"), ("to", "cpu")]),  # parked in RAM, reused
    ("free", [("load", "dinov2"), ("load", "dinov2")]),  # dropped after each stage, loaded again
    ("keep", [("load", "dinov2"), ("to", "cpu")]),  # left on the device, reused
])
def test_offload_policies_park_drop_or_keep_the_model_between_stages(offload, expected):
    models, log = placed_models(offload)
    for _ in range(2):
        with models.use("dinov2") as model:
            assert isinstance(model, Placed)
    assert log == expected
    assert models.resident == ({} if offload == "free" else {"dinov2": torch.device("cpu")})


def test_the_attention_kernel_is_the_model_sets_own():
    math, _ = placed_models("keep", attention="math")
    plain, _ = placed_models("keep")
    with math.use("dinov2") as first, plain.use("dinov2") as second:
        assert first.attn.backend == "math" and second.attn.backend == "auto"
    with math.use("dinov2") as again:  # a model from the cache keeps it
        assert again.attn.backend == "math"


def test_bad_policies_and_kernels_are_clear_errors():
    with pytest.raises(InputError, match="offload must be one of"):
        placed_models("gpu")
    with pytest.raises(ActionMeshError, match="unknown attention backend"):
        placed_models("cpu", attention="xformers")
    with pytest.raises(ActionMeshError, match="is not available"):
        with placed_models("cpu")[0].use("rmbg"):
            pass
