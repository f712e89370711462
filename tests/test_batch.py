"""`actionmesh batch`: the same files as single `video2mesh` runs, failures recorded, resume after Ctrl-C,
local worker processes and Ray actors (a worker killed mid-item is retried), and `eval --ray`."""

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.batch import BatchOptions, ModelSource, collect_items, run_batch
from actionmesh_core.cli import main
from actionmesh_core.errors import InputError
from actionmesh_core.pipeline.model_set import BUNDLED_WEIGHTS
from actionmesh_core.pipeline.settings import Settings
from batch_hooks import FAST, DiesOnce, example_clips

RUN = [*FAST, "--weights", str(BUNDLED_WEIGHTS)]
SEEDS = {"clip0": 3, "clip1": 5, "clip2": 7, "clip3": 11}
RECOMMENDED = json.loads((BUNDLED_WEIGHTS / "actionmesh.json").read_text())["settings"]
SETTINGS = Settings.resolve(RECOMMENDED, steps=2, prior_steps=5, guidance=2, prior_guidance=2, face_budget=800)  # FAST
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """Four 3-frame clips and a CSV manifest giving each its own seed (clip3 also its own outputs)."""
    root = tmp_path_factory.mktemp("batch")
    example_clips(root / "clips")
    lines = ["input,seed,outputs"] + [f"clips/{name},{seed}," for name, seed in SEEDS.items()]
    lines[-1] += '"glb;npz"'
    (root / "clips.csv").write_text("\n".join(lines) + "\n")
    return root / "clips.csv"


@pytest.fixture(scope="module")
def batch_out(manifest, one_thread, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_out")
    assert main(["batch", str(manifest), "--out", str(out), *RUN]) == 0
    return out


def rows(out: Path) -> dict[str, dict]:
    return {row["item"]: row for row in map(json.loads, (out / "batch.jsonl").read_text().splitlines())}


def glbs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.glb"))}


def stamps(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_batch_gives_the_files_of_single_video2mesh_runs(manifest, batch_out, tmp_path, one_thread):
    for name, seed in SEEDS.items():
        single = tmp_path / name
        outputs = ["--outputs", "glb,npz"] if name == "clip3" else []
        assert main(["video2mesh", str(manifest.parent / "clips" / name), "--out", str(single), "--seed", str(seed),
                     *outputs, *RUN]) == 0
        ours = glbs(batch_out / name)
        assert ours == glbs(single)  # byte for byte: animated_mesh.glb and every mesh_XX.glb
        assert len(ours) == (1 if name == "clip3" else 4)
        a = AnimatedMesh.load(batch_out / name / "animated_mesh.npz")
        b = AnimatedMesh.load(single / "animated_mesh.npz")
        assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)
    assert glbs(batch_out / "clip0") != glbs(batch_out / "clip1")  # the items are not one result copied


def test_the_results_table_has_a_row_per_item(batch_out):
    table = rows(batch_out)
    assert list(table) == list(SEEDS)
    for name, row in table.items():
        assert row["status"] == "ok" and row["error"] is None and row["attempts"] == 1
        assert {"image features", "reference mesh", "temporal diffusion", "temporal decoding",
                "writing outputs"} <= set(row["stages"])
        assert row["seconds"] == pytest.approx(sum(row["stages"].values()), abs=0.01)
        assert row["peak_rss_mb"] > 100 and row["peak_gpu_mb"] is None
        cameras = AnimatedMesh.load(batch_out / name / "animated_mesh.npz").cameras  # registered to its video
        assert 0 < row["iou"] <= 1 and row["iou"] == round(float(np.nanmean(cameras.iou)), 4)
        assert {"camera fitting", "colour from video"} <= set(row["stages"])
        assert row["frames"] == 3 and row["vertices"] > 0 and len(row["fingerprint"]) == 16
        assert row["outputs"] == {rel: (batch_out / name / rel).stat().st_size for rel in row["outputs"]}
    assert sorted(table["clip3"]["outputs"]) == ["animated_mesh.glb", "animated_mesh.npz"]
    assert sorted(table["clip0"]["outputs"]) == ["animated_mesh.glb", "animated_mesh.npz",
                                                 *(f"mesh_{k:02d}.glb" for k in range(3))]
    assert not [p for p in batch_out.iterdir() if p.name.startswith(".")]  # no staging left


def test_a_rerun_skips_finished_items_and_redoes_changed_or_incomplete_ones(manifest, batch_out, tmp_path, capsys,
                                                                          one_thread):
    out = tmp_path / "out"
    import shutil

    shutil.copytree(batch_out, out)
    before = stamps(out)
    assert main(["batch", str(manifest), "--out", str(out), *RUN]) == 0
    assert stamps(out) == before and "4 already done" in capsys.readouterr().out
    (out / "clip1" / "mesh_01.glb").unlink()  # incomplete outputs: run again
    changed = manifest.parent / "changed.csv"  # clip2 with another seed: run again
    changed.write_text(manifest.read_text().replace("clips/clip2,7,", "clips/clip2,8,"))
    assert main(["batch", str(changed), "--out", str(out), *RUN]) == 0
    after = stamps(out)
    redone = {key.split("/")[0] for key in before if after.get(key) != before[key]} - {"batch.jsonl"}
    assert redone == {"clip1", "clip2"} and (out / "clip1" / "mesh_01.glb").is_file()
    assert glbs(out / "clip1") == glbs(batch_out / "clip1") and glbs(out / "clip2") != glbs(batch_out / "clip2")
    assert "2 ok, 0 failed, 2 already done" in capsys.readouterr().out


def test_a_corrupt_item_is_recorded_as_failed_and_the_others_finish(tmp_path, capsys):
    clips = tmp_path / "clips"
    example_clips(clips, count=1, frames=2)
    (clips / "broken.mp4").write_bytes(b"not a video")
    (clips / "notes.txt").write_text("not an item")
    out = tmp_path / "out"
    assert main(["batch", str(clips), "--out", str(out), *RUN]) == 1
    table = rows(out)
    assert table["clip0"]["status"] == "ok" and table["broken"]["status"] == "failed"
    assert "cannot read broken.mp4 as a video" in table["broken"]["error"] and "notes" not in table
    assert sorted(p.name for p in out.iterdir()) == ["batch.jsonl", "clip0"]
    assert "broken: FAILED: cannot read broken.mp4" in capsys.readouterr().out
    finished = table["broken"]["finished"]
    time.sleep(1.1)  # the table's times have whole seconds
    assert main(["batch", str(clips), "--out", str(out), *RUN]) == 1  # failed earlier: skipped
    assert rows(out)["broken"]["finished"] == finished
    assert "1 failed earlier and skipped (--retry-failed" in capsys.readouterr().out
    assert main(["batch", str(clips), "--out", str(out), "--retry-failed", *RUN]) == 1
    assert rows(out)["broken"]["finished"] != finished and rows(out)["clip0"] == table["clip0"]


def test_ctrl_c_stops_after_the_running_item_and_a_rerun_resumes(manifest, batch_out, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "actionmesh_core", "batch", str(manifest), "--out", str(out), *RUN]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}  # as batch_out's run: torch's results depend on its thread count
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "batch.jsonl").is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # while the second item runs
    printed, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    done = rows(out)
    assert 1 <= len(done) < 4 and all(row["status"] == "ok" for row in done.values())
    assert "not run (stopped; run the same command again to resume)" in printed and "Traceback" not in err
    assert "stopping after the running item(s)" in err
    before = stamps(out)
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(done)} already done" in rerun.stdout
    after = stamps(out)
    assert all(after[key] == before[key] for key in before if key != "batch.jsonl")  # finished items untouched
    assert list(rows(out)) == list(SEEDS)
    for name in SEEDS:
        assert glbs(out / name) == glbs(batch_out / name)


def test_a_second_ctrl_c_stops_at_once_and_closes_the_pool():
    from actionmesh_core.parallel import GracefulStop, run_tasks

    class Pool:
        size, closed = 1, None

        def start(self): pass

        def submit(self, slot, task): self.task = task

        def wait(self):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler raises here
            return 0, self.task

        def restart(self, slot): pass

        def close(self, abort=False): self.closed = abort

    pool, results = Pool(), []
    with pytest.raises(KeyboardInterrupt), GracefulStop(echo=results.append) as stop:
        run_tasks(pool, ["a", "b"], lambda task, result, attempts: results.append(task), should_stop=stop)
    assert pool.closed is True and results == [
        "stopping after the running item(s); press Ctrl-C again to stop now"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_local_worker_processes_give_the_same_files_and_retry_a_dead_worker(manifest, batch_out, tmp_path):
    out = tmp_path / "out"
    worker = functools.partial(DiesOnce, item="clip1", marker=str(tmp_path / "died"))
    summary = run_batch(collect_items(manifest), out, ModelSource(BUNDLED_WEIGHTS, threads=1),
                        BatchOptions(settings=SETTINGS, workers=2), worker=worker)
    assert (summary.ok, summary.failed) == (4, 0) and (tmp_path / "died").is_file()
    table = rows(out)
    assert table["clip1"]["attempts"] == 2 and {row["attempts"] for n, row in table.items() if n != "clip1"} == {1}
    assert len({row["worker"] for row in table.values()}) >= 2  # more than one process did the work
    for name in SEEDS:
        assert glbs(out / name) == glbs(batch_out / name)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_worker_that_keeps_dying_is_recorded_as_failed(manifest, tmp_path):
    items = [item for item in collect_items(manifest) if item.name in ("clip0", "clip1")]  # 2: worker processes
    with pytest.raises(InputError, match="--workers must be at least 1"):
        run_batch(items, tmp_path / "o", ModelSource(BUNDLED_WEIGHTS), BatchOptions(settings=SETTINGS, workers=0))
    summary = run_batch(items, tmp_path / "out", ModelSource(BUNDLED_WEIGHTS, threads=1),
                        BatchOptions(settings=SETTINGS, workers=2, max_retries=1),
                        worker=functools.partial(_dies_every_time, marker=str(tmp_path / "died")))
    table = rows(tmp_path / "out")
    assert (summary.ok, summary.failed) == (1, 1) and table["clip1"]["status"] == "ok"
    row = table["clip0"]
    assert row["status"] == "failed" and row["attempts"] == 2
    assert "died (exit code 1)" in row["error"] and "(2 attempt(s))" in row["error"]
    assert not (tmp_path / "out" / "clip0").exists()


def _dies_every_time(slot, marker, **kwargs):
    """A DiesOnce whose marker is deleted before each item, so it dies every time."""
    worker = DiesOnce(slot, item="clip0", marker=marker, **kwargs)
    progress_for = worker.progress_for

    def fresh(task):
        Path(marker).unlink(missing_ok=True)
        return progress_for(task)

    worker.progress_for = fresh
    return worker


# ---- manifests and folders -------------------------------------------------------------------------------

def test_a_bad_manifest_names_every_problem_with_its_line_and_runs_nothing(tmp_path, capsys):
    example_clips(tmp_path / "clips", count=2, frames=2)
    (tmp_path / "m.csv").write_text(
        "input,name,steps,guidance,outputs\n"
        "clips/clip0,a,abc,,\n"            # line 2: steps not a number
        "clips/missing,b,,,\n"             # line 3: no such input
        "clips/clip1,../up,,,\n"           # line 4: unsafe name
        "clips/clip1,c,,-1,\n"             # line 5: guidance < 0
        "clips/clip1,d,,,gltf\n"           # line 6: unknown output
        "# a comment\n"
        "clips/clip1,A2,,,\n"              # line 8: same name as line 9 once case is ignored
        "clips/clip0,a2,,,\n")
    out = tmp_path / "out"
    assert main(["batch", str(tmp_path / "m.csv"), "--out", str(out), *RUN]) == 2
    err = capsys.readouterr().err
    assert err.startswith("actionmesh batch: error: 6 problem(s) in the manifest") and "Traceback" not in err
    for text in ("m.csv line 2: steps must be a whole number, got 'abc'", "m.csv line 3: input", "does not exist",
                 "m.csv line 4: item name '../up' cannot be a folder name", "m.csv line 5: guidance must be 0",
                 "m.csv line 6: unknown output 'gltf'", "m.csv line 8 and m.csv line 9 both give the item name 'a2'"):
        assert text in err, text
    assert not out.exists()


@pytest.mark.parametrize("text, message", [
    ("input,colour\nclips/clip0,red\n", "line 1: unknown column 'colour'"),
    ("name\nx\n", "line 1: the 'input' column is missing"),
    ("input\nclips/clip0,extra\n", "line 2: 2 cells but 1 columns"),
])
def test_manifest_columns_are_checked(tmp_path, text, message):
    example_clips(tmp_path / "clips", count=1, frames=2)
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(InputError, match=message):
        collect_items(tmp_path / "m.csv")


def test_a_jsonl_manifest_with_per_item_settings(tmp_path):
    example_clips(tmp_path / "clips", count=2, frames=2)
    (tmp_path / "sub").mkdir()
    lines = [json.dumps({"input": "../clips/clip0", "name": "first", "seed": 9, "guidance": 3, "max_frames": 2,
                         "anchor-frame": 1, "outputs": ["glb", "usd"], "mesh": None}),
             "", "# comment",
             json.dumps({"input": str(tmp_path / "clips" / "clip1"), "fps": 12.5, "steps": 4.0})]
    (tmp_path / "sub" / "m.jsonl").write_text("\n".join(lines) + "\n")
    first, second = collect_items(tmp_path / "sub" / "m.jsonl")
    assert (first.name, second.name) == ("first", "clip1")
    assert first.source == tmp_path / "sub" / ".." / "clips" / "clip0" and first.outputs == ("glb", "usd")
    job = first.job(tmp_path / "out", SETTINGS, ("glb",), {"stride": 1})
    assert (job.settings.seed, job.settings.guidance, job.settings.prior_guidance, job.settings.anchor_frame) == \
        (9, 3.0, 3.0, 1)
    assert job.selection == {"stride": 1, "max_frames": 2} and job.out_dir == tmp_path / "out" / "first"
    job = second.job(tmp_path / "out", SETTINGS, ("glb", "npz"), {})
    assert job.settings.steps == 4 and job.selection == {"target_fps": 12.5} and job.outputs == ("glb", "npz")
    (tmp_path / "bad.jsonl").write_text('{"input": "clips/clip0"}\n{"input": "clips/clip1",\n')
    with pytest.raises(InputError, match="bad.jsonl line 2 is not JSON"):
        collect_items(tmp_path / "bad.jsonl")


def test_a_folder_lists_videos_and_frame_folders_with_safe_unique_names(tmp_path):
    folder = tmp_path / "in"
    example_clips(folder, count=2, frames=2)
    (folder / "clip0").rename(folder / "my shot (1)")
    for name in ("walk.mp4", ".hidden.mp4", "notes.txt"):
        (folder / name).write_bytes(b"x")
    (folder / "empty").mkdir()
    example_clips(folder / "x", count=1, frames=2)
    (folder / "x" / "clip0").rename(folder / "out")  # the batch's own output folder inside INPUTS (with images)
    (folder / "x").rmdir()
    items = collect_items(folder, skip=folder / "out")
    assert [(item.name, item.source.name) for item in items] == [("clip1", "clip1"), ("my_shot_1_", "my shot (1)"),
                                                                 ("walk", "walk.mp4")]
    (folder / "Walk.gif").write_bytes(b"x")
    with pytest.raises(InputError, match="Walk.gif and walk.mp4 both give the item name 'walk'"):
        collect_items(folder, skip=folder / "out")
    frames = tmp_path / "frames"
    example_clips(frames, count=1, frames=2)
    with pytest.raises(InputError, match="holds no videos .* run `actionmesh video2mesh` on it"):
        collect_items(frames / "clip0")
    with pytest.raises(InputError, match="neither a folder of videos"):
        collect_items(folder / "notes.txt")


def test_out_that_is_a_file_is_refused(manifest, tmp_path, capsys):
    (tmp_path / "out").write_text("a file")
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out"), *RUN]) == 2
    assert "is a file where a folder is expected" in capsys.readouterr().err
    assert (tmp_path / "out").read_text() == "a file"


def test_staging_left_by_a_killed_writer_is_removed(tmp_path):
    from actionmesh_core.base.atomic import remove_staging_leftovers

    script = ("import os, sys\nfrom actionmesh_core.base.atomic import staged_files\n"
              "with staged_files(sys.argv[1]) as staging:\n"
              "    (staging / 'animated_mesh.glb').write_bytes(b'half')\n"
              "    with staged_files(staging) as inner:\n"
              "        (inner / 'mesh_00.glb').write_bytes(b'half')\n"
              "        os._exit(1)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name in ("a", "a.b"):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], env=env, check=False)
    from actionmesh_core.base.atomic import STAGING_PREFIX

    for name in ("a", "a.b"):  # each left its folder holding only a staging folder (with one nested inside)
        assert [p.name[:len(STAGING_PREFIX)] for p in (tmp_path / name).iterdir()] == [STAGING_PREFIX]
    (tmp_path / "a.b" / "mine.txt").write_text("kept")
    removed = remove_staging_leftovers([tmp_path / "a", tmp_path / "a.b"])
    assert len(removed) == 2 and not (tmp_path / "a").exists()  # a folder left empty goes too
    assert [p.name for p in (tmp_path / "a.b").iterdir()] == ["mine.txt"]


# ---- Ray ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_runtime():
    """One local Ray instance (2 CPUs) for the module; its workers import this checkout and tests/."""
    ray = pytest.importorskip("ray")
    path = os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    ray.shutdown()


def test_ray_gives_the_same_files_and_retries_an_item_whose_actor_died(ray_runtime, manifest, batch_out, tmp_path):
    out = tmp_path / "out"
    worker = functools.partial(DiesOnce, item="clip2", marker=str(tmp_path / "died"))
    summary = run_batch(collect_items(manifest), out, ModelSource(BUNDLED_WEIGHTS),
                        BatchOptions(settings=SETTINGS, ray="auto", ray_workers=2), worker=worker)
    assert (summary.ok, summary.failed, summary.not_run) == (4, 0, 0) and (tmp_path / "died").is_file()
    table = rows(out)
    assert list(table) != [] and table["clip2"]["attempts"] == 2
    assert all(row["status"] == "ok" for row in table.values())
    for name in SEEDS:
        assert glbs(out / name) == glbs(batch_out / name), name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert ray_runtime.is_initialized()  # a connection the batch did not open stays open


def test_eval_on_ray_gives_the_local_numbers(ray_runtime, tmp_path, monkeypatch, one_thread, capsys):
    from actionmesh_core.cli import eval as eval_cli
    from actionmesh_core.eval.fixture import write_fixture
    from actionmesh_core.eval.metrics import Protocol
    from actionmesh_core.eval.runner import evaluate_dataset, read_rows

    protocol = Protocol(surface_points=600, icp_points=64, chamfer_points=300, icp_steps=10)
    write_fixture(tmp_path / "gt", num_frames=3, num_points=600)
    evaluate_dataset(tmp_path / "gt", tmp_path / "gt", tmp_path / "local.csv", protocol=protocol, echo=lambda _: None)
    monkeypatch.setattr(eval_cli, "OFFICIAL", protocol)
    assert main(["eval", "--gt-root", str(tmp_path / "gt"), "--pred-root", str(tmp_path / "gt"), "--out",
                 str(tmp_path / "ray.csv"), "--ray", "--ray-workers", "2"]) == 0
    drop_seconds = [{k: v for k, v in row.items() if k != "seconds"} for row in read_rows(tmp_path / "local.csv")]
    assert drop_seconds == [{k: v for k, v in row.items() if k != "seconds"}
                            for row in read_rows(tmp_path / "ray.csv")]
    assert len(drop_seconds) == 3 and all(row["status"] == "ok" for row in drop_seconds)


def test_without_ray_the_flag_says_how_to_install_it(manifest, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out"), "--ray", *RUN]) == 2
    err = capsys.readouterr().err
    assert "comfyui-actionmesh[ray]" in err and len(err.strip().splitlines()) == 1
