"""Behaviour of the DiT, the VAE and the temporal autoencoder on small random-weight configs,
checked against independent reference implementations written from the specs."""

import copy

import pytest
import torch

import reference_impl as ref
from actionmesh_core.models import build_model, load_model, save_model
from actionmesh_core.models.precision import autocast
from actionmesh_core.models.presets import TINY_CONFIGS


def randomise(model, scale=0.5):
    """Random weights everywhere (including norms and biases, which default to 1/0)."""
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, scale / max(1, p.shape[-1]) ** 0.5 if p.dim() > 1 else 0.3).add_(1.0 if p.dim() == 1 else 0)
    return model


@pytest.fixture
def denoiser():
    return randomise(build_model("actionmesh-denoiser", TINY_CONFIGS["actionmesh-denoiser"]))


def denoiser_inputs(batch=2, frames=4, tokens=6):
    return dict(latents=torch.randn(batch, frames, tokens, 16), context=torch.randn(batch, frames, 5, 32),
                timestep=torch.full((batch,), 700.0))


def test_denoiser_matches_the_reference_implementation(denoiser):
    x = denoiser_inputs()
    frame_times = torch.tensor([[0.0, 1, 2, 3], [15, 16, 17, 18]])
    mask = torch.tensor([[1.0, 0, 0, 0], [0, 0, 1, 0]])
    with torch.no_grad():
        ours = denoiser(x["latents"], x["timestep"], x["context"], frame_times=frame_times, mask=mask)
        theirs = ref.denoiser(denoiser, x["latents"], x["timestep"], x["context"], frame_times, mask)
    torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)


def test_temporal_model_on_one_frame_equals_triposg_dit(denoiser):
    dit = build_model("triposg-dit", TINY_CONFIGS["triposg-dit"])
    dit.load_state_dict(denoiser.state_dict())
    x = denoiser_inputs(frames=1)
    with torch.no_grad():
        temporal = denoiser(x["latents"], x["timestep"], x["context"])
        single = dit(x["latents"][:, 0], x["timestep"], x["context"][:, 0])
    torch.testing.assert_close(temporal[:, 0], single, atol=1e-5, rtol=1e-4)


def test_frames_communicate_only_in_the_temporal_model(denoiser):
    x = denoiser_inputs(batch=1)
    changed = x["latents"].clone()
    changed[:, 3] += 1.0
    with torch.no_grad():
        a = denoiser(x["latents"], x["timestep"], x["context"])
        b = denoiser(changed, x["timestep"], x["context"])
    assert (a[:, 0] - b[:, 0]).abs().max() > 1e-4
    dit = build_model("triposg-dit", TINY_CONFIGS["triposg-dit"])
    dit.load_state_dict(denoiser.state_dict())
    with torch.no_grad():
        a = dit(x["latents"][0], x["timestep"].expand(4), x["context"][0])
        b = dit(changed[0], x["timestep"].expand(4), x["context"][0])
    torch.testing.assert_close(a[0], b[0])


def test_rope_sees_relative_frame_offsets_only(denoiser):
    x = denoiser_inputs(batch=1)
    with torch.no_grad():
        a = denoiser(**x, frame_times=torch.tensor([[0.0, 1, 2, 3]]))
        b = denoiser(**x, frame_times=torch.tensor([[20.0, 21, 22, 23]]))
        c = denoiser(**x, frame_times=torch.tensor([[0.0, 2, 4, 6]]))
    torch.testing.assert_close(a, b)
    assert (a - c).abs().max() > 1e-4


def test_known_frame_gets_time_zero_and_conditions_the_others(denoiser):
    x = denoiser_inputs(batch=1)
    mask = torch.tensor([[1.0, 0, 0, 0]])
    with torch.no_grad():
        masked = denoiser(**x, mask=mask)
        explicit = denoiser(x["latents"], torch.tensor([[0.0, 700, 700, 700]]), x["context"])
        assert torch.isfinite(masked).all()
        torch.testing.assert_close(masked, explicit)
        other = x["latents"].clone()
        other[:, 0] = torch.randn_like(other[:, 0])
        moved = denoiser(other, x["timestep"], x["context"], mask=mask)
    assert (moved[:, 1:] - masked[:, 1:]).abs().max() > 1e-4


def test_cached_context_kv_equals_recomputing_it(denoiser):
    x = denoiser_inputs()
    with torch.no_grad():
        kv = denoiser.context_kv(x["context"])
        torch.testing.assert_close(denoiser(x["latents"], x["timestep"], context_kv=kv),
                                   denoiser(x["latents"], x["timestep"], x["context"]))


def test_cfg_batch_elements_are_independent(denoiser):
    """Batch rows with different times must not mix (the official repeat-vs-interleave bug)."""
    x = denoiser_inputs(batch=2)
    t = torch.tensor([900.0, 100.0])
    with torch.no_grad():
        both = denoiser(x["latents"], t, x["context"])
        first = denoiser(x["latents"][:1], t[:1], x["context"][:1])
        second = denoiser(x["latents"][1:], t[1:], x["context"][1:])
    torch.testing.assert_close(both, torch.cat([first, second]), atol=1e-5, rtol=1e-4)


def test_vae_decode_matches_reference_and_trunk_is_reusable():
    vae = randomise(build_model("triposg-vae", TINY_CONFIGS["triposg-vae"]))
    latents, points = torch.randn(2, 12, 16), torch.rand(2, 50, 3) * 2 - 1
    with torch.no_grad():
        cache = vae.trunk(latents)
        full = vae.query(cache, points)
        chunked = vae.query(cache, points, chunk_size=7)
        torch.testing.assert_close(full, ref.vae_decode(vae, latents, points), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(chunked, full)
        torch.testing.assert_close(vae.decode(latents, points), full)


def surface_points(batch, count):
    """(batch, count, 6): xyz in [-1, 1] and unit normals."""
    normals = torch.nn.functional.normalize(torch.randn(batch, count, 3), dim=-1)
    return torch.cat([torch.rand(batch, count, 3) * 2 - 1, normals], -1)


def test_vae_encode_matches_the_reference_posterior():
    vae = randomise(build_model("triposg-vae", TINY_CONFIGS["triposg-vae"]))
    with torch.no_grad():  # push two logvar channels past the clamp on either side
        vae.quant.bias[16] = 50.0
        vae.quant.bias[17] = -50.0
    points = surface_points(2, 60)
    queries = points[:, torch.randperm(60)[:12]]
    with torch.no_grad():
        posterior = vae.encode(points, queries)
        mean, logvar = ref.vae_encode(vae, points, queries)
    assert posterior.mean.shape == posterior.logvar.shape == (2, 12, 16)
    torch.testing.assert_close(posterior.mean, mean, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(posterior.logvar, logvar, atol=1e-5, rtol=1e-4)
    assert (posterior.logvar[..., 0] == 20).all() and (posterior.logvar[..., 1] == -30).all()


def test_vae_encode_is_deterministic_and_shaped():
    vae = build_model("triposg-vae", TINY_CONFIGS["triposg-vae"])
    points = torch.randn(1, 200, 6)
    with torch.no_grad():
        a = vae.encode(points, points[:, :32])
        b = vae.encode(points, points[:, :32])
    assert a.mean.shape == (1, 32, 16)
    torch.testing.assert_close(a.mean, b.mean)
    g = torch.Generator().manual_seed(3)
    s1 = a.sample(g)
    assert not torch.equal(s1, a.mean) and (a.kl() >= 0).all()


def test_autoencoder_matches_reference_with_batched_targets():
    model = randomise(build_model("actionmesh-autoencoder", TINY_CONFIGS["actionmesh-autoencoder"]))
    B, T, N, V = 1, 3, 5, 9
    latents = torch.randn(B, T, N, 16)
    frame_times = torch.tensor([[4.0, 5, 6]])
    source_alpha, target_alphas = torch.tensor([0.0]), torch.tensor([[0.5, 1.0, 0.25]])
    queries = surface_points(B, V)
    with torch.no_grad():
        ours = model(latents, frame_times, source_alpha, target_alphas, queries, target_chunk=2)
        theirs = ref.autoencoder(model, latents, frame_times, source_alpha, target_alphas, queries)
    assert ours.shape == (B, 3, V, 3) and ours.abs().max() < 1
    torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)


def test_residual_mode_adds_the_source_xyz():
    config = dict(TINY_CONFIGS["actionmesh-autoencoder"], prediction_mode="residual")
    model = build_model("actionmesh-autoencoder", config)
    raw, vertices = torch.full((1, 2, 4, 3), 0.1), torch.rand(1, 4, 3) * 0.5
    torch.testing.assert_close(model.to_positions(raw, vertices), (vertices[:, None] + 0.1).expand(1, 2, 4, 3))
    direct = build_model("actionmesh-autoencoder", TINY_CONFIGS["actionmesh-autoencoder"])
    torch.testing.assert_close(direct.to_positions(raw, vertices), raw)


@pytest.mark.parametrize("name", ["triposg-vae", "triposg-dit", "actionmesh-denoiser", "actionmesh-autoencoder"])
def test_save_in_official_layout_then_load_gives_identical_outputs(tmp_path, name):
    model = randomise(build_model(name, TINY_CONFIGS[name]))
    save_model(name, model, tmp_path / name)
    loaded = load_model(name, tmp_path / name)
    with torch.no_grad():
        if name == "triposg-vae":
            args = (torch.randn(1, 8, 16), torch.rand(1, 20, 3))
            fn = "decode"
        elif name == "actionmesh-autoencoder":
            args = (torch.randn(1, 2, 4, 16), torch.tensor([[0.0, 1]]), torch.tensor([0.0]), torch.tensor([[1.0]]),
                    surface_points(1, 7))
            fn = "__call__"
        else:
            args = (torch.randn(1, 2, 4, 16), torch.tensor([500.0]), torch.randn(1, 2, 3, 32))
            fn = "__call__"
        torch.testing.assert_close(getattr(loaded, fn)(*args), getattr(model, fn)(*args), rtol=0, atol=0)


def test_bf16_weights_with_autocast_match_fp32_within_tolerance(denoiser):
    low = copy.deepcopy(denoiser).to(torch.bfloat16)
    x = denoiser_inputs(batch=1)
    with torch.no_grad():
        full = denoiser(**x)
        with autocast("cpu", torch.bfloat16):
            half = low(**x)
    assert half.dtype == torch.bfloat16
    err = (half.float() - full).norm() / full.norm()
    assert err < 0.05, err


def test_bf16_autoencoder_keeps_its_head_in_fp32():
    model = randomise(build_model("actionmesh-autoencoder", TINY_CONFIGS["actionmesh-autoencoder"]))
    low = build_model("actionmesh-autoencoder", TINY_CONFIGS["actionmesh-autoencoder"], dtype=torch.bfloat16)
    low.load_state_dict(model.state_dict())
    args = (torch.randn(1, 2, 4, 16), torch.tensor([[0.0, 1]]), torch.tensor([0.0]), torch.tensor([[1.0]]),
            surface_points(1, 7))
    with torch.no_grad():
        full = model(*args)
        with autocast("cpu", torch.bfloat16):
            half = low(*args)
    assert half.dtype == torch.float32
    assert (half - full).abs().max() < 0.05


def test_the_readme_parity_table_names_our_real_signatures():
    """Each "our call" of README's "Numerical parity" table, parameter names and defaults, is the method's
    signature, so a reader porting an official script reads the truth."""
    import inspect
    import re
    from pathlib import Path

    from actionmesh_core.models.dit import DiT
    from actionmesh_core.models.temporal_autoencoder import TemporalAutoencoder
    from actionmesh_core.models.vae import TripoSGVAE

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("## Numerical parity")[1].split("\n\n")[2]
    calls = [re.match(r"\| `[^`]+` \| `(\w+)\.(\w+)\(([^`]*)\)`", row) for row in table.splitlines()[2:]]
    classes = {"DiT": DiT, "TemporalAutoencoder": TemporalAutoencoder, "TripoSGVAE": TripoSGVAE}
    checked = 0
    for call in filter(None, calls):
        name, method, written = call.groups()
        rendered, keyword_only = [], False
        for p in list(inspect.signature(getattr(classes[name], method)).parameters.values())[1:]:
            if p.kind is p.KEYWORD_ONLY and not keyword_only:
                rendered.append("*")
                keyword_only = True
            rendered.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
        expected = [p.strip() for p in written.split(",")]
        if expected[-1] == "…":  # an abridged signature: its first parameters
            expected, rendered = expected[:-1], rendered[:len(expected) - 1]
        assert expected == rendered, (name, method)
        checked += 1
    assert checked == 5
