"""Everything that can be checked up front is checked before the first model runs: the anchor frame, the
mesh file, and every checkpoint the run will use (headers only). A broken denoiser used to be found only
after Stage 0 had run: minutes lost on a GPU."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from actionmesh_core.cli import main
from actionmesh_core.errors import InputError, MeshError, WeightsError
from actionmesh_core.pipeline import ModelSet, animate, run_models
from actionmesh_core.pipeline import run as pipeline_run
from comfy_pack import run_node
from pipeline_fixtures import fast_settings, moving_disc

FAST = ["--steps", "1", "--prior-steps", "1", "--mesh-resolution", "32", "--face-budget", "500"]


@pytest.fixture
def broken_denoiser_root(tiny_root, tmp_path):
    """A copy of the tiny weights root whose denoiser file has bytes its header does not describe."""
    root = tmp_path / "weights"
    shutil.copytree(tiny_root, root)
    weights = root / "ActionMesh" / "denoiser" / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b"\0" * 64)
    return root


@pytest.fixture
def nothing_runs(monkeypatch):
    """Records every stage function the run reaches (none may run: the run must stop before)."""
    reached = []
    for name in ("prepare_frames", "generate_reference", "encode_mesh", "generate_latents", "decode_animation"):
        def spy(*args, _name=name, **kwargs):
            reached.append(_name)
            raise AssertionError(f"{_name} ran before the up-front checks failed")

        monkeypatch.setattr(pipeline_run, name, spy)
    return reached


def clip(frames: int = 3):
    return moving_disc(frames)  # RGBA frames in memory: the subject masks come from the alpha


def test_a_broken_denoiser_fails_before_stage_0(broken_denoiser_root, nothing_runs):
    models = ModelSet.from_weights(broken_denoiser_root, device="cpu", dtype="fp32")
    progress = []
    with pytest.raises(WeightsError, match=r"denoiser/model\.safetensors.*the header does not match the data"):
        animate(clip(), models, fast_settings(), progress=lambda *event: progress.append(event))
    assert nothing_runs == [] and progress == []  # no stage reached, Stage 0 reported no step


def test_the_command_line_stops_on_a_broken_denoiser_before_stage_0(broken_denoiser_root, tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(moving_disc(3)):
        Image.fromarray(frame).save(folder / f"f{k}.png")
    code = main(["video2mesh", str(folder), "--out", str(tmp_path / "out"), "--weights", str(broken_denoiser_root),
                 *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "actionmesh video2mesh: error:" in err and "denoiser" in err
    assert "reference mesh" not in err and "image features" not in err  # no progress bar of any stage
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("mesh", "error", "message"), [
    (b"not a mesh", MeshError, "cannot read broken.glb"),
    (b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", MeshError, "no faces"),
])
def test_a_broken_mesh_fails_before_any_model_runs(tiny_root, tmp_path, nothing_runs, mesh, error, message):
    path = tmp_path / ("broken.glb" if mesh.startswith(b"not") else "points.obj")
    path.write_bytes(mesh)
    models = ModelSet.from_weights(tiny_root, device="cpu", dtype="fp32")
    with pytest.raises(error, match=message):
        animate(clip(), models, fast_settings(), mesh=path)
    assert nothing_runs == []


def test_an_anchor_outside_the_clip_fails_before_any_model_runs(tiny_root, nothing_runs):
    models = ModelSet.from_weights(tiny_root, device="cpu", dtype="fp32")
    with pytest.raises(InputError, match="anchor frame 3 is outside the clip's 3 selected frames"):
        animate(clip(3), models, fast_settings(anchor_frame=3))
    assert nothing_runs == []


def test_each_run_checks_the_models_it_uses():
    assert run_models(prior=True, mesh_encoder=False, matting=False) == [
        "dinov2", "actionmesh-denoiser", "actionmesh-autoencoder", "triposg-dinov2", "triposg-dit", "triposg-vae"]
    assert run_models(prior=False, mesh_encoder=True, matting=True) == [
        "dinov2", "actionmesh-denoiser", "actionmesh-autoencoder", "triposg-vae", "rmbg"]
    assert run_models(prior=False, mesh_encoder=False, matting=False) == [
        "dinov2", "actionmesh-denoiser", "actionmesh-autoencoder"]


def test_verify_checks_each_checkpoint_once_and_skips_what_the_weights_lack(tiny_root, monkeypatch):
    from actionmesh_core.pipeline import model_set as pipeline_models

    checked = []
    real = pipeline_models.verify_checkpoint
    monkeypatch.setattr(pipeline_models, "verify_checkpoint", lambda name, folder: checked.append(name) or
                        real(name, folder))
    models = ModelSet.from_weights(tiny_root, device="cpu", dtype="fp32")
    models.verify(["dinov2", "actionmesh-denoiser", "rmbg"])
    models.verify(["dinov2", "triposg-vae"])
    assert checked == ["dinov2", "actionmesh-denoiser", "triposg-vae"]  # no RMBG in this root; dinov2 once


def test_load_models_node_fails_on_a_broken_checkpoint(pack, comfy_base, broken_denoiser_root):
    folder = comfy_base / "models" / "actionmesh" / "broken_denoiser"
    shutil.copytree(broken_denoiser_root, folder)
    try:
        with pytest.raises(pack.actionmesh_core.errors.WeightsError, match="the header does not match the data"):
            run_node(pack, "ActionMeshLoadModels", weights="broken_denoiser", precision="fp32", attention="sdpa",
                     offload="cpu", download_if_missing=False)
    finally:
        shutil.rmtree(folder)
