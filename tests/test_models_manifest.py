"""Every model at full size on the meta device matches the official checkpoint manifests key for key."""

from pathlib import Path

import pytest
import torch

from actionmesh_core.models import MODEL_NAMES, build_model, checkpoint_manifest

REFERENCE = Path(__file__).parent / "reference"

REFERENCE_FILES = {
    "triposg-vae": "triposg_vae", "triposg-dit": "triposg_transformer", "actionmesh-denoiser": "actionmesh_denoiser",
    "actionmesh-autoencoder": "actionmesh_autoencoder", "dinov2": "dinov2_large", "rmbg": "rmbg14",
}
PARAMETER_COUNTS = {  # from the specs
    "triposg-vae": 242_662_017, "triposg-dit": 1_439_556_160, "actionmesh-denoiser": 1_439_556_160,
    "actionmesh-autoencoder": 214_213_635, "dinov2": 304_368_640, "rmbg": 44_046_790,
}


def read_reference(stem: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """{key: (shape, dtype)} from a reference manifest (tests/reference/<stem>.tsv)."""
    table = {}
    for line in (REFERENCE / f"{stem}.tsv").read_text().splitlines():
        key, shape, dtype = line.split("\t")
        table[key] = (tuple(int(s) for s in shape.strip("[]").split(",") if s.strip()), dtype)
    return table


def test_every_model_has_a_reference():
    assert set(REFERENCE_FILES) == set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_manifest_matches_reference_exactly(name):
    reference = read_reference(REFERENCE_FILES[name])
    manifest = checkpoint_manifest(name)
    assert sorted(manifest) == sorted(reference)
    mismatched = {k: (manifest[k], reference[k][0]) for k in reference if manifest[k] != reference[k][0]}
    assert not mismatched


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_full_size_model_builds_on_meta(name):
    model = build_model(name, device="meta")
    assert all(p.is_meta for p in model.parameters())
    # num_batches_tracked counters are buffers, not parameters
    assert sum(p.numel() for p in model.parameters()) == PARAMETER_COUNTS[name]


def test_denoiser_and_triposg_dit_share_parameters_up_to_names():
    dit = build_model("triposg-dit", device="meta").state_dict()
    denoiser = build_model("actionmesh-denoiser", device="meta").state_dict()
    assert {k: v.shape for k, v in dit.items()} == {k: v.shape for k, v in denoiser.items()}


def test_config_json_values_are_honoured_and_unknown_keys_ignored():
    config = {"width": 256, "num_layers": 5, "num_attention_heads": 4, "cross_attention_dim": 128, "in_channels": 64,
              "compile_blocks": False, "clear_autocast": True, "_class_name": "ActionMeshDenoiser"}
    manifest = checkpoint_manifest("actionmesh-denoiser", config)
    assert manifest["blocks.0.x_attn.to_k.weight"] == (256, 128)
    assert "blocks.3.linear_skip.weight" in manifest and "blocks.2.linear_skip.weight" not in manifest
    vae = checkpoint_manifest("triposg-vae", {"_class_name": "Tripo2VAEModel", "width_decoder": 128})
    assert vae["decoder.proj_query.weight"] == (128, 51)


def test_fp32_heads_stay_fp32_when_casting():
    model = build_model("actionmesh-autoencoder", device="meta", dtype=torch.bfloat16)
    assert model.blocks[0].s_attn.to_q.weight.dtype == torch.bfloat16
    assert model.blocks[16].x_attn.to_q.weight.dtype == torch.float32
    assert model.proj_query.weight.dtype == torch.float32 and model.proj_out.weight.dtype == torch.float32
