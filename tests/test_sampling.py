"""Schedules against the spec's tables, window plans, noise draws, and the masked CFG loop."""

import pytest
import torch

from actionmesh_core.models import build_model
from actionmesh_core.models.presets import TINY_CONFIGS
from actionmesh_core.diffusion.flow import flow_sample
from actionmesh_core.diffusion.noise import window_noise
from actionmesh_core.diffusion.schedule import actionmesh_timesteps, triposg_timesteps
from actionmesh_core.diffusion.windows import plan_windows

SPEC_30 = [1000.0, 988.671, 976.817, 964.400, 951.380, 937.710, 923.342, 908.221, 892.285, 875.467, 857.692, 838.876,
           818.923, 797.729, 775.174, 751.121, 725.417, 697.887, 668.327, 636.505, 602.150, 564.950, 524.533,
           480.464, 432.225, 379.195, 320.621, 255.589, 182.965, 101.340, 8.929]
SPEC_15 = [1000.0, 976.817, 951.380, 923.342, 892.285, 857.692, 818.923, 775.174, 725.417, 668.327, 602.150, 524.533,
           432.225, 320.621, 182.965, 8.929]


@pytest.mark.parametrize("steps,table", [(30, SPEC_30), (15, SPEC_15)])
def test_actionmesh_schedule_matches_the_spec_table(steps, table):
    t = actionmesh_timesteps(steps)
    assert t.dtype == torch.float32 and len(t) == steps + 1
    assert torch.allclose(t, torch.tensor(table), atol=6e-4)
    assert abs(((t[:-1] - t[1:]) / 1000).sum().item() - 0.99107) < 1e-4  # the final value is not 0


def test_triposg_schedule_is_linear_with_a_trailing_zero():
    assert triposg_timesteps(50)[:3].tolist() == pytest.approx([1000.0, 980.0, 960.0])
    assert triposg_timesteps(50)[-2:].tolist() == pytest.approx([20.0, 0.0])


def ranges(windows):
    return [(w[0], w[-1]) for w in windows]


@pytest.mark.parametrize("total,expected", [
    (16, [(0, 15)]), (17, [(0, 15), (1, 16)]), (20, [(0, 15), (4, 19)]), (31, [(0, 15), (15, 30)]),
    (32, [(0, 15), (15, 30), (16, 31)]), (46, [(0, 15), (15, 30), (30, 45)]),
    (61, [(0, 15), (15, 30), (30, 45), (45, 60)]),
])
def test_windows_from_frame_zero_match_the_spec(total, expected):
    windows = plan_windows(total, anchor=0)
    assert ranges(windows) == expected
    assert all(w == list(range(w[0], w[-1] + 1)) for w in windows)


def test_windows_from_the_last_frame_run_right_to_left():
    assert ranges(plan_windows(17, anchor=16)) == [(16, 1), (15, 0)]


def test_windows_from_a_middle_anchor_cover_both_sides():
    windows = plan_windows(31, anchor=5)
    assert ranges(windows) == [(5, 20), (15, 30), (15, 0)]
    assert windows[2] == list(range(15, -1, -1))


@pytest.mark.parametrize("total", [2, 3, 15, 16, 17, 31, 40, 61])
@pytest.mark.parametrize("anchor_at", [0.0, 0.3, 1.0])
def test_every_frame_is_covered_and_each_window_overlaps_known_frames(total, anchor_at):
    anchor = round(anchor_at * (total - 1))
    windows = plan_windows(total, anchor)
    known = {anchor}
    for window in windows:
        assert len(window) == min(16, total) and len(set(window)) == len(window)
        assert set(window) & known, "every window is conditioned on a known frame"
        known |= set(window)
    assert known == set(range(total))


def test_short_clip_is_one_window_with_the_anchor_first():
    assert plan_windows(5, anchor=3) == [[3, 0, 1, 2, 4]]


def test_window_noise_follows_the_official_draw_order():
    noise = window_noise(44, 1, frames=3, latent_shape=(4, 2))
    g = torch.Generator().manual_seed(45)
    torch.randn((1, 1, 4, 2), generator=g)
    torch.testing.assert_close(noise, torch.randn((1, 3, 4, 2), generator=g)[0])
    assert not torch.equal(noise, window_noise(44, 0, 3, (4, 2)))


@pytest.fixture
def denoiser():
    return build_model("actionmesh-denoiser", TINY_CONFIGS["actionmesh-denoiser"])


def sample_inputs(frames=4):
    return dict(noise=torch.randn(frames, 6, 16), context=torch.randn(frames, 5, 32),
                known=torch.randn(frames, 6, 16), mask=torch.tensor([1.0] + [0.0] * (frames - 1)))


def test_known_latents_stay_untouched_at_every_step(denoiser):
    x = sample_inputs()
    seen = []
    model_forward = denoiser.forward

    def spy(latents, *args, **kwargs):
        seen.append(latents[:, 0].clone())
        return model_forward(latents, *args, **kwargs)

    denoiser.forward = spy
    with torch.no_grad():
        out = flow_sample(denoiser, x["noise"], actionmesh_timesteps(5), x["context"], known=x["known"], mask=x["mask"])
    assert len(seen) == 5
    for frame0 in seen:
        assert torch.equal(frame0, x["known"][0].expand_as(frame0))
    assert torch.equal(out[0], x["known"][0])
    assert not torch.allclose(out[1:], x["noise"][1:])


def test_sequential_cfg_and_uncached_context_equal_the_batched_loop(denoiser):
    x = sample_inputs()
    t = actionmesh_timesteps(4)
    with torch.no_grad():
        batched = flow_sample(denoiser, x["noise"], t, x["context"],
                              known=x["known"], mask=x["mask"])
        sequential = flow_sample(denoiser, x["noise"], t, x["context"], known=x["known"], mask=x["mask"],
                                 batch_cfg=False, cache_context=False)
    torch.testing.assert_close(sequential, batched, atol=1e-5, rtol=1e-4)


def test_guidance_combines_branches_as_uncond_plus_scale_times_difference(denoiser):
    x = sample_inputs(frames=2)
    t = torch.tensor([1000.0, 0.0])
    with torch.no_grad():
        out = flow_sample(denoiser, x["noise"], t, x["context"], guidance=3.0)
        times = torch.tensor([[0.0, 1.0]])
        v_cond = denoiser(x["noise"][None], t[:1], x["context"][None], frame_times=times)[0]
        v_uncond = denoiser(x["noise"][None], t[:1], torch.zeros_like(x["context"])[None], frame_times=times)[0]
    torch.testing.assert_close(out, x["noise"] + 1.0 * (v_uncond + 3.0 * (v_cond - v_uncond)), atol=1e-5, rtol=1e-4)


def test_same_inputs_same_output(denoiser):
    x = sample_inputs()
    with torch.no_grad():
        a = flow_sample(denoiser, x["noise"], actionmesh_timesteps(3), x["context"], known=x["known"], mask=x["mask"])
        b = flow_sample(denoiser, x["noise"], actionmesh_timesteps(3), x["context"], known=x["known"], mask=x["mask"])
    assert torch.equal(a, b)


def test_progress_callback_counts_steps_and_can_cancel(denoiser):
    x = sample_inputs()
    calls = []

    class Cancelled(Exception):
        pass

    def on_step(step, total):
        calls.append((step, total))
        if step == 2:
            raise Cancelled

    with pytest.raises(Cancelled), torch.no_grad():
        flow_sample(denoiser, x["noise"], actionmesh_timesteps(5), x["context"], on_step=on_step)
    assert calls == [(1, 5), (2, 5)]
