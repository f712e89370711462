"""End-to-end runs of every path on tiny random-weight models (CPU)."""

import dataclasses

import numpy as np
import pytest
import torch
import trimesh

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.errors import InputError, WeightsError
from actionmesh_core.geometry import prepare_user_mesh
from actionmesh_core.io.mesh_file import load_user_mesh
from actionmesh_core.pipeline.framing import preprocess_clip, union_box
from actionmesh_core.inputs.load import load_clip
from actionmesh_core.pipeline import ReferenceMesh, animate, assemble, extend, run
from actionmesh_core.pipeline.run import model_frame_mesh
from actionmesh_core.diffusion.windows import plan_windows
from pipeline_fixtures import fast_settings, moving_disc, textured_box, tiny_models


@pytest.fixture(scope="module")
def sphere_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("mesh") / "sphere.glb"
    trimesh.creation.icosphere(subdivisions=1).export(path)
    return path


@pytest.fixture(scope="module")
def offset_sphere_path(tmp_path_factory):
    """A sphere away from the origin and not of unit size: its model transform is not the identity."""
    path = tmp_path_factory.mktemp("mesh") / "offset_sphere.glb"
    trimesh.creation.icosphere(subdivisions=1, radius=2.5).apply_translation((3.0, -1.0, 0.5)).export(path)
    return path


def test_video_to_4d_gives_one_topology_for_every_frame(models):
    anim = animate(moving_disc(5), models, fast_settings())
    assert anim.num_frames == 5 and anim.vertices.shape[1] == anim.num_vertices > 10
    assert anim.faces.max() < anim.num_vertices
    assert np.isfinite(anim.vertices).all() and np.abs(anim.vertices).max() <= 1.005  # the extraction cube
    assert anim.continuation.latents.shape == (5, 64, 16)
    assert anim.continuation.last_frame.shape == (64, 64, 4)
    assert not np.allclose(anim.vertices[1], anim.vertices[0])


def test_same_seed_gives_identical_arrays_and_another_seed_differs(models, sphere_path):
    a = animate(moving_disc(4), models, fast_settings(seed=3), mesh=sphere_path)
    b = animate(moving_disc(4), models, fast_settings(seed=3), mesh=sphere_path)
    c = animate(moving_disc(4), models, fast_settings(seed=4), mesh=sphere_path)
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.continuation.latents, b.continuation.latents)
    assert not np.array_equal(a.vertices, c.vertices)


def test_video_to_4d_same_seed_gives_identical_arrays(models):
    a = animate(moving_disc(3), models, fast_settings(seed=5))
    b = animate(moving_disc(3), models, fast_settings(seed=5))
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)
    assert np.array_equal(a.continuation.latents, b.continuation.latents)


def test_textured_mesh_keeps_layout_uvs_and_texture(models, tmp_path):
    source = textured_box(tmp_path / "box.glb")
    user = load_user_mesh(tmp_path / "box.glb")
    anim = animate(moving_disc(3), models, fast_settings(), mesh=tmp_path / "box.glb")
    assert anim.num_vertices == len(source.vertices) and np.array_equal(anim.faces, user.faces)
    assert np.array_equal(anim.uvs, user.uvs)
    assert [m.scalars() for m in anim.materials] == [m.scalars() for m in user.materials]
    assert np.array_equal(anim.materials[0].base_color_texture, user.materials[0].base_color_texture)
    # seam-split copies of one surface point move together (the model sees one merged vertex)
    key = np.round(user.vertices, 6)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    assert np.allclose(anim.vertices[:, np.arange(len(key))], anim.vertices[:, first[inverse.ravel()]])
    # the anchor frame is the user's own mesh, in its own units
    assert np.allclose(anim.vertices[0], user.vertices, atol=1e-5)


def test_motion_transfer_animates_the_other_object(models, sphere_path):
    anim = animate(moving_disc(4), models, fast_settings(anchor_frame=1), mesh=sphere_path)
    sphere = load_user_mesh(sphere_path)
    assert anim.num_vertices == len(sphere.vertices) and np.array_equal(anim.faces, sphere.faces)
    assert np.allclose(anim.vertices[1], sphere.vertices, atol=1e-5)  # the mesh sits at the chosen frame
    assert anim.num_frames == 4


class SourceSpy:
    """Records every Stage II decoder call (one per group of targets): its window (frame indices), source
    frame and source vertices (the queried vertex chunks of that call, joined)."""

    def __init__(self, models):
        self.calls = []
        model = models._loader("actionmesh-autoencoder", models.device, models.dtype)
        target_caches, decode_queries = model.target_caches, model.decode_queries

        def caches_spy(latents, frame_times, source_alpha, target_alphas):
            window = [int(t) for t in frame_times[0].tolist()]
            source = round(min(window) + float(source_alpha[0]) * (max(window) - min(window)))
            self.calls.append((window, source, torch.zeros(0, 3)))
            return target_caches(latents, frame_times, source_alpha, target_alphas)

        def queries_spy(cache, queries, query_chunk=65536):
            window, source, vertices = self.calls[-1]
            self.calls[-1] = (window, source, torch.cat([vertices, queries[0, :, :3].float().cpu()]))
            return decode_queries(cache, queries, query_chunk)

        model.target_caches, model.decode_queries = caches_spy, queries_spy
        models._cache["actionmesh-autoencoder"] = model

    def windows(self) -> list[list[int]]:
        """The windows in decoding order (a window with several target chunks makes several calls)."""
        windows = []
        for window, _, _ in self.calls:
            if not windows or windows[-1] != window:
                windows.append(window)
        return windows


def assert_windows_continuous(spy: SourceSpy, anim, anchor: int = 0) -> None:
    """One decoder window per planned window, each starting from a frame an earlier window (or the anchor)
    gave, with exactly that frame's output vertices (compared in the model frame)."""
    assert spy.windows() == plan_windows(anim.num_frames, anchor)
    covered = {anchor}
    for window, source, vertices in spy.calls:
        assert source in covered and source in window
        expected, _ = model_frame_mesh(anim, source)
        assert np.allclose(vertices.numpy(), expected, atol=1e-5)
        covered |= set(window)


@pytest.mark.parametrize("frames", [2, 16, 17, 31, 61])
def test_any_length_every_frame_present_and_windows_continuous(frames, offset_sphere_path):
    models = tiny_models()
    spy = SourceSpy(models)
    anim = animate(moving_disc(frames, size=48), models, fast_settings(steps=1), mesh=offset_sphere_path)
    assert anim.num_frames == frames and anim.continuation.latents.shape[0] == frames
    assert np.isfinite(anim.vertices).all()
    assert not np.allclose(anim.model_transform, np.eye(4))
    assert len(spy.windows()) == len(plan_windows(frames, 0))
    assert_windows_continuous(spy, anim)


def test_video_to_4d_of_17_frames_every_frame_present_and_windows_continuous():
    models = tiny_models()
    spy = SourceSpy(models)
    anim = animate(moving_disc(17, size=48), models, fast_settings(steps=1))
    assert anim.num_frames == 17 and anim.continuation.latents.shape[0] == 17 and anim.model_transform is None
    assert len(spy.windows()) == len(plan_windows(17, 0)) == 2
    assert_windows_continuous(spy, anim)


def test_prefix_of_a_longer_clip_equals_the_short_clip(sphere_path):
    short = animate(moving_disc(16, static_box=True), tiny_models(), fast_settings(steps=1), mesh=sphere_path)
    long = animate(moving_disc(31, static_box=True), tiny_models(), fast_settings(steps=1), mesh=sphere_path)
    assert np.array_equal(long.vertices[:16], short.vertices)
    assert np.array_equal(long.continuation.latents[:16], short.continuation.latents)


def denoiser_windows(models) -> list[list[int]]:
    """Patch the model set's denoiser so every Stage I window records its frames (in window order)."""
    seen = []
    model = models._loader("actionmesh-denoiser", models.device, models.dtype)
    rope = model.rope

    def spy(frame_times):
        seen.append([int(t) for t in frame_times[0].tolist()])
        return rope(frame_times)

    model.rope = spy
    models._cache["actionmesh-denoiser"] = model
    return seen


def test_middle_anchor_follows_the_official_plan_and_decodes_every_frame(sphere_path):
    """20 frames, anchor 10 (2 * 10 <= 20): forward first, [10..19] clamped to start at the anchor, then
    [15..0] (spec §3.7); Stage II decodes in the same windows, each from its first frame, and frame 0 too."""
    models = tiny_models()
    stage_i, stage_ii = denoiser_windows(models), SourceSpy(models)
    anim = animate(moving_disc(20, size=48), models, fast_settings(steps=1, anchor_frame=10), mesh=sphere_path)
    assert anim.num_frames == 20 and np.isfinite(anim.vertices).all()
    planned = [list(range(10, 20)), list(range(15, -1, -1))]
    assert stage_i == planned and stage_ii.windows() == planned
    assert list(dict.fromkeys(source for _, source, _ in stage_ii.calls)) == [10, 15]  # several target chunks each
    assert_windows_continuous(stage_ii, anim, anchor=10)
    sphere = load_user_mesh(sphere_path)
    assert np.allclose(anim.vertices[10], sphere.vertices, atol=1e-5)


def test_extend_continues_from_the_last_frame(models, sphere_path):
    first = animate(moving_disc(5), models, fast_settings(), mesh=sphere_path)
    longer = extend(first, moving_disc(4), models, fast_settings())
    assert longer.num_frames == 9 and np.array_equal(longer.faces, first.faces)
    assert np.array_equal(longer.vertices[:5], first.vertices)
    assert np.all(np.diff(longer.frame_times) > 0)
    assert longer.continuation.latents.shape[0] == 9
    assert np.array_equal(longer.continuation.latents[:5], first.continuation.latents)
    again = extend(first, moving_disc(4), models, fast_settings())
    assert np.array_equal(again.vertices, longer.vertices)


def test_extend_keeps_uvs_and_texture(models, tmp_path):
    textured_box(tmp_path / "box.glb")
    first = animate(moving_disc(3), models, fast_settings(), mesh=tmp_path / "box.glb")
    longer = extend(first, moving_disc(3), models, fast_settings())
    assert first.uvs is not None and first.materials[0].base_color_texture is not None
    assert np.array_equal(longer.uvs, first.uvs) and np.array_equal(
        longer.materials[0].base_color_texture, first.materials[0].base_color_texture)


def test_extend_without_masks_uses_the_matting_of_animate(models, sphere_path, monkeypatch):
    first = animate(moving_disc(5), models, fast_settings(), mesh=sphere_path)
    frames = moving_disc(9)[5:]
    with pytest.raises(InputError, match="no subject masks"):  # no RMBG-1.4 in the tiny model set
        extend(first, frames[..., :3], models, fast_settings())
    matted = []

    def matting_for(models, progress=None):
        return lambda rgb: matted.append(len(rgb)) or frames[..., 3]

    monkeypatch.setattr(run, "matting_for", matting_for)
    with_masks = extend(first, frames, models, fast_settings())
    matted.clear()
    without = extend(first, frames[..., :3], models, fast_settings())
    assert matted == [4]  # only the new frames, once
    assert np.array_equal(without.vertices, with_masks.vertices)


def test_extend_keeps_the_framing_of_the_first_run(models, sphere_path, monkeypatch, caplog):
    clip = moving_disc(9)  # the disc keeps moving right: frames 5..8 reach past the first 5 frames' box
    first = animate(clip[:5], models, fast_settings(), mesh=sphere_path)
    assert tuple(first.continuation.crop_box) == union_box(clip[:5, ..., 3])
    images = []
    encode = run.encode_frames
    monkeypatch.setattr(run, "encode_frames",
                        lambda models, frames, *args: images.append(frames) or encode(models, frames, *args))
    longer = extend(first, clip[5:], models, fast_settings())
    first_run_images = preprocess_clip(load_clip(clip[:5])).images
    assert np.array_equal(images[0][0], first_run_images[-1])  # the last frame is framed as in the first run
    assert np.array_equal(longer.continuation.crop_box, first.continuation.crop_box)
    assert "outside the framing" in caplog.text


def test_saved_result_can_be_extended_after_loading(models, sphere_path, tmp_path):
    first = animate(moving_disc(3), models, fast_settings(), mesh=sphere_path)
    first.save(tmp_path / "anim.npz")
    loaded = AnimatedMesh.load(tmp_path / "anim.npz")
    assert np.array_equal(loaded.merge_map, first.merge_map)
    assert np.array_equal(loaded.continuation.crop_box, first.continuation.crop_box)
    assert extend(loaded, moving_disc(3), models, fast_settings()).num_frames == 6
    without_box = dataclasses.replace(first.continuation, crop_box=None)  # saved before crop boxes were kept
    dataclasses.replace(first, continuation=without_box).save(tmp_path / "older.npz")
    older = AnimatedMesh.load(tmp_path / "older.npz")
    assert older.continuation.crop_box is None and extend(older, moving_disc(3), models, fast_settings()).num_frames == 6


def test_frame_times_follow_the_selected_source_frames(sphere_path):
    clip = load_clip(moving_disc(12), start=2, target_fps=3)  # source frames 2, 5, 7, 10 of 8 fps
    expected = clip.times - clip.times[0]
    assert not np.allclose(expected, np.arange(len(clip)) / clip.fps)
    prepared = prepare_user_mesh(load_user_mesh(sphere_path))
    latents = torch.zeros(len(clip), 4, 2)
    vertices = np.repeat(prepared.vertices[None], len(clip), axis=0)
    for reference in (ReferenceMesh(prepared.vertices, prepared.faces, latents[0]),  # video -> 4D
                      ReferenceMesh(prepared.vertices, prepared.faces, latents[0], prepared=prepared)):
        anim = assemble(vertices, latents, reference, clip)
        assert np.allclose(anim.frame_times, expected) and anim.fps == clip.fps


def test_the_stages_one_by_one_give_the_one_call_result(models, sphere_path):
    """prepare_frames -> temporal_latents -> decode_latents (what the stage nodes call) is animate_reference, for a
    user's mesh and for a reference mesh with its latent."""
    settings = fast_settings(seed=2)
    frames = run.prepare_frames(load_clip(moving_disc(4)), models)
    assert frames.features.device.type == "cpu"  # device memory stays bounded however long the clip
    whole = run.animate_reference(frames, sphere_path, models, settings)
    latents = run.temporal_latents(frames, sphere_path, models, settings)
    staged = run.decode_latents(latents, sphere_path, frames.clip, models, settings)
    assert np.array_equal(staged.vertices, whole.vertices) and np.array_equal(staged.faces, whole.faces)
    reference = run.make_reference(frames, models, settings, sphere_path)
    assert run.make_reference(frames, models, settings, reference) is reference  # a reference is used as it is
    again = run.decode_latents(run.temporal_latents(frames, reference, models, settings), reference, frames.clip,
                               models, settings)
    assert np.array_equal(again.vertices, whole.vertices)


def test_known_latents_must_fit_the_clip_and_the_models(models, sphere_path):
    settings = fast_settings()
    frames = run.prepare_frames(load_clip(moving_disc(3)), models)
    reference = run.make_reference(frames, models, settings, sphere_path)
    with pytest.raises(InputError, match="has 16 tokens but these models use 64"):
        run.temporal_latents(frames, reference, models, settings, known={0: torch.zeros(16, 16)})
    with pytest.raises(InputError, match="anchor frame 5 is outside the clip's 3 selected frames"):
        run.temporal_latents(frames, reference, models, settings, known={5: reference.latent})
    latents = run.temporal_latents(frames, reference, models, settings, known={0: reference.latent})
    assert latents.shape == (3, 64, 16) and torch.equal(latents[0], reference.latent)


def test_remove_background_needs_rmbg(models):
    with pytest.raises(WeightsError, match="RMBG-1.4 background remover is not installed.*--only rmbg"):
        run.remove_background(moving_disc(2)[..., :3], models)
