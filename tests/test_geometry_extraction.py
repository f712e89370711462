"""Coarse-to-fine extraction on analytic fields (positive inside, like TripoSG's decoder)."""

import numpy as np
import pytest
import torch
import trimesh

from actionmesh_core.errors import InputError, MeshError
from actionmesh_core.geometry import extract_mesh

BOUNDS = 1.005


def sphere(radius=0.6, center=(0.1, -0.2, 0.05)):
    center = torch.tensor(center)
    return lambda p: radius - (p - center).norm(dim=-1)


def torus(major=0.5, minor=0.2):
    return lambda p: minor - torch.stack([p[:, [0, 2]].norm(dim=-1) - major, p[:, 1]], -1).norm(dim=-1)


def box(half=(0.5, 0.3, 0.4)):
    half = torch.tensor(half)

    def field(p):
        q = p.abs() - half
        return -(q.clamp(min=0).norm(dim=-1) + q.max(dim=-1).values.clamp(max=0))

    return field


def order_one(field, slope=20.0):
    """A truncated field in [-1, 1] with a steep ramp, shaped like TripoSG's decoder output."""
    return lambda p: (field(p) * slope).clamp(-1.0, 1.0)


def as_mesh(vertices, faces):
    return trimesh.Trimesh(vertices, faces, process=False)


def test_sphere_is_accurate_watertight_outward_and_in_world_units():
    # 63 -> 126 cells as in TripoSG's ladder: vertices must be divided by 126, not 128.
    vertices, faces, stats = extract_mesh(sphere(), resolution=126, coarse_resolution=63, band=0.0)
    mesh = as_mesh(vertices, faces)
    cell = 2 * BOUNDS / 126
    center = np.array([0.1, -0.2, 0.05])
    assert vertices.dtype == np.float32 and faces.dtype == np.int64
    assert np.abs(np.linalg.norm(vertices - center, axis=1) - 0.6).max() < 0.05 * cell
    np.testing.assert_allclose(mesh.bounds, [center - 0.6, center + 0.6], atol=0.05 * cell)
    assert mesh.is_watertight and mesh.euler_number == 2
    assert mesh.volume == pytest.approx(4 / 3 * np.pi * 0.6**3, rel=0.01)  # positive: faces wind outward
    centroids_out = ((mesh.triangles_center - center) * mesh.face_normals).sum(1)
    assert (centroids_out > 0).all()
    assert stats["dense_queries"] == 127**3
    assert stats["queries"] == sum(level["queries"] for level in stats["levels"])
    assert [level["resolution"] for level in stats["levels"]] == [63, 126]


def test_order_one_torus_refines_a_thin_band_only():
    vertices, faces, stats = extract_mesh(order_one(torus()), resolution=128, coarse_resolution=16)
    mesh = as_mesh(vertices, faces)
    distance = torus()(torch.from_numpy(vertices)).abs()
    assert distance.max() < 0.05 * (2 * BOUNDS / 128)
    assert mesh.is_watertight and mesh.euler_number == 0  # genus one
    assert mesh.volume == pytest.approx(2 * np.pi**2 * 0.5 * 0.2**2, rel=0.01)
    assert stats["queries"] < stats["dense_queries"] / 6
    assert len(stats["levels"]) == 4


def test_box_with_sharp_edges():
    vertices, faces, _ = extract_mesh(box(), resolution=64, coarse_resolution=16, band=0.05)
    mesh = as_mesh(vertices, faces)
    assert box()(torch.from_numpy(vertices)).abs().max() < 0.3 * (2 * BOUNDS / 64)
    assert mesh.is_watertight and mesh.euler_number == 2
    assert mesh.volume == pytest.approx(1.0 * 0.6 * 0.8, rel=0.03)


def test_hierarchical_equals_dense_for_a_non_metric_field():
    # Magnitudes far from the surface differ wildly: unqueried samples must not matter.
    field = torus()

    def stretched(p):
        return field(p) * (1 + 30 * p.square().sum(-1)) ** 2

    dense_v, dense_f, dense_stats = extract_mesh(stretched, resolution=64, coarse_resolution=64, band=0.0)
    fine_v, fine_f, fine_stats = extract_mesh(stretched, resolution=64, coarse_resolution=8, band=0.0)
    assert dense_stats["queries"] == dense_stats["dense_queries"]
    assert fine_stats["queries"] < dense_stats["queries"] / 2
    np.testing.assert_array_equal(fine_f, dense_f)
    np.testing.assert_allclose(fine_v, dense_v, atol=1e-6)


def test_queries_are_chunked_float32_and_2d_outputs_are_accepted():
    calls = []

    def field(points):
        calls.append((points.shape, points.dtype))
        return sphere()(points)[:, None].double()

    _, _, stats = extract_mesh(field, resolution=32, coarse_resolution=8, band=0.0, chunk_size=1000)
    assert all(len(shape) == 2 and shape[0] <= 1000 and shape[1] == 3 for shape, _ in calls)
    assert {dtype for _, dtype in calls} == {torch.float32}
    assert sum(shape[0] for shape, _ in calls) == stats["queries"]
    assert len(calls) == stats["sdf_calls"]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (lambda p: -torch.ones(len(p)), "no surface"),
        (lambda p: torch.ones(len(p)), "no surface"),
        (lambda p: torch.full((len(p),), float("nan")), "NaN"),
    ],
)
def test_unusable_fields_raise_mesh_errors(field, message):
    with pytest.raises(MeshError, match=message):
        extract_mesh(field, resolution=16, coarse_resolution=8)


@pytest.mark.parametrize(("resolution", "coarse"), [(96, 64), (48, 16), (8, 16), (16, 1)])
def test_resolution_must_be_coarse_times_a_power_of_two(resolution, coarse):
    with pytest.raises(InputError):
        extract_mesh(sphere(), resolution=resolution, coarse_resolution=coarse)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_field_gives_the_cpu_mesh():
    field = order_one(torus())
    cpu_v, cpu_f, _ = extract_mesh(field, resolution=64, coarse_resolution=16)
    cuda_v, cuda_f, _ = extract_mesh(lambda p: field(p.cuda()), resolution=64, coarse_resolution=16)
    np.testing.assert_array_equal(cuda_f, cpu_f)
    np.testing.assert_allclose(cuda_v, cpu_v, atol=1e-5)
