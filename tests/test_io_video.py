"""load_clip on files: videos decoded by imageio-ffmpeg, frame folders, mask pairs and glob patterns."""

import logging

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from actionmesh_core.errors import InputError
from actionmesh_core.inputs.image_files import natural_key
from actionmesh_core.inputs.load import load_clip

T, H, W, FPS = 12, 48, 64, 12


def level(t: int) -> int:
    """Grey level that identifies frame t (spaced widely enough to survive lossy codecs)."""
    return 10 + 20 * t


def decoded_ids(frames: np.ndarray) -> list[int]:
    return [round((float(frame.mean()) - 10) / 20) for frame in frames]


def write_video(path, frames: np.ndarray, fps: float = FPS, **kwargs) -> None:
    pix_fmt_in = "rgba" if frames.shape[-1] == 4 else "rgb24"
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (frames.shape[2], frames.shape[1]),
        pix_fmt_in=pix_fmt_in,
        fps=fps,
        macro_block_size=1,
        ffmpeg_log_level="error",
        **kwargs,
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame).tobytes())
    writer.close()


def moving_square(t: int, size=(H, W)) -> np.ndarray:
    """(H, W, 4) RGBA: a 16x16 red square at x = 4 + 3t, y = 10, transparent elsewhere."""
    rgba = np.zeros((*size, 4), np.uint8)
    rgba[10:26, 4 + 3 * t : 20 + 3 * t] = (255, 0, 0, 255)
    return rgba


@pytest.fixture(scope="module")
def grey_frames() -> np.ndarray:
    return np.stack([np.full((H, W, 3), level(t), np.uint8) for t in range(T)])


@pytest.fixture(scope="module")
def mp4(tmp_path_factory, grey_frames):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_video(path, grey_frames)
    return path


CONTAINERS = {
    "mp4": {},
    "mov": {},
    "mkv": {},
    "avi": {"codec": "mpeg4", "quality": 10},
    "webm": {"codec": "libvpx-vp9", "output_params": ["-crf", "10", "-b:v", "0"]},
}


@pytest.mark.parametrize("suffix", sorted(CONTAINERS))
def test_every_container_decodes_all_frames_in_order_with_its_fps(tmp_path, grey_frames, suffix):
    path = tmp_path / f"clip.{suffix}"
    write_video(path, grey_frames, **CONTAINERS[suffix])
    clip = load_clip(path)
    assert clip.frames.shape == (T, H, W, 3) and clip.frames.dtype == np.uint8
    assert decoded_ids(clip.frames) == list(range(T))
    assert clip.fps == clip.source_fps == FPS
    assert clip.alpha is None  # an opaque video has no mask
    np.testing.assert_array_equal(clip.frame_indices, np.arange(T))
    np.testing.assert_allclose(clip.times, np.arange(T) / FPS)
    assert clip.source == path.name


def test_video_selection_start_end_stride(mp4):
    clip = load_clip(mp4, start=1, end=10, stride=3)
    np.testing.assert_array_equal(clip.frame_indices, [1, 4, 7])
    assert decoded_ids(clip.frames) == [1, 4, 7]
    assert clip.fps == FPS / 3 and clip.source_fps == FPS
    np.testing.assert_allclose(clip.times, [1 / 12, 4 / 12, 7 / 12])


def test_video_max_frames_warns_how_many_were_dropped(mp4, caplog):
    with caplog.at_level(logging.WARNING):
        clip = load_clip(mp4, stride=2, max_frames=4)
    np.testing.assert_array_equal(clip.frame_indices, [0, 2, 4, 6])
    assert decoded_ids(clip.frames) == [0, 2, 4, 6]
    message = caplog.text
    assert "max_frames=4" in message and "about 2 later ones" in message  # frames 8 and 10
    assert "raise max_frames" in message


def test_video_target_fps_picks_nearest_source_frames(mp4):
    clip = load_clip(mp4, target_fps=5)  # step 2.4: round(0, 2.4, 4.8, 7.2, 9.6) = 0, 2, 5, 7, 10
    np.testing.assert_array_equal(clip.frame_indices, [0, 2, 5, 7, 10])
    assert decoded_ids(clip.frames) == [0, 2, 5, 7, 10]
    assert clip.fps == pytest.approx(5.0)


def test_video_max_side_shrinks_while_reading(mp4):
    clip = load_clip(mp4, max_side=32)
    assert clip.frames.shape == (T, 24, 32, 3)
    assert decoded_ids(clip.frames) == list(range(T))


def test_fps_argument_overrides_the_file(mp4):
    clip = load_clip(mp4, fps=24, end=4)
    assert clip.source_fps == 24
    np.testing.assert_allclose(clip.times, np.arange(4) / 24)


def test_gif_keeps_its_transparency(tmp_path):
    frames = [Image.fromarray(moving_square(t)) for t in range(6)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, disposal=2)
    clip = load_clip(path)
    assert len(clip) == 6 and clip.source_fps == pytest.approx(10.0)
    for t in range(6):
        expected = moving_square(t)[..., 3] > 127
        np.testing.assert_array_equal(clip.alpha[t] > 127, expected)
        assert (clip.frames[t][expected] == (255, 0, 0)).all()


def test_webm_with_alpha_keeps_it(tmp_path):
    frames = np.stack([moving_square(t) for t in range(6)])
    frames[..., :3] = np.where(frames[..., 3:] > 0, frames[..., :3], 200)
    path = tmp_path / "alpha.webm"
    write_video(path, frames, codec="libvpx-vp9", pix_fmt_out="yuva420p", output_params=["-auto-alt-ref", "0"])
    clip = load_clip(path)
    assert clip.alpha is not None
    for t in range(6):
        expected = frames[t, ..., 3] > 127
        assert ((clip.alpha[t] > 127) == expected).mean() > 0.98  # lossy edges


def save_frames(folder, frames, name="frame_{}.png", start=1):
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / name.format(t + start))


def test_folder_is_read_in_natural_order(tmp_path, grey_frames):
    save_frames(tmp_path / "frames", grey_frames)  # frame_1.png ... frame_12.png: "10" sorts after "9"
    clip = load_clip(tmp_path / "frames")
    assert decoded_ids(clip.frames) == list(range(T))
    np.testing.assert_array_equal(clip.frames, grey_frames)  # PNG is lossless
    assert clip.alpha is None and clip.source_fps == 8.0


def test_natural_key_orders_numbers_by_value():
    from pathlib import Path

    names = ["f10.png", "f2.png", "F1.png", "f2b.png", "f01.png"]
    assert [p.name for p in sorted(map(Path, names), key=natural_key)] == [
        "F1.png",
        "f01.png",
        "f2.png",
        "f2b.png",
        "f10.png",
    ]


def test_folder_png_alpha_is_kept_and_selection_applies(tmp_path):
    frames = np.stack([moving_square(t) for t in range(8)])
    save_frames(tmp_path / "rgba", frames, name="{:03d}.png")
    clip = load_clip(tmp_path / "rgba", start=2, stride=2, max_side=32)
    np.testing.assert_array_equal(clip.frame_indices, [2, 4, 6])
    assert clip.frames.shape == (3, 24, 32, 3)
    assert clip.alpha.shape == (3, 24, 32)
    # frame 2: square at x, y in [10, 26) -> [5, 13) at half size; bilinear softens one pixel at the edges
    assert (clip.alpha[0, 6:12, 6:12] == 255).all() and (clip.alpha[0, :, 14:] == 0).all()


def test_folder_mixing_opaque_and_transparent_pngs(tmp_path):
    folder = tmp_path / "mixed"
    save_frames(folder, [moving_square(0), moving_square(1)[..., :3]])  # RGBA, then RGB
    clip = load_clip(folder)
    np.testing.assert_array_equal(clip.alpha[0], moving_square(0)[..., 3])
    assert (clip.alpha[1] == 255).all()  # a frame without alpha is opaque


def test_16_bit_masks_are_scaled_to_8_bits(tmp_path, grey_frames):
    save_frames(tmp_path / "frames", grey_frames[:2])
    (tmp_path / "masks").mkdir()
    half = [(moving_square(t)[..., 3] > 0).astype(np.uint16) * 128 for t in range(2)]
    for t in range(2):
        Image.fromarray(half[t] * 257).save(tmp_path / "masks" / f"m{t}.png")  # 16-bit 32896 = 8-bit 128
    clip = load_clip(tmp_path / "frames", masks=tmp_path / "masks")
    np.testing.assert_array_equal(clip.alpha, np.stack(half))


def test_folder_with_image_and_mask_pairs(tmp_path):
    folder = tmp_path / "pairs"
    folder.mkdir()
    for t in range(4):
        Image.fromarray(np.full((H, W, 3), level(t), np.uint8)).save(folder / f"{t:02d}_image.png")
        Image.fromarray(moving_square(t)[..., 3]).save(folder / f"{t:02d}_mask.png")
    clip = load_clip(folder)
    assert decoded_ids(clip.frames) == [0, 1, 2, 3]
    np.testing.assert_array_equal(clip.alpha, np.stack([moving_square(t)[..., 3] for t in range(4)]))


def test_mask_pairs_missing_a_mask_is_an_error(tmp_path):
    folder = tmp_path / "pairs"
    folder.mkdir()
    for t in range(3):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / f"{t}_image.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "0_mask.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "1_mask.png")
    with pytest.raises(InputError, match="no mask for image.*2_image.png"):
        load_clip(folder)


def test_mask_folder_given_separately(tmp_path, grey_frames):
    save_frames(tmp_path / "frames", grey_frames[:5])
    save_frames(tmp_path / "masks", [moving_square(t)[..., 3] for t in range(5)])
    clip = load_clip(tmp_path / "frames", masks=tmp_path / "masks", stride=2)
    np.testing.assert_array_equal(clip.alpha, np.stack([moving_square(t)[..., 3] for t in (0, 2, 4)]))


def test_glob_pattern_selects_matching_images(tmp_path, grey_frames):
    save_frames(tmp_path, grey_frames[:6], name="shot_a_{}.png")
    save_frames(tmp_path, grey_frames[6:9], name="shot_b_{}.png")
    clip = load_clip(str(tmp_path / "shot_b_*.png"))
    assert decoded_ids(clip.frames) == [6, 7, 8]


def test_jpg_folder(tmp_path, grey_frames):
    save_frames(tmp_path / "jpg", grey_frames[:4], name="{}.jpg")
    clip = load_clip(tmp_path / "jpg")
    assert decoded_ids(clip.frames) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda d: (d / "empty.mp4").write_bytes(b""), "cannot read empty.mp4 as a video"),
        (lambda d: (d / "notes.txt").write_text("not a video"), "cannot read notes.txt as a video"),
        (lambda d: (d / "fake.mp4").write_bytes(b"\x00" * 1000), "damaged or not a video"),
        (lambda d: write_video(d / "one.mp4", np.zeros((1, H, W, 3), np.uint8)), "1 frame.*at least 2"),
        (lambda d: Image.new("RGB", (8, 8)).save(d / "still.png"), "single image"),
    ],
    ids=["empty", "text", "garbage", "one-frame", "single-image"],
)
def test_bad_files_raise_clear_input_errors(tmp_path, make, match):
    make(tmp_path)
    (path,) = tmp_path.iterdir()
    with pytest.raises(InputError, match=match):
        load_clip(path)


def test_truncated_video_is_an_input_error(tmp_path, mp4):
    data = mp4.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="cut.mp4"):
        load_clip(tmp_path / "cut.mp4")


def test_missing_path_folder_without_images_and_unmatched_glob(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_clip(tmp_path / "nope.mp4")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("x")
    with pytest.raises(InputError, match="no PNG, JPG or WebP images"):
        load_clip(tmp_path / "docs")
    with pytest.raises(InputError, match="no files match"):
        load_clip(str(tmp_path / "*.png"))


def test_folder_with_different_frame_sizes_names_the_file(tmp_path):
    save_frames(tmp_path / "f", [np.zeros((8, 8, 3), np.uint8)] * 3)
    Image.new("RGB", (10, 8)).save(tmp_path / "f" / "frame_4.png")
    with pytest.raises(InputError, match="frame_4.png is 10x8 but frame_1.png is 8x8"):
        load_clip(tmp_path / "f")


def test_unreadable_frame_is_named_and_hidden_files_are_ignored(tmp_path):
    save_frames(tmp_path / "f", [np.zeros((8, 8, 3), np.uint8)] * 3)
    (tmp_path / "f" / "._frame_1.png").write_bytes(b"macOS resource fork")
    assert len(load_clip(tmp_path / "f")) == 3
    (tmp_path / "f" / "frame_2.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(InputError, match="cannot read the image .*frame_2.png"):
        load_clip(tmp_path / "f")


def test_selection_past_the_end_of_a_video(mp4):
    with pytest.raises(InputError, match="1 frame.*selected out of 12"):
        load_clip(mp4, start=11)
