"""`actionmesh eval` input checks: a prediction with another number of frames than its ground truth, and ground
truth that is not real (complex) or not finite, are per-sample errors with a clear message; the other samples
still score."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.errors import InputError, MeshError
from actionmesh_core.eval.loading import load_gt
from actionmesh_core.eval.metrics import Protocol, evaluate_sample
from actionmesh_core.eval.runner import evaluate_dataset, read_rows

TINY = Protocol(surface_points=600, icp_points=64, chamfer_points=300, icp_steps=5)
BOX = trimesh.creation.box((1.0, 0.6, 0.4))


def moving_box(frames: int) -> AnimatedMesh:
    return AnimatedMesh(np.stack([BOX.vertices + (0.05 * k, 0, 0) for k in range(frames)]), BOX.faces)


def gt_points(frames: int, dtype=np.float32) -> np.ndarray:
    """(frames, 400, 6) tracked points of the moving box (xyz + normal)."""
    points, faces = trimesh.sample.sample_surface(BOX, 400, seed=0)
    xyz = np.stack([points + (0.05 * k, 0, 0) for k in range(frames)])
    return np.concatenate([xyz, np.broadcast_to(BOX.face_normals[faces], xyz.shape)], axis=-1).astype(dtype)


@pytest.fixture
def bench(tmp_path):
    """gt/<uid>/surfaces.npy and pred/<uid>.npz for one good sample and each bad input."""
    samples = {
        "good": (gt_points(2), moving_box(2)),
        "longer_prediction": (gt_points(2), moving_box(4)),
        "shorter_prediction": (gt_points(4), moving_box(2)),
        "complex_gt": (gt_points(2, np.complex64), moving_box(2)),
        "infinite_gt": (np.where(np.arange(6) == 0, np.inf, gt_points(2)).astype(np.float32), moving_box(2)),
    }
    for uid, (gt, pred) in samples.items():
        (tmp_path / "gt" / uid).mkdir(parents=True)
        np.save(tmp_path / "gt" / uid / "surfaces.npy", gt)
        (tmp_path / "pred").mkdir(exist_ok=True)
        pred.save(tmp_path / "pred" / f"{uid}.npz")
    return tmp_path


def test_bad_samples_are_errors_with_clear_messages_and_the_rest_scores(bench):
    summary = evaluate_dataset(bench / "gt", bench / "pred", bench / "scores.csv", protocol=TINY, device="cpu",
                               echo=lambda line: None)
    rows = {row["uid"]: row for row in read_rows(bench / "scores.csv")}
    assert rows["good"]["status"] == "ok" and float(rows["good"]["cd_4d"]) < 0.1
    messages = {
        "longer_prediction": "the prediction has 4 frames but the GT has 2",
        "shorter_prediction": "the prediction has 2 frames but the GT has 4",
        "complex_gt": "must hold real numbers (float32, as ActionBench's), got complex64",
        "infinite_gt": "contains NaN or infinite values",
    }
    for uid, message in messages.items():
        assert rows[uid]["status"] == "error" and message in rows[uid]["error_message"], rows[uid]
    assert summary["failed"] == 4 and summary["scored"] == 1


def test_complex_ground_truth_is_never_cast(tmp_path):
    (tmp_path / "u").mkdir()
    np.save(tmp_path / "u" / "surfaces.npy", gt_points(2, np.complex128) * (1 + 1j))
    with pytest.raises(InputError, match="must hold real numbers"):
        load_gt(tmp_path, "u")
    with pytest.raises(InputError, match="GT points must be real numbers, got complex128"):
        evaluate_sample(gt_points(2, np.complex128), moving_box(2), protocol=TINY, device="cpu")


@pytest.mark.parametrize("frames", [1, 3])
def test_a_frame_count_mismatch_is_refused_before_any_fit(frames, monkeypatch):
    from actionmesh_core.eval import metrics

    monkeypatch.setattr(metrics, "score_points", lambda *a, **k: pytest.fail("scored a mismatched prediction"))
    with pytest.raises(MeshError, match=f"the prediction has {frames} frames but the GT has 2"):
        evaluate_sample(gt_points(2), moving_box(frames), protocol=TINY, device="cpu")
    with pytest.raises(MeshError, match=f"the prediction has {frames} frames but the GT has 2"):
        evaluate_sample(gt_points(2), [moving_box(frames).frame(k) for k in range(frames)], protocol=TINY,
                        device="cpu")
