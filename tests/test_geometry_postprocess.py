"""Anchor-mesh clean-up: merge/clean, quadric decimation, floater removal, and their chain."""

import numpy as np
import pytest
import trimesh

from actionmesh_core.errors import MeshError
from actionmesh_core.geometry import clean_mesh, decimate, postprocess_mesh, remove_floaters


def unmerged(mesh):
    """The same surface with every face owning its own three vertices."""
    return trimesh.Trimesh(mesh.triangles.reshape(-1, 3), np.arange(3 * len(mesh.faces)).reshape(-1, 3), process=False)


def sphere_with_floaters():
    """A 1280-face sphere, a 320-face speck (25%) and a 4-face speck (0.3%)."""
    big = trimesh.creation.icosphere(subdivisions=3, radius=0.6)
    medium = trimesh.creation.icosphere(subdivisions=2, radius=0.1).apply_translation([0.9, 0, 0])
    tiny = trimesh.Trimesh(np.eye(4, 3) * 0.02 + [-0.9, 0, 0], [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    return trimesh.util.concatenate([big, medium, tiny])


def test_clean_merges_vertices_and_drops_bad_faces():
    cube = trimesh.creation.box()
    soup = unmerged(cube)
    faces = np.concatenate([soup.faces, soup.faces[:2], [[0, 0, 1]]])  # 2 duplicates, 1 degenerate
    vertices = np.concatenate([soup.vertices, [[5.0, 5.0, 5.0]]])  # 1 unreferenced
    cleaned = clean_mesh(trimesh.Trimesh(vertices, faces, process=False))
    assert len(cleaned.vertices) == 8 and len(cleaned.faces) == 12
    assert cleaned.is_watertight and cleaned.volume == pytest.approx(1.0)


def test_decimate_reaches_the_budget_and_keeps_the_shape():
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.5)  # 20480 faces
    reduced = decimate(sphere, 2000)
    assert 1800 <= len(reduced.faces) <= 2000
    assert np.abs(np.linalg.norm(reduced.vertices, axis=1) - 0.5).max() < 0.01
    assert decimate(reduced, 5000) is reduced


def test_remove_floaters_keeps_components_above_the_threshold():
    mesh = sphere_with_floaters()
    assert len(remove_floaters(mesh, 0.02).faces) == 1280 + 320
    assert len(remove_floaters(mesh, 0.003).faces) == 1280 + 320 + 4
    assert len(remove_floaters(mesh, 0.5).faces) == 1280
    assert remove_floaters(mesh, 0.0) is mesh


def test_postprocess_chains_clean_decimate_and_floaters():
    mesh = unmerged(sphere_with_floaters())
    vertices, faces = postprocess_mesh(mesh.vertices, mesh.faces, face_budget=800, floaters_threshold=0.02)
    assert vertices.dtype == np.float32 and faces.dtype == np.int64
    result = trimesh.Trimesh(vertices, faces, process=False)
    assert len(faces) <= 800
    assert len(result.split(only_watertight=False)) == 2  # only the 4-face speck is gone
    assert np.linalg.norm(vertices, axis=1).min() > 0.55  # the big sphere survives


def test_postprocess_leaves_small_clean_meshes_alone():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    vertices, faces = postprocess_mesh(sphere.vertices, sphere.faces)
    np.testing.assert_allclose(vertices, sphere.vertices, atol=1e-6)
    np.testing.assert_array_equal(faces, sphere.faces)


def test_postprocess_rejects_a_mesh_of_degenerate_faces():
    with pytest.raises(MeshError, match="no usable faces"):
        postprocess_mesh(np.zeros((3, 3)), np.array([[0, 1, 2]]))
