"""Frame selection, the Clip type, and load_clip on frames already in memory (numpy, torch, PIL)."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from actionmesh_core.base.option_names import OptionNames
from actionmesh_core.errors import InputError
from actionmesh_core.inputs.clip import Clip, FrameSelection
from actionmesh_core.inputs.load import load_clip


def picked(selection: FrameSelection, num_frames: int, fps: float = 30.0) -> list[int]:
    return [index for index, _ in selection.select(range(num_frames), fps, "test", num_frames=num_frames)]


@pytest.mark.parametrize(
    "kwargs, num_frames, expected",
    [
        ({}, 5, [0, 1, 2, 3, 4]),
        ({"start": 3, "end": 9, "stride": 2}, 20, [3, 5, 7]),
        ({"end": 100}, 4, [0, 1, 2, 3]),  # end past the source is fine
        ({"stride": 4}, 9, [0, 4, 8]),
        ({"max_frames": 3, "start": 2}, 10, [2, 3, 4]),
        ({"target_fps": 12.0}, 12, [0, 3, 5, 8, 10]),  # 30 -> 12 fps: step 2.5, nearest frames
        ({"target_fps": 10.0, "start": 1}, 10, [1, 4, 7]),
        ({"target_fps": 30.0}, 4, [0, 1, 2, 3]),
    ],
)
def test_selection_known_answers(kwargs, num_frames, expected):
    assert picked(FrameSelection(**kwargs), num_frames) == expected


def test_target_fps_above_source_keeps_every_frame_once(caplog):
    with caplog.at_level(logging.WARNING):
        assert picked(FrameSelection(target_fps=60.0), 5) == [0, 1, 2, 3, 4]
    assert "above the source rate" in caplog.text


def test_max_frames_warning_gives_the_exact_count(caplog):
    with caplog.at_level(logging.WARNING):
        assert picked(FrameSelection(stride=2, max_frames=3), 20) == [0, 2, 4]
    assert "kept the first 3 selected frames and dropped 7 later ones" in caplog.text


def test_no_warning_when_nothing_is_dropped(caplog):
    with caplog.at_level(logging.WARNING):
        assert picked(FrameSelection(max_frames=5), 5) == [0, 1, 2, 3, 4]
    assert caplog.text == ""


def test_selection_stops_pulling_items_once_complete():
    pulled = []

    def items():
        for index in range(1000):
            pulled.append(index)
            yield index

    selection = FrameSelection(start=2, max_frames=3)
    assert [i for i, _ in selection.select(items(), 30.0, "test")] == [2, 3, 4]
    assert len(pulled) <= 6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"start": -1}, "start must be 0 or more"),
        ({"start": 5, "end": 5}, "end .* must be greater than start"),
        ({"stride": 0}, "stride must be 1 or more"),
        ({"max_frames": 1}, "max_frames must be at least 2"),
        ({"target_fps": 0.0}, "target_fps must be a positive number"),
        ({"target_fps": 10.0, "stride": 2}, "either stride or target_fps"),
        ({"stride": 1.5}, "whole number"),
    ],
)
def test_bad_selection_values(kwargs, match):
    with pytest.raises(InputError, match=match):
        FrameSelection(**kwargs)


def test_fewer_than_two_frames_is_an_error():
    with pytest.raises(InputError, match="1 frame.*at least 2"):
        picked(FrameSelection(stride=10), 5)


def numbered(n: int, size=(6, 8)) -> np.ndarray:
    """(n, H, W, 3) uint8 where frame t is filled with the value t * 10."""
    return np.stack([np.full((*size, 3), t * 10, np.uint8) for t in range(n)])


def test_clip_slicing_and_times():
    clip = load_clip(numbered(10), fps=20, stride=2)  # source indices 0, 2, ..., 8 at 10 fps
    assert clip.fps == 10 and clip.source_fps == 20
    np.testing.assert_allclose(clip.times, [0, 0.1, 0.2, 0.3, 0.4])
    window = clip[1:4]
    np.testing.assert_array_equal(window.frame_indices, [2, 4, 6])
    np.testing.assert_array_equal(window.frames[:, 0, 0, 0], [20, 40, 60])
    half = clip[::2]
    assert half.fps == 5 and list(half.frame_indices) == [0, 4, 8]
    assert len(clip) == 5 and clip.size == (8, 6)


def test_clip_rejects_inconsistent_fields():
    frames = numbered(3)
    with pytest.raises(InputError, match="alpha must be"):
        Clip(frames, np.zeros((3, 5, 8), np.uint8), 8.0, np.arange(3), 8.0)
    with pytest.raises(InputError, match="increase strictly"):
        Clip(frames, None, 8.0, np.array([0, 2, 2]), 8.0)
    with pytest.raises(InputError, match="uint8"):
        Clip(frames.astype(np.float32), None, 8.0, np.arange(3), 8.0)


def test_uint8_float_and_torch_frames_give_the_same_clip():
    frames = numbered(6)
    from_uint8 = load_clip(frames)
    from_float = load_clip(frames.astype(np.float32) / 255.0)
    from_torch = load_clip(torch.from_numpy(frames).float() / 255.0)  # ComfyUI IMAGE
    from_pil = load_clip([Image.fromarray(frame) for frame in frames])
    for clip in (from_uint8, from_float, from_torch, from_pil):
        np.testing.assert_array_equal(clip.frames, frames)
        assert clip.alpha is None and clip.source == "frames"


def test_rgba_array_keeps_alpha_and_max_side_applies():
    frames = np.zeros((4, 40, 80, 4), np.uint8)
    frames[:, 10:30, 20:60] = 255
    clip = load_clip(frames, max_side=40)
    assert clip.frames.shape == (4, 20, 40, 3)
    assert clip.alpha[0, 10, 20] == 255 and clip.alpha[0, 0, 0] == 0


def test_comfyui_mask_is_inverted_when_asked():
    frames = torch.from_numpy(numbered(4)).float() / 255.0
    comfy_mask = torch.ones(4, 6, 8)  # ComfyUI MASK: 1 = transparent
    comfy_mask[:, 2:4, 3:6] = 0.0  # the subject
    clip = load_clip(frames, masks=comfy_mask, invert_masks=True)
    expected = np.zeros((4, 6, 8), np.uint8)
    expected[:, 2:4, 3:6] = 255
    np.testing.assert_array_equal(clip.alpha, expected)
    straight = load_clip(frames, masks=comfy_mask.numpy())
    np.testing.assert_array_equal(straight.alpha, 255 - expected)


def test_masks_follow_the_frame_selection_and_are_resized_to_the_frames():
    frames = numbered(6, size=(20, 40))
    masks = np.zeros((6, 10, 20), bool)
    for t in range(6):
        masks[t, :, t] = True  # one column per frame, at x = t
    clip = load_clip(frames, masks=masks, stride=2, max_side=20)
    assert clip.alpha.shape == (3, 10, 20)
    assert [int(np.argmax(a[5])) for a in clip.alpha] == [0, 2, 4]


def test_separate_masks_override_frame_alpha():
    frames = np.full((3, 4, 4, 4), 255, np.uint8)
    masks = np.zeros((3, 4, 4), np.uint8)
    clip = load_clip(frames, masks=masks)
    assert (clip.alpha == 0).all()


@pytest.mark.parametrize(
    "source, kwargs, match",
    [
        (np.zeros((6, 8, 3), np.uint8), {}, "single .* image"),
        (np.zeros((3, 6, 8), np.uint8), {}, r"\(T, H, W, 3\)"),
        (np.full((3, 6, 8, 3), 200.0, np.float32), {}, "floats up to 200.*0..1"),
        (np.zeros((3, 6, 8, 3), np.int64), {}, "dtype int64"),
        ({"frames": 1}, {}, "dict are not supported"),
        ([np.zeros((6, 8, 3), np.uint8), np.zeros((6, 9, 3), np.uint8)], {}, "frame 1 is 9x6 but frame 0 is 8x6"),
        (np.zeros((1, 6, 8, 3), np.uint8), {}, "1 frame.*at least 2"),
        (np.zeros((4, 6, 8, 3), np.uint8), {"masks": np.zeros((2, 6, 8))}, "2 mask.*source frame 3"),
        (np.zeros((4, 6, 8, 3), np.uint8), {"masks": np.zeros((4, 6, 16))}, "mask 0 is 16x6 but the frames are 8x6"),
        (np.zeros((4, 6, 8, 3), np.uint8), {"max_side": 0}, "max_side"),
        (np.zeros((4, 6, 8, 3), np.uint8), {"fps": -1.0}, "fps must be"),
    ],
    ids=[
        "single",
        "no-channels",
        "float255",
        "int64",
        "dict",
        "sizes",
        "one-frame",
        "few-masks",
        "mask-shape",
        "max-side",
        "fps",
    ],
)
def test_bad_memory_input(source, kwargs, match):
    with pytest.raises(InputError, match=match):
        load_clip(source, **kwargs)


NODE_NAMES = OptionNames({"start": "start_frame", "end": None, "max_frames": "frame_load_cap", "target_fps": None})
CLI_FLAGS = OptionNames({"start": "--start", "end": "--end", "max_frames": "--max-frames", "target_fps": "--fps",
                         "stride": "--stride"})


def test_long_video_warning_names_the_options_the_user_has(caplog):
    """The same warning, worded with each front end's names: a node without an fps or end widget is not told to
    change them; every message of the pack carries the pack's prefix."""
    with caplog.at_level(logging.WARNING):
        picked(FrameSelection(stride=2, max_frames=3, names=NODE_NAMES), 20)
    assert caplog.messages == ["[ActionMesh] test: frame_load_cap=3 kept the first 3 selected frames and dropped 7 "
                               "later ones. To keep them, raise frame_load_cap or raise stride, or choose another "
                               "part with start_frame."]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        picked(FrameSelection(stride=2, max_frames=3, names=CLI_FLAGS), 20)
    assert "--max-frames=3 kept" in caplog.text and "raise --max-frames, raise --stride or lower --fps, or choose " \
                                                     "another part with --start/--end." in caplog.text
    assert "max_frames" not in caplog.text.replace("--max-frames", "")


def test_too_few_frames_error_names_the_options_the_user_has():
    with pytest.raises(InputError) as error:
        picked(FrameSelection(start=8, stride=3, names=NODE_NAMES), 10)
    assert str(error.value) == ("test: 1 frame(s) selected out of 10 (start_frame=8, stride=3); ActionMesh needs at "
                                "least 2. Give a longer video, or lower start_frame or lower stride.")
    with pytest.raises(InputError, match=r"\(--start=8, --stride=3\).*lower --start, lower --stride, raise --end or "
                                         r"raise --fps\.$"):
        picked(FrameSelection(start=8, stride=3, names=CLI_FLAGS), 10)
    with pytest.raises(InputError, match="frame_load_cap must be at least 2"):
        FrameSelection(max_frames=1, names=NODE_NAMES)


def test_option_names_leave_out_what_a_front_end_lacks():
    names = OptionNames({"a": "--a", "b": None})
    assert names("a") == "--a" and names("b") is None and names("c") == "c"
    assert names.advice(("raise", "a"), ("lower", "b"), ("", "c")) == "raise --a or c"
    assert names.advice(("lower", "b")) == "" and names.advice(("raise", "c")) == "raise c"
    assert names.values(a=1, b=2, c=None, d=0) == "--a=1, d=0"
