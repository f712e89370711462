"""Memory that does not grow with vertices x frames x something big: Stage II decodes the vertices in chunks
sized to a budget (the same values as one pass), normals are computed a few frames at a time, the user's
layout is restored frame by frame. The peak RSS numbers are in scripts/bench_memory.py and the README."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from actionmesh_core.base import normals as normals_module
from actionmesh_core.base.normals import vertex_normals
from actionmesh_core.geometry import prepare_user_mesh
from actionmesh_core.io.mesh_file import UserMesh
from actionmesh_core.models.temporal_autoencoder import TemporalAutoencoder
from actionmesh_core.pipeline import stages
from actionmesh_core.pipeline.stages import DECODE_MEMORY_MB_CPU, decode_animation, decode_budget
from pipeline_fixtures import fast_settings, tiny_models


@pytest.fixture(scope="module")
def models():
    return tiny_models(device="cpu", dtype="fp32")


@pytest.fixture(scope="module")
def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=3)  # 642 vertices
    return np.asarray(mesh.vertices, np.float32) * 0.8, np.asarray(mesh.faces)


def _latents(models, frames: int) -> torch.Tensor:
    channels = models._loader("actionmesh-autoencoder", torch.device("cpu"), torch.float32).config.latent_channels
    return torch.randn(frames, models.num_tokens, channels, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize(("decode_window", "anchored", "anchor"), [(2, True, 1), (4, False, 0), (4, False, 3)])
def test_chunked_decoding_equals_one_pass(models, sphere, monkeypatch, decode_window, anchored, anchor):
    vertices, faces = sphere
    latents = _latents(models, frames=6)
    settings = fast_settings(decode_window=decode_window, decode_anchored=anchored, decode_batch=2)
    whole = decode_animation(models, latents, vertices, faces, anchor, settings)

    sizes = []
    real = TemporalAutoencoder.decode_queries

    def counted(self, cache, queries, query_chunk=65536):
        sizes.append((queries.shape[1], cache.k.shape[0]))  # (vertices, targets) of this call
        return real(self, cache, queries, query_chunk)

    monkeypatch.setattr(TemporalAutoencoder, "decode_queries", counted)
    autoencoder = models._loader("actionmesh-autoencoder", torch.device("cpu"), torch.float32)
    budget = 100 * autoencoder.query_bytes(2)  # 100 vertices of 2 targets at once
    monkeypatch.setattr(stages, "decode_budget", lambda device, megabytes: budget)
    chunked = decode_animation(models, latents, vertices, faces, anchor, settings)
    assert all(count * autoencoder.query_bytes(targets) <= budget for count, targets in sizes)
    assert max(count for count, _ in sizes) < len(vertices) and len(sizes) >= 4  # the budget split the vertices
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    np.testing.assert_array_equal(chunked[anchor], vertices)


def test_the_budget_is_a_setting_else_1_gib_on_cpu_else_a_quarter_of_free_gpu_memory(monkeypatch):
    assert decode_budget(torch.device("cpu")) == DECODE_MEMORY_MB_CPU * 2**20 == 2**30
    assert decode_budget(torch.device("cpu"), 64) == 64 * 2**20
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (40 * 2**30, 80 * 2**30))
    assert decode_budget(torch.device("cuda")) == 10 * 2**30
    assert decode_budget(torch.device("cuda"), 512) == 512 * 2**20
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2**20, 80 * 2**30))
    assert decode_budget(torch.device("cuda")) == 256 * 2**20  # a floor, so decoding still moves forward


def test_query_cost_grows_with_width_and_targets():
    small = TemporalAutoencoder.__new__(TemporalAutoencoder)
    small.config = type("Config", (), {"query_channels": 54, "width": 96, "out_dim": 3})()
    wide = TemporalAutoencoder.__new__(TemporalAutoencoder)
    wide.config = type("Config", (), {"query_channels": 54, "width": 1024, "out_dim": 3})()
    assert small.query_bytes(1) < wide.query_bytes(1) < wide.query_bytes(4) == 4 * wide.query_bytes(1)
    assert wide.query_bytes(4) // 1000 == (4 * 4 * (54 + 16 * 1024 + 6)) // 1000  # ~ 263 kB per vertex


def test_decode_memory_is_validated():
    from actionmesh_core.errors import InputError

    with pytest.raises(InputError, match="decode_memory_mb must be at least 16"):
        fast_settings(decode_memory_mb=8)


def test_normals_of_many_frames_in_groups_equal_all_at_once(sphere, monkeypatch):
    vertices, faces = sphere
    frames = np.stack([vertices * (1 + 0.1 * k) + 0.05 * np.sin(vertices * (k + 1)) for k in range(7)])
    together = vertex_normals(frames, faces)
    monkeypatch.setattr(normals_module, "CHUNK_BYTES", 84 * len(faces) * 2)  # two frames at a time
    np.testing.assert_array_equal(vertex_normals(frames, faces), together)
    np.testing.assert_array_equal(vertex_normals(frames[3], faces), together[3])


def test_restoring_the_layout_frame_by_frame_equals_the_formula(sphere):
    vertices, faces = sphere
    seams = np.concatenate([vertices, vertices[:50]])  # 50 seam duplicates
    prepared = prepare_user_mesh(UserMesh(seams * 3.0 + 1.0, faces), up_axis="+z")
    moved = np.stack([prepared.vertices * (1 + 0.1 * k) for k in range(4)])
    restored = prepared.restore_original_layout(moved)
    expected = prepared.frame.from_model(moved)[:, prepared.merge_map]
    np.testing.assert_allclose(restored, expected, atol=1e-6)
    assert restored.shape == (4, len(seams), 3) and restored.dtype == np.float32
    np.testing.assert_allclose(prepared.restore_original_layout(moved[1]), expected[1], atol=1e-6)
