"""Training: each stage's loss goes down on a fixed batch, runs resume exactly, checkpoints are weights
roots in the official layout, and the paper's initialisations (denoiser from the DiT, autoencoder from
the VAE decoder) hold."""

import json

import numpy as np
import pytest
import torch

from actionmesh_core.cli import main
from actionmesh_core.data.dataset import build_dataset
from actionmesh_core.errors import InputError
from actionmesh_core.models import build_model, load_model
from actionmesh_core.models.presets import TINY_CONFIGS
from actionmesh_core.pipeline import ModelSet
from actionmesh_core.train import STAGES, bundle_weights, config_from_dict, train
from actionmesh_core.train.autoencoder import init_from_vae_decoder
from actionmesh_core.train.checkpoint import copy_weights
from actionmesh_core.train.denoiser import source_masks
from actionmesh_core.train.flow import noisy_latents

TOKENS = 16
MODELS = {
    "vae": {"triposg-vae": TINY_CONFIGS["triposg-vae"]},
    "dit": {"triposg-dit": TINY_CONFIGS["triposg-dit"], "dinov2": TINY_CONFIGS["dinov2"]},
    "denoiser": {"actionmesh-denoiser": TINY_CONFIGS["actionmesh-denoiser"]},
    "autoencoder": {"actionmesh-autoencoder": {**TINY_CONFIGS["actionmesh-autoencoder"], "prediction_mode": "residual"}},
}
OPTIONS = {"vae": {"tokens": TOKENS, "sdf_queries": 256}, "dit": {"tokens": TOKENS},
           "denoiser": {"tokens": TOKENS}, "autoencoder": {"tokens": TOKENS, "queries": 64, "targets": 2}}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 3-clip dataset and a 2-step VAE and DiT run (the inputs of the later stages)."""
    root = tmp_path_factory.mktemp("train")
    data = build_dataset(root / "data", "train", 3, points=256, workers=1, progress=False)
    inputs = {}
    for stage in ("vae", "dit"):
        inputs[stage] = str(train(recipe(stage, data, root / stage, inputs, steps=2), progress=False))
    return data, root, inputs


def recipe(stage, data, out, inputs, steps=2, **changes):
    return config_from_dict({"stage": stage, "data": str(data), "out": str(out), "models": MODELS[stage],
                             "inputs": dict(inputs), "steps": steps, "batch_size": 2, "lr": 3e-3, "warmup": 1,
                             "checkpoint_every": 2, "log_every": 1, "threads": 1, "options": OPTIONS[stage],
                             **changes})


@pytest.mark.parametrize("stage", list(STAGES))
def test_loss_goes_down_on_a_fixed_batch(runs, stage):
    data, root, inputs = runs
    torch.manual_seed(0)
    trainer = STAGES[stage](recipe(stage, data, root / f"fixed_{stage}", inputs), torch.device("cpu"))
    parameters = [p for m in trainer.trainable.values() for p in m.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=1e-3)
    batch = trainer.batch(0)
    noise_state = batch["generator"].get_state() if "generator" in batch else None
    losses = []
    for _ in range(15):
        if noise_state is not None:  # the same noise and flow times every step
            batch["generator"].set_state(noise_state)
        loss, _ = trainer.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def test_resumed_run_equals_an_uninterrupted_one(runs):
    data, root, inputs = runs
    whole = train(recipe("vae", data, root / "whole", inputs, steps=4), progress=False)
    train(recipe("vae", data, root / "parts", inputs, steps=2), progress=False)
    parts = train(recipe("vae", data, root / "parts", inputs, steps=4), progress=False)
    a, b = load_model("triposg-vae", whole).state_dict(), load_model("triposg-vae", parts).state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    log = [json.loads(line) for line in (root / "parts" / "log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in log] == [1, 2, 3, 4]
    state = json.loads((parts / "state.json").read_text())
    assert state["step"] == 4 and set(state["losses"]) >= {"loss", "recon", "kl"}


def test_cli_trains_a_stage_from_a_recipe_file(runs, tmp_path):
    data, _, inputs = runs
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe("autoencoder", data, tmp_path / "run", inputs).to_dict()))
    assert main(["train", "autoencoder", "--config", str(path), "--steps", "1"]) == 0
    assert (tmp_path / "run" / "checkpoint" / "ActionMesh" / "autoencoder" / "model.safetensors").is_file()
    assert main(["train", "vae", "--config", str(path)]) == 2  # a recipe of another stage


def test_denoiser_starts_as_the_image_to_3d_dit(runs):
    _, _, inputs = runs
    dit = load_model("triposg-dit", inputs["dit"])
    denoiser = copy_weights("triposg-dit", inputs["dit"], build_model("actionmesh-denoiser", MODELS["denoiser"]
                                                                      ["actionmesh-denoiser"]))
    latents, context = torch.randn(2, TOKENS, 16), torch.randn(2, 65, 32)
    t = torch.tensor([300.0, 700.0])
    expected = dit(latents, t, context)
    torch.testing.assert_close(denoiser(latents[:, None], t, context[:, None])[:, 0], expected, rtol=1e-4, atol=1e-5)


def test_autoencoder_starts_as_the_vae_decoder_with_no_motion(runs):
    _, _, inputs = runs
    vae = load_model("triposg-vae", inputs["vae"])
    autoencoder = build_model("actionmesh-autoencoder", MODELS["autoencoder"]["actionmesh-autoencoder"])
    init_from_vae_decoder(autoencoder, vae)
    torch.testing.assert_close(autoencoder.blocks[0].s_attn.to_q.weight, vae.decoder.blocks[0].s_attn.to_q.weight)
    queries = torch.rand(1, 10, 6) * 1.8 - 0.9  # inside the model cube (positions are clamped to it)
    raw = autoencoder(torch.randn(1, 4, TOKENS, 16), torch.arange(4.0)[None], torch.zeros(1), torch.rand(1, 3), queries)
    torch.testing.assert_close(autoencoder.to_positions(raw, queries[..., :3]), queries[:, None, :, :3].expand(1, 3, 10, 3))


def test_source_masks_keep_one_to_three_clean_frames():
    masks = source_masks(np.random.default_rng(0), 2000, 16, 3, anchor_first=0.5)
    counts = masks.sum(axis=1)
    assert counts.min() == 1 and counts.max() == 3
    assert 0.5 < masks[:, 0].mean() < 0.65  # frame 0: half the time on purpose, else by chance (1/8)


def test_noisy_latents_follow_the_sampler_convention():
    x0, generator = torch.randn(3, 5, 4), torch.Generator().manual_seed(0)
    noisy, velocity = noisy_latents(x0, torch.tensor([0.0, 1.0, 0.25]), generator)
    noise = x0 - velocity
    torch.testing.assert_close(noisy[0], x0[0])
    torch.testing.assert_close(noisy[1], noise[1])
    torch.testing.assert_close(noisy[2], 0.75 * x0[2] + 0.25 * noise[2])


def test_bundle_is_a_weights_root_the_pipeline_loads(runs, tmp_path):
    data, root, inputs = runs
    checkpoints = {"triposg-vae": inputs["vae"], "triposg-dit": inputs["dit"], "dinov2": inputs["dit"]}
    checkpoints["actionmesh-denoiser"] = str(train(recipe("denoiser", data, root / "den", inputs, steps=1),
                                                   progress=False))
    checkpoints["actionmesh-autoencoder"] = str(train(recipe("autoencoder", data, root / "ae", inputs, steps=1),
                                                      progress=False))
    out = bundle_weights(checkpoints, tmp_path / "bundle", num_tokens=TOKENS, mesh_resolution=32,
                         description="test bundle", decode_window=2, decode_anchored=True, settings={"steps": 3})
    models = ModelSet.from_weights(out, device="cpu")
    assert models.num_tokens == TOKENS and models.mesh_resolution == 32 and models.description == "test bundle"
    assert models.decode_window == 2 and models.decode_anchored
    with models.use("actionmesh-autoencoder") as autoencoder:
        reference = load_model("actionmesh-autoencoder", checkpoints["actionmesh-autoencoder"])
        torch.testing.assert_close(autoencoder.proj_query.weight, reference.proj_query.weight, rtol=1e-3, atol=1e-4)
    assert json.loads((out / "actionmesh.json").read_text())["settings"] == {"steps": 3}


def test_autoencoder_windows_are_the_pipelines(runs):
    data, root, inputs = runs
    pairs = {**OPTIONS["autoencoder"], "window": 2, "max_stride": 3, "source_first": True, "targets": 1}
    stage = STAGES["autoencoder"](recipe("autoencoder", data, root / "pairs", inputs, options=pairs),
                                  torch.device("cpu"))
    for step in range(5):  # the source is the window's first frame, the target the other one
        batch = stage.batch(step)
        times = batch["frame_times"][0]
        assert (batch["source_alpha"] == 0).all() and (batch["target_alphas"] == 1).all()
        assert 1 <= times[1] - times[0] <= 3 and batch["latents"].shape[1] == 2
    too_long = {**pairs, "window": 16, "max_stride": 2}
    with pytest.raises(InputError, match="does not fit"):
        STAGES["autoencoder"](recipe("autoencoder", data, root / "long", inputs, options=too_long), torch.device("cpu"))


def test_dit_continues_from_a_run_with_its_image_encoder_frozen(runs, tmp_path):
    data, _, inputs = runs
    frozen = {**OPTIONS["dit"], "train_encoder": False}
    config = recipe("dit", data, tmp_path / "more", {**inputs, "dit": inputs["dit"]}, steps=2, options=frozen)
    stage = STAGES["dit"](config, torch.device("cpu"))
    assert set(stage.trainable) == {"triposg-dit"}  # the denoiser conditions on the same encoder: keep it
    start = load_model("triposg-dit", inputs["dit"]).state_dict()
    for key, value in stage.dit.state_dict().items():
        torch.testing.assert_close(value, start[key])
    checkpoint = train(config, progress=False)
    assert (checkpoint / "TripoSG" / "transformer").is_dir() and not (checkpoint / "dinov2").exists()
    assert not torch.equal(load_model("triposg-dit", checkpoint).proj_in.weight, start["proj_in.weight"])
    again = recipe("dit", data, tmp_path / "again", {**inputs, "dit": str(checkpoint), "encoder": inputs["dit"]},
                   steps=1, options=frozen)  # that checkpoint has no encoder: it comes from "encoder"
    assert (train(again, progress=False) / "TripoSG" / "transformer").is_dir()
