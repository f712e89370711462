"""The `.npz` result file: the mesh and, beside it, the run's `Continuation` (what `extend` needs)."""

import numpy as np
import pytest

from actionmesh_core.animated_mesh import AnimatedMesh, Continuation
from actionmesh_core.errors import MeshError

FACES = np.array([[0, 1, 2], [0, 2, 3]])


def frames(count: int = 3) -> np.ndarray:
    return np.random.default_rng(0).random((count, 4, 3)).astype(np.float32)


def continuation(count: int = 3) -> Continuation:
    rng = np.random.default_rng(1)
    return Continuation(last_frame=rng.integers(0, 256, (6, 5, 4), dtype=np.uint8),
                        latents=rng.random((count, 8, 2)).astype(np.float32), crop_box=[1, 2, 5, 6])


def test_the_continuation_is_saved_beside_the_mesh_and_read_back(tmp_path):
    anim = AnimatedMesh(frames(), FACES, continuation=continuation())
    loaded = AnimatedMesh.load(anim.save(tmp_path / "anim.npz"))
    for key in Continuation.ARRAYS:
        np.testing.assert_array_equal(getattr(loaded.continuation, key), getattr(anim.continuation, key))
    assert loaded.continuation.crop_box.dtype == np.int64 and loaded.continuation.latents.dtype == np.float32
    np.testing.assert_array_equal(loaded.vertices, anim.vertices)


def test_an_npz_written_before_the_continuation_record_loads_into_one(tmp_path):
    """Results always stored latents, last_frame and crop_box as top-level arrays; older ones lack crop_box."""
    state = continuation()
    np.savez(tmp_path / "old.npz", vertices=frames(), faces=FACES, fps=np.float64(12.0),
             frame_times=np.arange(3) / 12.0, name=np.array("bird"), latents=state.latents, last_frame=state.last_frame)
    loaded = AnimatedMesh.load(tmp_path / "old.npz")
    assert loaded.name == "bird" and loaded.fps == 12.0
    np.testing.assert_array_equal(loaded.continuation.last_frame, state.last_frame)
    np.testing.assert_array_equal(loaded.continuation.latents, state.latents)
    assert loaded.continuation.crop_box is None


def test_a_result_without_a_last_frame_has_no_continuation(tmp_path):
    np.savez(tmp_path / "mesh.npz", vertices=frames(), faces=FACES, latents=continuation().latents)
    assert AnimatedMesh.load(tmp_path / "mesh.npz").continuation is None
    assert AnimatedMesh.load(AnimatedMesh(frames(), FACES).save(tmp_path / "plain.npz")).continuation is None


def test_the_continuation_checks_its_arrays():
    with pytest.raises(MeshError, match="last_frame"):
        Continuation(last_frame=np.zeros((6, 5, 3), np.uint8))
    with pytest.raises(MeshError, match="2 latents for 3 frames"):
        AnimatedMesh(frames(), FACES, continuation=continuation(2))
