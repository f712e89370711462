"""Stage II windows: their size, and whether they chain or all deform the anchor, come from the settings or,
by default, from the model set (a Stage II model trained on short sequences decodes in short windows,
paper Tab. 5)."""

import json

import numpy as np
import pytest
import torch

from actionmesh_core.errors import InputError
from actionmesh_core.pipeline import ModelSet
from actionmesh_core.pipeline.stages import decode_animation
from actionmesh_core.diffusion.windows import anchored_windows, plan_windows

from pipeline_fixtures import fast_settings, tiny_models, write_tiny_root


def record_windows(models: ModelSet, sources: list | None = None) -> list[list[float]]:
    """Patch the model set's autoencoder so every call records the frame times of its window (and, in
    `sources`, its query positions)."""
    seen = []
    with models.use("actionmesh-autoencoder") as autoencoder:
        target_caches, decode_queries = autoencoder.target_caches, autoencoder.decode_queries

        def caches_spy(latents, frame_times, source_alpha, target_alphas):
            seen.append(frame_times[0].tolist())
            return target_caches(latents, frame_times, source_alpha, target_alphas)

        def queries_spy(cache, queries, query_chunk=65536):
            if sources is not None:
                sources.append(queries[0, :, :3].clone())
            return decode_queries(cache, queries, query_chunk)

        autoencoder.target_caches, autoencoder.decode_queries = caches_spy, queries_spy
    return seen


def decode(models: ModelSet, frames: int, anchor: int = 0, **settings) -> np.ndarray:
    latents = torch.randn(frames, models.num_tokens, 16, generator=torch.Generator().manual_seed(0))
    return decode_animation(models, latents, VERTICES, np.array([[0, 1, 2], [2, 3, 4]]), anchor,
                            fast_settings(**settings))


VERTICES = np.random.default_rng(0).uniform(-0.5, 0.5, size=(30, 3)).astype(np.float32)


@pytest.mark.parametrize("size, frames, anchor", [(4, 16, 0), (4, 11, 6), (2, 5, 0), (16, 20, 0)])
def test_windows_of_the_chosen_size_chain_from_decoded_frames(size, frames, anchor):
    models = tiny_models()
    seen = record_windows(models)
    vertices = decode(models, frames, anchor, decode_window=size)
    assert vertices.shape == (frames, 30, 3) and np.isfinite(vertices).all()
    windows = list(dict.fromkeys(tuple(w) for w in seen))  # one call per chunk of targets
    assert [list(map(float, w)) for w in plan_windows(frames, anchor, size, size - 1)] == [list(w) for w in windows]
    assert all(len(w) == min(size, frames) for w in windows)
    decoded = {float(anchor)}
    for window in windows:  # each window starts from a frame decoded before it, and all frames get decoded
        assert window[0] in decoded
        decoded |= set(window)
    assert decoded == set(map(float, range(frames)))


def test_the_model_sets_window_is_the_default(tmp_path):
    write_tiny_root(tmp_path)
    info = json.loads((tmp_path / "actionmesh.json").read_text())
    (tmp_path / "actionmesh.json").write_text(json.dumps({**info, "decode_window": 4, "decode_anchored": True}))
    models = ModelSet.from_weights(tmp_path, device="cpu", offload="keep")
    assert (models.decode_window, models.decode_anchored) == (4, True)
    assert (tiny_models().decode_window, tiny_models().decode_anchored) == (16, False)
    seen = record_windows(models)
    decode(models, 10)
    assert list(map(list, dict.fromkeys(map(tuple, seen)))) == [list(map(float, w)) for w in anchored_windows(10, 0, 4)]
    seen.clear()
    decode(models, 10, decode_window=6, decode_anchored=False)  # the settings win over the model set
    assert list(map(list, dict.fromkeys(map(tuple, seen)))) == [list(map(float, w)) for w in plan_windows(10, 0, 6, 5)]


def test_a_window_of_one_frame_is_refused():
    with pytest.raises(InputError, match="decode_window"):
        fast_settings(decode_window=1)


@pytest.mark.parametrize("total, anchor, size", [(16, 0, 4), (16, 0, 2), (11, 6, 3), (5, 4, 16), (2, 1, 2)])
def test_anchored_windows_hold_the_anchor_and_every_other_frame_once(total, anchor, size):
    windows = anchored_windows(total, anchor, size)
    assert all(anchor in w and w == sorted(w) and len(w) <= size for w in windows)
    others = [f for w in windows for f in w if f != anchor]
    assert sorted(others) == [f for f in range(total) if f != anchor]
    assert anchored_windows(16, 0, 4)[:2] == [[0, 1, 2, 3], [0, 4, 5, 6]]


def test_anchored_decoding_deforms_the_anchor_mesh_in_every_window():
    models, sources = tiny_models(), []
    seen = record_windows(models, sources)
    vertices = decode(models, 9, anchor=3, decode_window=3, decode_anchored=True)
    assert [list(map(float, w)) for w in anchored_windows(9, 3, 3)] == list(map(list, dict.fromkeys(map(tuple, seen))))
    assert all(torch.equal(source, torch.from_numpy(VERTICES)) for source in sources)
    assert np.array_equal(vertices[3], VERTICES) and np.isfinite(vertices).all()
    chained = decode(models, 9, anchor=3, decode_window=3, decode_anchored=False)
    assert not np.allclose(chained, vertices)  # the chained plan decodes some frames from predicted meshes
