"""`actionmesh weights check`."""

import torch
from safetensors.torch import save_file

from actionmesh_core.cli import main
from actionmesh_core.models import build_model, save_model
from actionmesh_core.models.presets import TINY_CONFIGS

LAYOUT = {"actionmesh-denoiser": "ActionMesh/denoiser", "actionmesh-autoencoder": "ActionMesh/autoencoder",
          "triposg-dit": "TripoSG/transformer", "triposg-vae": "TripoSG/vae", "dinov2": "dinov2"}


def write_root(root):
    for name, sub in LAYOUT.items():
        save_model(name, build_model(name, TINY_CONFIGS[name]), root / sub, dtype=torch.bfloat16)


def test_complete_root_reports_ok_and_rmbg_as_optional(tmp_path, capsys):
    write_root(tmp_path)
    assert main(["weights", "check", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count(" OK ") == 5 and "bfloat16" in out
    assert "rmbg" in out and "optional" in out
    assert "all required models are complete" in out


def test_broken_and_missing_models_are_reported(tmp_path, capsys):
    write_root(tmp_path)
    folder = tmp_path / "ActionMesh/autoencoder"
    model = build_model("actionmesh-autoencoder", TINY_CONFIGS["actionmesh-autoencoder"])
    save_file({k: v for k, v in model.state_dict().items() if k != "proj_out.bias"}, str(folder / "model.safetensors"))
    for f in (tmp_path / "TripoSG/vae").iterdir():
        f.unlink()
    assert main(["weights", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "actionmesh-autoencoder   BROKEN" in out and "missing: proj_out.bias" in out
    assert "triposg-vae              MISSING" in out
    assert "2 required model(s) missing or broken" in out


def test_bad_config_and_corrupt_header_are_reported_as_broken(tmp_path, capsys):
    write_root(tmp_path)
    (tmp_path / "TripoSG/transformer/config.json").write_text('{"width": "wide"}')
    (tmp_path / "ActionMesh/denoiser/config.json").write_text("[64]")
    weights = tmp_path / "ActionMesh/autoencoder/model.safetensors"
    weights.write_bytes(weights.read_bytes().replace(b'"data_offsets"', b'"data_offset_"', 1))
    assert main(["weights", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "triposg-dit              BROKEN" in out
    assert "TripoSG/transformer/config.json is not a usable triposg-dit config (TypeError" in out
    assert "actionmesh-denoiser      BROKEN" in out and "config.json holds a JSON list" in out
    assert "actionmesh-autoencoder   BROKEN" in out and "model.safetensors has a malformed safetensors header" in out
    assert "3 required model(s) missing or broken" in out


def test_no_root_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.delenv("ACTIONMESH_WEIGHTS", raising=False)
    assert main(["weights", "check"]) == 2
    assert "set ACTIONMESH_WEIGHTS" in capsys.readouterr().err


def test_header_that_does_not_match_the_data_and_a_missing_config_are_broken(tmp_path, capsys):
    write_root(tmp_path)
    weights = tmp_path / "ActionMesh/denoiser/model.safetensors"
    weights.write_bytes(weights.read_bytes() + b"\0" * 64)  # the header no longer describes the data
    (tmp_path / "ActionMesh/autoencoder/config.json").unlink()
    assert main(["weights", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "actionmesh-denoiser      BROKEN" in out and "the header does not match the data" in out
    assert "actionmesh-autoencoder   BROKEN" in out and "has no config.json" in out
    assert "2 required model(s) missing or broken" in out
