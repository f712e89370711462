"""Synthetic animated objects: deterministic clips, tracked points that stay on the surface, renders,
watertight meshes, splits, and the stored dataset (model images exactly as the pipeline makes them)."""

import numpy as np
import pytest
import torch
import trimesh

from actionmesh_core.data.clips import (
    HELD_OUT_SEED,
    NORMALIZED_EXTENT,
    make_clip,
    split_seeds,
)
from actionmesh_core.data.dataset import SyntheticDataset, build_dataset, model_images
from actionmesh_core.data.layouts import CATEGORIES
from actionmesh_core.errors import InputError
from actionmesh_core.pipeline.framing import preprocess_clip
from actionmesh_core.inputs.load import load_clip
from actionmesh_core.models.dinov2 import normalize_pixels, preprocess_images


@pytest.fixture(scope="module")
def clips():
    return {name: make_clip(7, category=name) for name in CATEGORIES}


def test_clip_is_a_function_of_its_seed():
    a, b = make_clip(3), make_clip(3)
    assert a.category == b.category and a.camera == b.camera
    np.testing.assert_array_equal(a.pose.translations, b.pose.translations)
    np.testing.assert_array_equal(a.points(a.surface(100, seed=1)), b.points(b.surface(100, seed=1)))
    assert not np.allclose(make_clip(4, category=a.category).pose.translations[0, 0], a.pose.translations[0, 0])


def test_categories_cycle_with_the_seed():
    assert [make_clip(seed).category for seed in range(len(CATEGORIES))] == list(CATEGORIES)
    with pytest.raises(InputError, match="unknown category"):
        make_clip(0, category="dragon")


@pytest.mark.parametrize("name", list(CATEGORIES))
def test_tracked_points_stay_on_the_surface_with_outward_normals(clips, name):
    clip = clips[name]
    points = clip.points(clip.surface(400, seed=0))
    assert points.shape == (16, 400, 6)
    for frame in range(0, 16, 5):
        xyz, normals = points[frame, :, :3], points[frame, :, 3:]
        assert np.abs(clip.sdf(frame, xyz)).max() < 1e-4  # on the union's surface: on a part, outside the rest
        np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
        assert (clip.sdf(frame, xyz + 0.01 * normals) < 0).mean() > 0.97  # outside along +normal
        assert (clip.sdf(frame, xyz - 0.01 * normals) > 0).mean() > 0.97
    # the object moves, and the whole clip fits the model cube with its longest side at the extent
    assert np.linalg.norm(points[:, :, :3] - points[:1, :, :3], axis=-1).max() > 0.1
    assert np.abs(points[..., :3]).max() <= NORMALIZED_EXTENT + 1e-4


def test_renders_show_the_whole_object_on_transparency(clips):
    frames = clips["flapper"].render(size=96)
    assert frames.shape == (16, 96, 96, 4) and frames.dtype == np.uint8
    alpha = frames[..., 3] > 0
    assert 0.02 < alpha.mean() < 0.6
    assert not (alpha[:, 0].any() or alpha[:, -1].any() or alpha[:, :, 0].any() or alpha[:, :, -1].any())
    assert not np.array_equal(frames[0], frames[8])  # it moves


def test_frame_meshes_are_watertight_and_match_the_field(clips):
    clip = clips["lamp"]
    vertices, faces = clip.mesh(3, resolution=32)
    assert trimesh.Trimesh(vertices, faces).is_watertight
    assert np.abs(clip.sdf(3, vertices)).max() < 2.0 / 32  # within a cell of the exact surface


def test_splits_are_disjoint():
    train, heldout = split_seeds("train", 5), split_seeds("heldout", 5)
    assert train == [0, 1, 2, 3, 4] and heldout[0] == HELD_OUT_SEED and not set(train) & set(heldout)
    with pytest.raises(InputError, match="unknown split"):
        split_seeds("test", 3)


def test_model_images_are_what_the_pipeline_feeds_the_image_encoder(clips):
    frames = clips["biped"].render(size=128)[:3]
    images = model_images(frames)
    assert images.shape == (3, 224, 224, 3) and images.dtype == np.uint8
    expected = preprocess_images(torch.from_numpy(preprocess_clip(load_clip(frames)).images))
    torch.testing.assert_close(normalize_pixels(torch.from_numpy(images)), expected, atol=1e-5, rtol=0)


def test_dataset_stores_each_clip_and_its_exact_field(tmp_path):
    folder = build_dataset(tmp_path / "data", "heldout", 2, points=64, workers=1, progress=False)
    data = SyntheticDataset(folder)
    assert len(data) == 2 and data.meta["seeds"] == [HELD_OUT_SEED, HELD_OUT_SEED + 1]
    clip = make_clip(HELD_OUT_SEED + 1)
    np.testing.assert_allclose(data.points[1], clip.points(clip.surface(64, seed=HELD_OUT_SEED + 1)), atol=2e-3)
    assert (data.kind[1] >= 0).sum() == len(clip.rig.parts) and (data.kind[1, len(clip.rig.parts):] == -1).all()
    assert (data.images[1] < 200).any(axis=-1).mean() > 0.05  # the object, on white
    xyz = np.random.default_rng(0).uniform(-1, 1, size=(2, 50, 3)).astype(np.float32)
    fields = data.sdf(np.array([1, 1]), np.array([0, 9]), xyz)
    np.testing.assert_allclose(fields[0], clip.sdf(0, xyz[0]), atol=1e-5)
    np.testing.assert_allclose(fields[1], clip.sdf(9, xyz[1]), atol=1e-5)
    with pytest.raises(InputError, match="not a synthetic dataset"):
        SyntheticDataset(tmp_path)
