"""`actionmesh eval` on the procedural ActionBench-format fixture: layout, ranking, failures, resume."""

import csv
import json
from dataclasses import asdict, replace

import numpy as np
import pytest
import trimesh

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.cli import eval as eval_cli
from actionmesh_core.cli import main
from actionmesh_core.errors import InputError
from actionmesh_core.eval.fixture import SHAPES, fixture_animation, write_fixture
from actionmesh_core.eval.loading import load_gt
from actionmesh_core.eval.metrics import Protocol, evaluate_sample
from actionmesh_core.eval.runner import evaluate_dataset, format_table, read_rows, summarize
from actionmesh_core.export.frame_meshes import write_frame_meshes

FRAMES = 5
PROTOCOL = Protocol(surface_points=1500, icp_points=128, chamfer_points=600, icp_steps=30)
COLUMNS = ["uid", "cd_3d", "cd_4d", "cd_motion", "n_frames", "seconds", "status", "error_message"]


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
    assert printed.splitlines()[-4].split() == ["samples", "3", "3", "3", "of", "3", "(3", "scored)"]
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
    write_one_row(out)  # as if an earlier run stopped after one sample
    (bench / "resume.csv.summary.json").write_text(json.dumps({"seed": 44, "protocol": asdict(PROTOCOL)}))
    lines = []
    summary = evaluate_dataset(bench / "gt", pred, out, protocol=PROTOCOL, echo=lines.append)
    rows = {r["uid"]: r for r in read_rows(out)}
    assert rows["bender"]["cd_3d"] == "0.5"  # kept, not recomputed
    assert rows["twister"]["status"] == "ok" and summary["scored"] == 3
    assert len(lines) == 3
    with pytest.raises(InputError, match="made with seed 44 .* not seed 7"):
        evaluate_dataset(bench / "gt", pred, out, seed=7, protocol=PROTOCOL)


def write_one_row(out):
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerow(["bender", "0.5", "0.6", "0.7", FRAMES, "1.0", "ok", ""])


def test_a_csv_without_its_summary_resumes_and_says_so(bench):
    out = bench / "no_summary.csv"
    write_one_row(out)
    lines = []
    summary = evaluate_dataset(bench / "gt", bench / "frozen", out, protocol=PROTOCOL, echo=lines.append)
    assert "no_summary.csv.summary.json is missing" in lines[0] and "seed (44)" in lines[0]
    assert {r["uid"]: r for r in read_rows(out)}["bender"]["cd_3d"] == "0.5"
    assert summary["scored"] == 3 and json.loads((bench / "no_summary.csv.summary.json").read_text())["seed"] == 44


def test_the_table_counts_the_samples_behind_each_mean():
    def row(uid, cd_motion, status="ok"):
        return dict.fromkeys(COLUMNS, "") | {"uid": uid, "cd_3d": "0.1", "cd_4d": "0.2", "cd_motion": cd_motion,
                                             "status": status}

    rows = [row("a", "0.3"), row("b", ""), row("c", "", "error")]  # b: no shared topology, c: failed
    lines = format_table(rows, summarize(rows, 44, PROTOCOL)).splitlines()
    assert lines[-3].split() == ["mean", "0.1000", "0.2000", "0.3000"]
    assert lines[-2].split() == ["samples", "2", "2", "1", "of", "3", "(2", "scored)"]
    assert lines[-1] == "1 sample(s) failed and are left out of the means: c"


def test_cli_reads_each_prediction_layout_with_its_seed_pattern_and_fast_protocol(bench, monkeypatch, capsys):
    fast = replace(PROTOCOL, icp_steps=10)
    monkeypatch.setattr(eval_cli, "OFFICIAL", PROTOCOL)
    monkeypatch.setattr(eval_cli, "FAST", fast)
    pred = bench / "layouts"
    anims = {shape: fixture_animation(shape, FRAMES) for shape in SHAPES}
    anims["bender"].save(pred / "bender" / "animated_mesh.npz")  # as `actionmesh video2mesh` writes it
    write_frame_meshes(anims["squasher"], pred / "squasher", fmt="obj")  # no mesh_*.glb: every mesh file
    write_frame_meshes(anims["twister"], pred / "twister", fmt="ply")  # picked by --mesh-pattern, not
    frozen = AnimatedMesh(np.repeat(anims["twister"].vertices[:1], FRAMES, axis=0), anims["twister"].faces)
    write_frame_meshes(frozen, pred / "twister")  # these decoy mesh_*.glb files
    out = bench / "layouts.csv"
    code = main(["eval", "--gt-root", str(bench / "gt"), "--pred-root", str(pred), "--out", str(out),
                 "--seed", "7", "--mesh-pattern", "mesh_*.ply", "--fast"])
    assert code == 0, capsys.readouterr().out
    summary = json.loads((bench / "layouts.csv.summary.json").read_text())
    assert summary["seed"] == 7 and summary["protocol"] == asdict(fast)
    # OBJ stores rounded coordinates (~1e-4 relative here); another seed or the ICP steps of
    # PROTOCOL move the scores by 1 % or more
    for row in read_rows(out):
        expected = evaluate_sample(load_gt(bench / "gt", row["uid"]), anims[row["uid"]], seed=7, protocol=fast)
        for key, name in (("cd_3d", "cd_3d"), ("cd_4d", "cd_4d"), ("cd_motion", "cd_m")):
            assert float(row[key]) == pytest.approx(expected[name], rel=2e-3), (row["uid"], key)


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
