"""Subject masks and framing: mask checks, union box, exact-square white padding (spec §7.3)."""

import numpy as np
import pytest

from actionmesh_core.base.option_names import OptionNames
from actionmesh_core.errors import InputError
from actionmesh_core.inputs.clip import Clip
from actionmesh_core.pipeline.framing import (
    check_masks,
    preprocess_clip,
    square_padding,
    union_box,
    with_subject_masks,
)


def make_clip(alpha: np.ndarray, indices=None, rgb=(200, 40, 10)) -> Clip:
    t, h, w = alpha.shape
    frames = np.empty((t, h, w, 3), np.uint8)
    frames[:] = rgb
    indices = np.arange(t) if indices is None else np.asarray(indices)
    return Clip(frames, alpha.astype(np.uint8), 8.0, indices, 8.0, "test.mp4")


def boxes_alpha(shape, boxes) -> np.ndarray:
    """(T, H, W) alpha with one opaque (x0, y0, x1, y1) rectangle per frame."""
    alpha = np.zeros((len(boxes), *shape), np.uint8)
    for t, (x0, y0, x1, y1) in enumerate(boxes):
        alpha[t, y0:y1, x0:x1] = 255
    return alpha


def test_union_box_of_moving_subject():
    alpha = boxes_alpha((60, 80), [(10, 20, 30, 40), (25, 15, 50, 35), (12, 30, 20, 45)])
    assert union_box(alpha) == (10, 15, 50, 45)


def test_union_box_counts_any_alpha_above_zero():
    alpha = boxes_alpha((60, 80), [(10, 20, 30, 40), (10, 20, 30, 40)])
    alpha[1, 55, 70] = 1  # a faint pixel still counts (spec: alpha > 0, not thresholded)
    assert union_box(alpha) == (10, 20, 71, 56)


@pytest.mark.parametrize(
    "width, height, ratio, expected",
    [
        (30, 20, 0.1, (3, 8, 3, 8)),  # m=30, base=3, pad_y = 3 + 10//2
        (31, 20, 0.1, (3, 8, 3, 9)),  # m - h = 11 is odd: the extra pixel goes to the bottom
        (20, 31, 0.1, (8, 3, 9, 3)),
        (50, 50, 0.1, (5, 5, 5, 5)),
        (9, 4, 0.1, (0, 2, 0, 3)),  # int(0.9) = 0
        (40, 10, 0.0, (0, 15, 0, 15)),
        (100, 37, 0.25, (25, 56, 25, 57)),
    ],
)
def test_square_padding_known_answers(width, height, ratio, expected):
    left, top, right, bottom = square_padding(width, height, ratio)
    assert (left, top, right, bottom) == expected
    assert left + width + right == top + height + bottom == max(width, height) + 2 * int(ratio * max(width, height))


def test_preprocess_crops_pads_and_composites_on_white():
    alpha = boxes_alpha((60, 80), [(10, 20, 31, 40), (20, 25, 35, 30)])  # union (10, 20, 35, 40): 25 x 20
    clip = make_clip(alpha)
    out = preprocess_clip(clip)
    assert out.box == (10, 20, 35, 40)
    assert out.padding == (2, 4, 2, 5)  # m=25, base=2, pad_y = 2 + 5//2, +1 at the bottom
    assert out.images.shape == (2, 29, 29, 3) and out.images.dtype == np.uint8
    left, top = out.padding[:2]
    # the docstring's mapping: clip pixel (x, y) -> (x - x0 + left, y - y0 + top)
    for t in range(2):
        inside = alpha[t] == 255
        ys, xs = np.nonzero(inside)
        np.testing.assert_array_equal(
            out.images[t, ys - 20 + top, xs - 10 + left], np.tile([200, 40, 10], (len(ys), 1))
        )
        opaque = np.zeros((29, 29), bool)
        opaque[ys - 20 + top, xs - 10 + left] = True
        assert (out.images[t][~opaque] == 255).all()  # white wherever alpha = 0, padding included


def test_partial_alpha_blends_with_white():
    alpha = boxes_alpha((20, 20), [(5, 5, 15, 15), (5, 5, 15, 15)])
    alpha[:, 10, 10] = 128
    out = preprocess_clip(make_clip(alpha, rgb=(100, 50, 0)))
    y, x = 10 - 5 + out.padding[1], 10 - 5 + out.padding[0]
    a = 128 / 255
    expected = np.round(np.array([100, 50, 0]) * a + 255 * (1 - a))  # 177, 152, 127
    np.testing.assert_array_equal(out.images[0, y, x], expected)


def test_float_output_matches_uint8():
    alpha = boxes_alpha((30, 40), [(3, 4, 20, 25), (10, 2, 30, 20)])
    alpha[:, 10:12, 10:14] = 77
    clip = make_clip(alpha)
    as_uint8 = preprocess_clip(clip).images
    as_float = preprocess_clip(clip, dtype=np.float32).images
    assert as_float.dtype == np.float32 and as_float.min() >= 0 and as_float.max() <= 1
    np.testing.assert_allclose(as_float * 255, as_uint8, atol=0.5 + 1e-3)


def test_output_is_native_resolution():
    alpha = boxes_alpha((400, 600), [(100, 50, 500, 350), (100, 50, 500, 350)])
    out = preprocess_clip(make_clip(alpha))
    assert out.images.shape == (2, 480, 480, 3)  # 400 + 2 * 40, no resize


def test_masks_are_checked_and_bad_frames_are_named_by_source_index():
    alpha = boxes_alpha((50, 50), [(0, 0, 25, 25)] * 4)
    alpha[1] = 0  # empty
    alpha[3] = 255  # full
    clip = make_clip(alpha, indices=[0, 7, 14, 21])
    with pytest.raises(InputError) as error:
        preprocess_clip(clip)
    message = str(error.value)
    assert "frame(s) 7 is empty: the subject is not visible" in message
    assert "frame(s) 21 covers the whole frame" in message
    assert "start/end" in message


def test_mask_coverage_threshold_is_one_percent_at_127():
    alpha = np.zeros((2, 100, 100), np.uint8)
    alpha[:, :10, :10] = 255  # exactly 1 % foreground: valid
    check_masks(make_clip(alpha))
    alpha[0, 0, 0] = 127  # not above the threshold: 0.99 % -> empty
    with pytest.raises(InputError, match="frame\\(s\\) 0 is empty"):
        check_masks(make_clip(alpha))


def test_without_masks_the_error_says_what_to_supply():
    clip = make_clip(np.full((2, 10, 10), 255, np.uint8)).with_alpha(None)
    with pytest.raises(InputError, match=r"transparent background or subject masks \(masks\), or install the RMBG-1.4"):
        preprocess_clip(clip)
    with pytest.raises(InputError, match=r"transparent background or subject masks \(--masks\), or install"):
        with_subject_masks(clip, names=OptionNames({"masks": "--masks"}))


def test_matting_fn_supplies_missing_masks():
    wanted = boxes_alpha((20, 30), [(2, 3, 12, 15), (5, 5, 20, 18)])
    clip = make_clip(wanted).with_alpha(None)
    calls = []

    def matting(frames):
        calls.append(frames.shape)
        return wanted

    masked = with_subject_masks(clip, matting)
    assert calls == [(2, 20, 30, 3)]
    np.testing.assert_array_equal(masked.alpha, wanted)
    assert preprocess_clip(clip, matting_fn=matting).box == (2, 3, 20, 18)


def test_matting_failures_are_named():
    clip = make_clip(np.zeros((3, 10, 10), np.uint8)).with_alpha(None)
    with pytest.raises(InputError, match="background remover's mask of frame\\(s\\) 0, 1, 2 is empty"):
        with_subject_masks(clip, lambda frames: np.zeros(frames.shape[:3], np.uint8))


def test_bad_options():
    clip = make_clip(boxes_alpha((10, 10), [(2, 2, 8, 8)] * 2))
    with pytest.raises(InputError, match="padding_ratio"):
        preprocess_clip(clip, padding_ratio=-0.1)
    with pytest.raises(InputError, match="dtype"):
        preprocess_clip(clip, dtype=np.float64)


def test_a_given_box_replaces_the_union_box_and_cuts_off_what_lies_outside():
    clip = make_clip(boxes_alpha((60, 80), [(10, 15, 30, 35), (20, 25, 40, 45)]))
    union = preprocess_clip(clip)
    assert np.array_equal(preprocess_clip(clip, box=union.box).images, union.images)
    first = preprocess_clip(clip, box=(10, 15, 30, 35))  # the first frame's box: frame 1 moves out of it
    assert first.box == (10, 15, 30, 35) and first.images.shape[1:3] == (24, 24)
    inner = first.images[:, 2:22, 2:22]  # inside the 2-pixel margin
    assert (inner[0] == (200, 40, 10)).all()  # frame 0 fills the box
    assert (inner[1, :10, :] == 255).all() and (inner[1, 10:, 10:] == (200, 40, 10)).all()  # frame 1: one corner


def test_rgba_frames_carry_the_mask_and_are_opaque_without_one():
    alpha = boxes_alpha((20, 30), [(2, 3, 10, 12), (5, 5, 15, 15)])
    clip = make_clip(alpha)
    assert clip.rgba.shape == (2, 20, 30, 4)
    assert np.array_equal(clip.rgba[..., :3], clip.frames) and np.array_equal(clip.rgba[..., 3], alpha)
    opaque = Clip(clip.frames, None, 8.0, np.arange(2), 8.0)
    assert (opaque.rgba[..., 3] == 255).all()
