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


def spelled(first: int, last: int) -> list[int]:
    """The contiguous window from `first` to `last`, descending when last < first."""
    return list(range(first, last + 1)) if first <= last else list(range(first, last - 1, -1))


# Expected plans (window size 16, slide 15), derived by hand from spec §3.7, not from the code. Each
# window is (first, last) in window order: (15, 0) is 15, 14, ..., 0. The rule, for total > 16: the
# forward side goes first when 2 * anchor <= total; "chunked over [a, b)" = the first window ends at
# min(a + 16, b), each next one 15 later (clamped to b), each starts 16 before its end but never before a.
#   forward first:  chunked over [anchor, total), then chunked over [0, max(anchor + 1, 16)), last to first,
#                   each descending;
#   backward first: chunked over [0, anchor + 1), last to first, each descending, then chunked over
#                   [min(anchor, total - 16), total);
# a window holding no new frame is skipped (anchor 0: the backward [15..0]; last frame: the forward one).
SPEC_PLANS = {
    (17, 0): [(0, 15), (1, 16)],
    (17, 1): [(1, 16), (15, 0)],
    (17, 8): [(8, 16), (15, 0)],  # 2 * 8 <= 17: forward first, a 9-frame window clamped to the anchor
    (17, 9): [(9, 0), (1, 16)],  # 18 > 17: backward first, [0, 10) is one 10-frame window
    (17, 16): [(16, 1), (15, 0)],
    (20, 10): [(10, 19), (15, 0)],  # even length, anchor in the middle: 20 <= 20, forward first
    (31, 0): [(0, 15), (15, 30)],
    (31, 5): [(5, 20), (15, 30), (15, 0)],  # the spec's own example
    (31, 15): [(15, 30), (15, 0)],
    (31, 16): [(16, 1), (15, 0), (15, 30)],
    (31, 30): [(30, 15), (15, 0)],
    (32, 0): [(0, 15), (15, 30), (16, 31)],
    (32, 15): [(15, 30), (16, 31), (15, 0)],
    (32, 16): [(16, 31), (16, 1), (15, 0)],  # even length, anchor in the middle: forward first
    (32, 17): [(17, 2), (15, 0), (16, 31)],
    (32, 31): [(31, 16), (30, 15), (15, 0)],
    (46, 0): [(0, 15), (15, 30), (30, 45)],
    (46, 10): [(10, 25), (25, 40), (30, 45), (15, 0)],
    (46, 23): [(23, 38), (30, 45), (23, 8), (15, 0)],  # even length, anchor in the middle
    (46, 30): [(30, 15), (15, 0), (30, 45)],
    (46, 45): [(45, 30), (30, 15), (15, 0)],
    (61, 0): [(0, 15), (15, 30), (30, 45), (45, 60)],
    (61, 40): [(40, 25), (30, 15), (15, 0), (40, 55), (45, 60)],  # the spec's own example
    (91, 0): [(0, 15), (15, 30), (30, 45), (45, 60), (60, 75), (75, 90)],
    (91, 45): [(45, 60), (60, 75), (75, 90), (45, 30), (30, 15), (15, 0)],
    (91, 46): [(46, 31), (45, 30), (30, 15), (15, 0), (46, 61), (61, 76), (75, 90)],
    (91, 50): [(50, 35), (45, 30), (30, 15), (15, 0), (50, 65), (65, 80), (75, 90)],
    (91, 90): [(90, 75), (75, 60), (60, 45), (45, 30), (30, 15), (15, 0)],
}
# Clips of at most one window: the anchor first, then the other frames ascending (the official planner for
# 16 frames; shorter clips, which the official CLI refuses, follow the same rule).
SHORT_PLANS = {
    (2, 0): [[0, 1]],
    (2, 1): [[1, 0]],
    (5, 3): [[3, 0, 1, 2, 4]],
    (16, 0): [list(range(16))],
    (16, 7): [[7, *range(7), *range(8, 16)]],
    (16, 15): [[15, *range(15)]],
}


@pytest.mark.parametrize("total, anchor", sorted(SPEC_PLANS))
def test_windows_match_the_plans_derived_from_the_spec(total, anchor):
    assert plan_windows(total, anchor) == [spelled(*w) for w in SPEC_PLANS[total, anchor]]


@pytest.mark.parametrize("total, anchor", sorted(SHORT_PLANS))
def test_a_clip_of_one_window_puts_the_anchor_first(total, anchor):
    assert plan_windows(total, anchor) == SHORT_PLANS[total, anchor]


def test_short_stage_ii_windows_follow_the_same_rule():
    # size 4, slide 3, 11 frames, anchor 6: 12 > 11, backward first over [0, 7) -> [0..3], [3..6], then
    # forward over [min(6, 11 - 4), 11) = [6, 11) -> [6..9], [7..10]
    assert ranges(plan_windows(11, 6, size=4, slide=3)) == [(6, 3), (3, 0), (6, 9), (7, 10)]
    # size 2, slide 1, 4 frames, anchor 2: 4 <= 4, forward first over [2, 4) -> [2, 3]; backward over [0, 3)
    assert plan_windows(4, 2, size=2, slide=1) == [[2, 3], [2, 1], [1, 0]]


def test_known_frames_drop_windows_with_nothing_new():
    assert plan_windows(31, 0, known={0, *range(15, 31)}) == [list(range(16))]
    assert plan_windows(31, 0, known=set(range(16))) == [list(range(15, 31))]


@pytest.mark.parametrize("size", [16, 4, 2])
def test_every_plan_covers_the_clip_from_known_frames(size):
    """Every length 2..100 and every anchor: each window of at most `size` distinct frames, contiguous
    (ascending or descending) when the clip has several windows, starting from a frame known before it
    (the anchor or an earlier window's: Stage II deforms that frame's mesh), generating at least one new
    frame; together they cover every frame; the first starts at the anchor and runs forward first exactly
    when 2 * anchor <= length."""
    slide = size - 1
    for total in range(2, 101):
        for anchor in range(total):
            windows = plan_windows(total, anchor, size, slide)
            known = {anchor}
            assert windows[0][0] == anchor
            for window in windows:
                assert len(window) <= size and len(set(window)) == len(window)
                assert window[0] in known and set(window) - known
                if total > size:
                    steps = {b - a for a, b in zip(window, window[1:])}
                    assert steps in ({1}, {-1}, set())
                known |= set(window)
            assert known == set(range(total)), (total, anchor)
            if total > size and 0 < anchor < total - 1:
                assert (windows[0][-1] > anchor) == (2 * anchor <= total), (total, anchor)


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


def test_the_sampler_draws_no_randomness_and_leaves_its_inputs_untouched(denoiser):
    """All of a run's randomness is its seeded starting noise: the loop itself must not draw from torch's global
    generator (the second run below starts from another global state) nor change the tensors it is given
    (a second run with the same tensors would then start elsewhere)."""
    x = sample_inputs()
    given = {key: value.clone() for key, value in x.items()}
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        with torch.no_grad():
            runs.append(flow_sample(denoiser, x["noise"], actionmesh_timesteps(3), x["context"], known=x["known"],
                                    mask=x["mask"]))
        assert all(torch.equal(x[key], given[key]) for key in x)
    assert torch.equal(runs[0], runs[1])
    with torch.no_grad():  # and the result does depend on the noise it was given
        other = flow_sample(denoiser, x["noise"] + 1.0, actionmesh_timesteps(3), x["context"], known=x["known"],
                            mask=x["mask"])
    assert not torch.allclose(other[1:], runs[0][1:])


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
