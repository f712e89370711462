"""Loading official folders strictly, and the clear errors for wrong, partial or broken checkpoints."""

import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from actionmesh_core.errors import WeightsError
from actionmesh_core.models import build_model, checkpoint_manifest, load_model, save_model
from actionmesh_core.models.checkpoints import read_header
from actionmesh_core.models.presets import TINY_CONFIGS


def save_tiny(tmp_path, name, sub=None, dtype=None):
    model = build_model(name, TINY_CONFIGS[name])
    folder = tmp_path / (sub or name)
    save_model(name, model, folder, dtype=dtype)
    return model, folder


def test_triposg_files_use_triposg_key_names(tmp_path):
    _, folder = save_tiny(tmp_path, "triposg-vae")
    from safetensors import safe_open

    with safe_open(str(folder / "diffusion_pytorch_model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert "post_quant.weight" in keys and "decoder.blocks.0.attn1.to_q.weight" in keys
    assert keys == set(checkpoint_manifest("triposg-vae", TINY_CONFIGS["triposg-vae"]))


def test_load_from_a_weights_root_with_the_official_layout(tmp_path):
    model, _ = save_tiny(tmp_path / "root", "actionmesh-denoiser", sub="ActionMesh/denoiser")
    loaded = load_model("actionmesh-denoiser", tmp_path / "root")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_bf16_stored_checkpoint_loads_in_any_dtype(tmp_path):
    model, folder = save_tiny(tmp_path, "actionmesh-autoencoder", dtype=torch.bfloat16)
    loaded = load_model("actionmesh-autoencoder", folder, dtype=torch.float32)
    w = model.blocks[0].s_attn.to_q.weight
    torch.testing.assert_close(loaded.blocks[0].s_attn.to_q.weight, w.bfloat16().float())
    half = load_model("actionmesh-autoencoder", folder, dtype=torch.bfloat16)
    assert half.blocks[0].s_attn.to_q.weight.dtype == torch.bfloat16
    assert half.proj_query.weight.dtype == torch.float32  # the fp32 query head


def test_sharded_checkpoint_with_index(tmp_path):
    model = build_model("triposg-dit", TINY_CONFIGS["triposg-dit"])
    folder = tmp_path / "transformer"
    save_model("triposg-dit", model, folder)
    from safetensors.torch import load_file

    state = load_file(str(folder / "diffusion_pytorch_model.safetensors"))
    (folder / "diffusion_pytorch_model.safetensors").unlink()
    keys = sorted(state)
    shards = {"part-1.safetensors": keys[: len(keys) // 2], "part-2.safetensors": keys[len(keys) // 2:]}
    for shard, names in shards.items():
        save_file({k: state[k] for k in names}, str(folder / shard))
    weight_map = {k: shard for shard, names in shards.items() for k in names}
    (folder / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    loaded = load_model("triposg-dit", tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="does not exist.*facebook/ActionMesh"):
        load_model("actionmesh-denoiser", tmp_path / "nowhere")


def test_folder_without_weights_names_what_to_put_there(tmp_path):
    with pytest.raises(WeightsError, match="no rmbg checkpoint found.*model.safetensors.*briaai/RMBG-1.4"):
        load_model("rmbg", tmp_path)


def test_wrong_checkpoint_names_counts_keys_and_the_model_it_looks_like(tmp_path):
    _, folder = save_tiny(tmp_path, "triposg-dit", sub="denoiser")
    (folder / "diffusion_pytorch_model.safetensors").rename(folder / "model.safetensors")
    with pytest.raises(WeightsError) as info:
        load_model("actionmesh-denoiser", folder)
    message = str(info.value)
    assert "is not a complete actionmesh-denoiser checkpoint" in message
    assert "64 missing, 64 unexpected and 0 mis-shaped tensors (of 86 expected)" in message
    assert "blocks.0.attn1.to_k.weight" in message
    assert "look like a 'triposg-dit' checkpoint" in message
    assert "actionmesh weights check" in message


def test_partial_checkpoint_is_rejected_not_silently_accepted(tmp_path):
    model, folder = save_tiny(tmp_path, "actionmesh-autoencoder")
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("blocks.1.")}
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(WeightsError, match=r"13 missing, 0 unexpected and 0 mis-shaped"):
        load_model("actionmesh-autoencoder", folder)


def test_mis_shaped_tensor_is_named_with_both_shapes(tmp_path):
    model, folder = save_tiny(tmp_path, "actionmesh-autoencoder")
    state = dict(model.state_dict())
    state["proj_out.weight"] = torch.zeros(1, 64)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(WeightsError, match=r"proj_out.weight is \[1, 64\] in the file, expected \[3, 64\]"):
        load_model("actionmesh-autoencoder", folder)


def test_truncated_safetensors_file(tmp_path):
    _, folder = save_tiny(tmp_path, "actionmesh-autoencoder")
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated"):
        load_model("actionmesh-autoencoder", folder)
    path.write_bytes(b"\x00\x01")
    with pytest.raises(WeightsError, match="truncated or not a safetensors file"):
        load_model("actionmesh-autoencoder", folder)


def write_safetensors_header(path, header, data=b"\0" * 16):
    """A .safetensors file with this (possibly malformed) JSON header."""
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)


@pytest.mark.parametrize("entry", [
    {"dtype": "F32", "shape": [2]},
    [0, 8],
    {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]},
    {"dtype": "F32", "shape": [2], "data_offsets": None},
    {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]},
    {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]},
    {"dtype": 7, "shape": [2], "data_offsets": [0, 8]},
])
def test_malformed_header_entry_is_a_clear_error_naming_the_file(tmp_path, entry):
    path = tmp_path / "model.safetensors"
    write_safetensors_header(path, {"__metadata__": {"format": "pt"}, "proj_out.weight": entry})
    with pytest.raises(WeightsError, match=r"model\.safetensors has a malformed safetensors header.*'proj_out.weight'"):
        read_header(path)


def test_header_that_is_not_an_object_is_a_clear_error(tmp_path):
    path = tmp_path / "model.safetensors"
    write_safetensors_header(path, [1, 2])
    with pytest.raises(WeightsError, match="corrupt safetensors header"):
        read_header(path)


def test_well_formed_header_entries_are_read(tmp_path):
    path = tmp_path / "model.safetensors"
    write_safetensors_header(path, {"w": {"dtype": "BF16", "shape": [2, 4], "data_offsets": [0, 16]}})
    info = read_header(path)["w"]
    assert (info.dtype, info.shape, info.file) == ("bfloat16", (2, 4), path)


@pytest.mark.parametrize("config, message", [
    ("[1, 2]", "holds a JSON list, not an object of model settings"),
    ('{"width": "wide"}', "is not a usable actionmesh-autoencoder config \\(TypeError"),
    ('{"num_attention_heads": 0}', "is not a usable actionmesh-autoencoder config \\(ZeroDivisionError"),
    ("{not json", "is not valid JSON"),
])
def test_bad_config_json_is_a_clear_error_naming_the_file(tmp_path, config, message):
    _, folder = save_tiny(tmp_path, "actionmesh-autoencoder")
    (folder / "config.json").write_text(config)
    with pytest.raises(WeightsError, match=r"config\.json " + message):
        load_model("actionmesh-autoencoder", folder)


def test_pickle_files_are_never_loaded(tmp_path):
    folder = tmp_path / "autoencoder"
    folder.mkdir()
    (folder / "pytorch_model.bin").write_bytes(b"not to be unpickled")
    with pytest.raises(WeightsError, match="no actionmesh-autoencoder checkpoint found"):
        load_model("actionmesh-autoencoder", folder)


def test_dinov2_files_keep_transformers4_names_and_load(tmp_path):
    model, folder = save_tiny(tmp_path, "dinov2")
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert "encoder.layer.0.attention.attention.query.weight" in set(f.keys())
    loaded = load_model("dinov2", folder)
    pixels = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(loaded(pixel_values=pixels).last_hidden_state,
                                   model(pixel_values=pixels).last_hidden_state)


def test_rmbg_loads_without_batchnorm_counters(tmp_path):
    model = build_model("rmbg")
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    folder = tmp_path / "RMBG"
    folder.mkdir()
    save_file(state, str(folder / "model.safetensors"))
    loaded = load_model("rmbg", tmp_path)
    x = torch.rand(1, 3, 64, 64) - 0.5
    with torch.no_grad():
        out = loaded(x)
        torch.testing.assert_close(out[0], model(x)[0])
    assert len(out) == 6 and out[0].shape == (1, 1, 64, 64) and ((out[0] > 0) & (out[0] < 1)).all()


def rewrite_header(path, change, extra_data=b""):
    """Rewrite a .safetensors file's JSON header with change(header) (the tensor data kept, plus extra_data)."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    change(header)
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + raw[8 + length:] + extra_data)


def _tensors_by_offset(header):
    return sorted((entry["data_offsets"], key) for key, entry in header.items() if key != "__metadata__")


def _shift_onto_previous(header):  # the last tensor moved 4 bytes back: it overlaps the one before it
    (start, end), key = _tensors_by_offset(header)[-1]
    header[key]["data_offsets"] = [start - 4, end - 4]


def _wrong_dtype(header):  # an fp32 tensor relabelled fp16: its bytes no longer fit dtype x shape
    (_, _), key = _tensors_by_offset(header)[0]
    header[key]["dtype"] = "F16"


def _gap(header):  # every tensor after the first moved 8 bytes on: a gap, and the last one past the end
    for (start, end), key in _tensors_by_offset(header)[1:]:
        header[key]["data_offsets"] = [start + 8, end + 8]


HEADER_DATA_MISMATCHES = {
    "bytes after the last tensor": (lambda header: None, b"\0" * 64, "the tensors fill"),
    "overlapping tensors": (_shift_onto_previous, b"", "overlaps the tensor before it"),
    "dtype x shape is not the span": (_wrong_dtype, b"", "the header does not match the data"),
    "a gap between tensors": (_gap, b"\0" * 8, "leaves a gap of 8 bytes"),
}


@pytest.mark.parametrize("case", list(HEADER_DATA_MISMATCHES))
def test_header_that_does_not_match_the_data_is_a_weights_error_not_a_safetensor_error(tmp_path, case):
    change, extra, message = HEADER_DATA_MISMATCHES[case]
    _, folder = save_tiny(tmp_path, "actionmesh-autoencoder")
    rewrite_header(folder / "model.safetensors", change, extra)
    with pytest.raises(WeightsError, match=message):
        read_header(folder / "model.safetensors")
    with pytest.raises(WeightsError, match=r"model\.safetensors.*download the file again"):
        load_model("actionmesh-autoencoder", folder)


def test_unknown_dtype_is_a_clear_error(tmp_path):
    path = tmp_path / "model.safetensors"
    write_safetensors_header(path, {"w": {"dtype": "F31", "shape": [2], "data_offsets": [0, 16]}})
    with pytest.raises(WeightsError, match="unknown dtype 'F31'"):
        read_header(path)


def test_missing_config_json_is_named_as_such(tmp_path):
    _, folder = save_tiny(tmp_path, "actionmesh-autoencoder")
    (folder / "config.json").unlink()
    with pytest.raises(WeightsError, match=r"has no config\.json.*Put the config\.json that came with "
                                           r"model\.safetensors beside it") as raised:
        load_model("actionmesh-autoencoder", folder)
    assert "missing:" not in str(raised.value)  # not a list of hundreds of 'missing' keys
