"""End-to-end runs of every path on tiny random-weight models (CPU)."""

import numpy as np
import pytest
import torch
import trimesh

from actionmesh_core.geometry import load_user_mesh
from actionmesh_core.pipeline import animate, extend
from pipeline_fixtures import fast_settings, moving_disc, textured_box, tiny_models


@pytest.fixture(scope="module")
def models():
    return tiny_models()


@pytest.fixture(scope="module")
def sphere_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("mesh") / "sphere.glb"
    trimesh.creation.icosphere(subdivisions=1).export(path)
    return path


def test_video_to_4d_gives_one_topology_for_every_frame(models):
    anim = animate(moving_disc(5), models, fast_settings())
    assert anim.num_frames == 5 and anim.vertices.shape[1] == anim.num_vertices > 10
    assert anim.faces.max() < anim.num_vertices
    assert np.isfinite(anim.vertices).all() and np.abs(anim.vertices).max() <= 1.005  # the extraction cube
    assert anim.latents.shape == (5, 64, 16)
    assert anim.last_frame.shape == (64, 64, 4)
    assert not np.allclose(anim.vertices[1], anim.vertices[0])


def test_same_seed_gives_identical_arrays_and_another_seed_differs(models, sphere_path):
    a = animate(moving_disc(4), models, fast_settings(seed=3), mesh=sphere_path)
    b = animate(moving_disc(4), models, fast_settings(seed=3), mesh=sphere_path)
    c = animate(moving_disc(4), models, fast_settings(seed=4), mesh=sphere_path)
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.latents, b.latents)
    assert not np.array_equal(a.vertices, c.vertices)


def test_textured_mesh_keeps_layout_uvs_and_texture(models, tmp_path):
    source = textured_box(tmp_path / "box.glb")
    user = load_user_mesh(tmp_path / "box.glb")
    anim = animate(moving_disc(3), models, fast_settings(), mesh=tmp_path / "box.glb")
    assert anim.num_vertices == len(source.vertices) and np.array_equal(anim.faces, user.faces)
    assert np.array_equal(anim.uvs, user.uvs) and np.array_equal(anim.texture, user.texture)
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
    """Records the source vertices every Stage II window starts from."""

    def __init__(self, models):
        self.sources = []
        model = models._loader("actionmesh-autoencoder", models.device, models.dtype)
        forward = model.forward

        def spy(latents, frame_times, source_alpha, target_alphas, queries, **kwargs):
            self.sources.append((frame_times[0].tolist(), queries[0, :, :3].clone()))
            return forward(latents, frame_times, source_alpha, target_alphas, queries, **kwargs)

        model.forward = spy
        models._cache["actionmesh-autoencoder"] = model


@pytest.mark.parametrize("frames", [2, 16, 17, 31, 61])
def test_any_length_every_frame_present_and_windows_continuous(frames, sphere_path):
    models = tiny_models()
    spy = SourceSpy(models)
    anim = animate(moving_disc(frames, size=48), models, fast_settings(steps=1), mesh=sphere_path)
    assert anim.num_frames == frames and anim.latents.shape[0] == frames
    assert np.isfinite(anim.vertices).all()
    for window_times, source in spy.sources:
        start = int(window_times[0])
        # every window starts from a frame that is already in the output, unchanged
        assert torch.equal(source, torch.from_numpy(anim.vertices[start]))


def test_prefix_of_a_longer_clip_equals_the_short_clip(sphere_path):
    short = animate(moving_disc(16, static_box=True), tiny_models(), fast_settings(steps=1), mesh=sphere_path)
    long = animate(moving_disc(31, static_box=True), tiny_models(), fast_settings(steps=1), mesh=sphere_path)
    assert np.array_equal(long.vertices[:16], short.vertices)
    assert np.array_equal(long.latents[:16], short.latents)


def test_middle_anchor_decodes_every_frame(sphere_path):
    anim = animate(moving_disc(20, size=48), tiny_models(), fast_settings(steps=1, anchor_frame=10),
                   mesh=sphere_path)
    assert anim.num_frames == 20
    sphere = load_user_mesh(sphere_path)
    assert np.allclose(anim.vertices[10], sphere.vertices, atol=1e-5)


def test_extend_continues_from_the_last_frame(models, sphere_path):
    first = animate(moving_disc(5), models, fast_settings(), mesh=sphere_path)
    longer = extend(first, moving_disc(4), models, fast_settings())
    assert longer.num_frames == 9 and np.array_equal(longer.faces, first.faces)
    assert np.array_equal(longer.vertices[:5], first.vertices)
    assert np.all(np.diff(longer.frame_times) > 0)
    assert longer.latents.shape[0] == 9 and np.array_equal(longer.uvs, first.uvs) if first.uvs is not None else True
    again = extend(first, moving_disc(4), models, fast_settings())
    assert np.array_equal(again.vertices, longer.vertices)


def test_saved_result_can_be_extended_after_loading(models, sphere_path, tmp_path):
    from actionmesh_core.animated_mesh import AnimatedMesh

    first = animate(moving_disc(3), models, fast_settings(), mesh=sphere_path)
    first.save(tmp_path / "anim.npz")
    loaded = AnimatedMesh.load(tmp_path / "anim.npz")
    assert np.array_equal(loaded.merge_map, first.merge_map)
    assert extend(loaded, moving_disc(3), models, fast_settings()).num_frames == 6
