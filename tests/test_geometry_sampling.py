"""Surface sampling, farthest point sampling, vertex normals and the encoder point cloud."""

import numpy as np
import pytest
import torch
import trimesh

from actionmesh_core.errors import MeshError
from actionmesh_core.geometry import encoder_point_cloud, farthest_point_sampling, sample_surface


def test_samples_lie_on_the_surface_with_face_normals_area_weighted():
    bar = trimesh.creation.box(extents=(4.0, 1.0, 1.0))
    points, normals = sample_surface(bar.vertices, bar.faces, 20_000, seed=3)
    assert points.shape == normals.shape == (20_000, 3) and points.dtype == np.float32
    half = np.array([2.0, 0.5, 0.5])
    on_face = np.isclose(np.abs(points), half, atol=1e-5)
    assert on_face.any(axis=1).all()
    # each normal is the outward axis of the face the point lies on
    axis = np.abs(normals).argmax(axis=1)
    np.testing.assert_allclose(np.abs(normals).max(axis=1), 1.0, atol=1e-6)
    assert on_face[np.arange(len(axis)), axis].all()
    assert (np.sign(normals[np.arange(len(axis)), axis]) == np.sign(points[np.arange(len(axis)), axis])).all()
    # the four long faces hold 16 of the 18 square units of area
    assert (axis != 0).mean() == pytest.approx(16 / 18, abs=0.01)


def test_sampling_is_deterministic_for_a_seed():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    first = sample_surface(sphere.vertices, sphere.faces, 500, seed=7)
    again = sample_surface(sphere.vertices, sphere.faces, 500, seed=7)
    other = sample_surface(sphere.vertices, sphere.faces, 500, seed=8)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_sampling_a_zero_area_mesh_is_a_mesh_error():
    with pytest.raises(MeshError, match="zero surface area"):
        sample_surface(np.zeros((3, 3)), np.array([[0, 1, 2]]), 10, seed=0)


def test_farthest_point_sampling_known_answers():
    line = torch.arange(11.0)[:, None] * torch.tensor([[1.0, 0.0, 0.0]])
    assert farthest_point_sampling(line, 3).tolist() == [0, 10, 5]
    assert farthest_point_sampling(line, 2, start_index=4).tolist() == [4, 10]
    square = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    assert farthest_point_sampling(square, 4).tolist() == [0, 3, 1, 2]  # ties go to the lowest index
    with pytest.raises(ValueError):
        farthest_point_sampling(square, 5)


def test_farthest_point_sampling_picks_the_farthest_point_each_step():
    points = torch.from_numpy(np.random.default_rng(0).normal(size=(300, 3)).astype(np.float32))
    indices = farthest_point_sampling(points, 40)
    assert len(set(indices.tolist())) == 40
    for step in range(1, 40):
        chosen = points[indices[:step]]
        nearest = torch.cdist(points, chosen).min(dim=1).values
        assert nearest[indices[step]] == nearest.max()


def test_encoder_point_cloud_is_seeded_and_spread_out():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    surface, queries = encoder_point_cloud(sphere.vertices, sphere.faces, seed=5)
    assert surface.shape == (16_384, 6) and queries.shape == (2_048, 6)
    assert surface.dtype == queries.dtype == torch.float32
    again_surface, again_queries = encoder_point_cloud(sphere.vertices, sphere.faces, seed=5)
    assert torch.equal(surface, again_surface) and torch.equal(queries, again_queries)
    assert not torch.equal(encoder_point_cloud(sphere.vertices, sphere.faces, seed=6)[1], queries)
    # the queries are surface rows, and farther apart than a random subset of the same size
    surface_rows = {row.tobytes() for row in surface.numpy()}
    assert all(row.tobytes() in surface_rows for row in queries.numpy())
    spacing = torch.cdist(queries[:, :3], queries[:, :3]).fill_diagonal_(9).min()
    random_rows = surface[torch.randperm(16_384, generator=torch.Generator().manual_seed(0))[:2_048], :3]
    assert spacing > 2 * torch.cdist(random_rows, random_rows).fill_diagonal_(9).min()
