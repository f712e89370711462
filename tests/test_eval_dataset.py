"""`actionmesh eval` on the procedural ActionBench-format fixture: layout, ranking, failures, resume."""

import csv
import json

import numpy as np
import pytest
import trimesh

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.cli import eval as eval_cli
from actionmesh_core.cli import main
from actionmesh_core.errors import InputError
from actionmesh_core.eval.fixture import SHAPES, fixture_animation, write_fixture
from actionmesh_core.eval.metrics import Protocol
from actionmesh_core.eval.runner import evaluate_dataset, read_rows

FRAMES = 5
PROTOCOL = Protocol(surface_points=1500, icp_points=128, chamfer_points=600, icp_steps=30)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """GT fixture (its own mesh_XX.glb files are the correct prediction) and the frozen baseline."""
    root = tmp_path_factory.mktemp("actionbench")
    write_fixture(root / "gt", num_frames=FRAMES, num_points=2000)
    for shape in SHAPES:
        anim = fixture_animation(shape, FRAMES)
        AnimatedMesh(np.repeat(anim.vertices[:1], FRAMES, axis=0), anim.faces).save(root / "frozen" / f"{shape}.npz")
    return root


def test_fixture_has_the_actionbench_layout_and_tracked_points(bench):
    for shape in SHAPES:
        folder = bench / "gt" / shape
        points = np.load(folder / "surfaces.npy")
        assert points.shape == (FRAMES, 2000, 6) and points.dtype == np.float32
        assert np.allclose(np.linalg.norm(points[..., 3:], axis=-1), 1.0, atol=1e-5)
        meshes = [trimesh.load(folder / f"mesh_{k:02d}.glb", force="mesh", process=False) for k in range(FRAMES)]
        assert all(m.is_watertight and np.array_equal(m.faces, meshes[0].faces) for m in meshes)
        assert np.abs(points[..., :3]).max() < 1.0
        moved = np.linalg.norm(points[:, :, :3] - points[:1, :, :3], axis=-1).max(axis=1)
        assert moved[0] == 0 and moved.max() > 0.1  # tracked: the same points, carried by the motion


def test_correct_prediction_beats_the_frozen_baseline_and_the_cli_prints_the_table(bench, monkeypatch, capsys):
    monkeypatch.setattr(eval_cli, "OFFICIAL", PROTOCOL)
    out = bench / "correct.csv"
    code = main(["eval", "--gt-root", str(bench / "gt"), "--pred-root", str(bench / "gt"), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    header = next(line for line in printed.splitlines() if line.startswith("sample"))
    assert header.split()[1:4] == ["CD-3D", "CD-4D", "CD-M"]
    assert "over 3 of 3 samples" in printed
    correct = {r["uid"]: r for r in read_rows(out)}
    frozen_summary = evaluate_dataset(bench / "gt", bench / "frozen", bench / "frozen.csv", protocol=PROTOCOL,
                                      echo=lambda line: None)
    frozen = {r["uid"]: r for r in read_rows(bench / "frozen.csv")}
    for uid in SHAPES:
        for key in ("cd_4d", "cd_motion"):
            assert float(correct[uid][key]) < float(frozen[uid][key]), (uid, key)
    summary = json.loads((bench / "correct.csv.summary.json").read_text())
    assert summary["means"]["cd_4d"] < frozen_summary["means"]["cd_4d"]
    assert summary["means"]["cd_motion"] < frozen_summary["means"]["cd_motion"]
    assert summary["seed"] == 44 and summary["failed"] == 0


def test_failing_samples_are_recorded_and_left_out_of_the_means(bench, monkeypatch, capsys):
    monkeypatch.setattr(eval_cli, "OFFICIAL", PROTOCOL)
    pred = bench / "broken"
    (pred / "bender").mkdir(parents=True)
    (pred / "bender" / "mesh_00.glb").write_bytes(b"not a glb")
    anim = fixture_animation("twister", FRAMES)
    anim.save(pred / "twister.npz")  # squasher has no prediction at all
    out = bench / "broken.csv"
    assert main(["eval", "--gt-root", str(bench / "gt"), "--pred-root", str(pred), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    rows = {r["uid"]: r for r in read_rows(out)}
    assert rows["twister"]["status"] == "ok"
    assert rows["bender"]["status"] == rows["squasher"]["status"] == "error"
    assert "mesh_00.glb" in rows["bender"]["error_message"] and "squasher" in rows["squasher"]["error_message"]
    summary = json.loads((bench / "broken.csv.summary.json").read_text())
    assert summary["failed"] == 2 and summary["scored"] == 1
    assert summary["means"]["cd_3d"] == pytest.approx(float(rows["twister"]["cd_3d"]))
    assert "2 sample(s) failed" in printed


def test_a_run_resumes_and_refuses_to_mix_seeds(bench, monkeypatch):
    out = bench / "resume.csv"
    pred = bench / "frozen"
    with open(out, "w", newline="") as f:  # as if an earlier run stopped after one sample
        writer = csv.writer(f)
        writer.writerow(["uid", "cd_3d", "cd_4d", "cd_motion", "n_frames", "seconds", "status", "error_message"])
        writer.writerow(["bender", "0.5", "0.6", "0.7", FRAMES, "1.0", "ok", ""])
    (bench / "resume.csv.summary.json").write_text(json.dumps({"seed": 44, "protocol": PROTOCOL.__dict__}))
    lines = []
    summary = evaluate_dataset(bench / "gt", pred, out, protocol=PROTOCOL, echo=lines.append)
    rows = {r["uid"]: r for r in read_rows(out)}
    assert rows["bender"]["cd_3d"] == "0.5"  # kept, not recomputed
    assert rows["twister"]["status"] == "ok" and summary["scored"] == 3
    assert len(lines) == 3
    with pytest.raises(InputError, match="another seed"):
        evaluate_dataset(bench / "gt", pred, out, seed=7, protocol=PROTOCOL)


def test_missing_gt_root_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", "--gt-root", str(tmp_path / "nope"), "--pred-root", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_fixture_frames_are_rendered_when_asked(tmp_path):
    render = pytest.importorskip("actionmesh_core.render")
    try:
        render.render_rgba(np.zeros((3, 3), np.float32), np.array([[0, 1, 2]]), size=8)
    except Exception as exc:  # noqa: BLE001 - no OpenGL context on this machine
        pytest.skip(f"no renderer here: {exc}")
    (folder,) = write_fixture(tmp_path, shapes=("squasher",), num_frames=3, num_points=100, render_frames=True,
                              frame_size=64)
    from PIL import Image

    frames = [np.asarray(Image.open(folder / "frames" / f"frame_{k:02d}.png")) for k in range(2)]
    assert frames[0].shape == (64, 64, 4)
    assert frames[0][..., 3].max() == 255 and frames[0][0, 0, 3] == 0  # the shape, on a clear background
    assert not np.array_equal(frames[0], frames[1])  # it squashes
