"""Failures of the machine, not of the program, through the real command line: an output folder that is a file,
read-only, full, or a mount point; Ctrl-C while the command starts; a folder where a file is expected. Each is
one line on stderr and exit code 2 (130 for Ctrl-C), never a traceback, and nothing is left half-written.

The tmpfs tests need root and mount (they skip cleanly elsewhere); each has a twin that simulates the same
OS error without root."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from actionmesh_core import cli
from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.base import atomic
from actionmesh_core.pipeline import model_set as pipeline_models
from pipeline_fixtures import moving_disc

REPO = Path(__file__).resolve().parents[1]
FAST = ["--steps", "1", "--prior-steps", "1", "--mesh-resolution", "32", "--face-budget", "500"]


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    for k, frame in enumerate(moving_disc(3)):
        Image.fromarray(frame).save(folder / f"f{k}.png")
    return folder


@pytest.fixture
def result(tmp_path):
    """A saved animated mesh (a sphere of 642 vertices, 3 frames; about 50 kB per OBJ frame) for `actionmesh export`."""
    sphere = trimesh.creation.icosphere(subdivisions=3)
    anim = AnimatedMesh(np.stack([sphere.vertices * s for s in (1.0, 1.1, 1.2)]), sphere.faces, fps=8.0)
    return anim.save(tmp_path / "result.npz")


@pytest.fixture
def no_models(monkeypatch):
    """Fails the test if any model set is made: the command must stop before that."""
    def refuse(*args, **kwargs):
        raise AssertionError("the command loaded models before checking its output folder")

    monkeypatch.setattr(pipeline_models.ModelSet, "from_weights", refuse)


@pytest.fixture
def tmpfs(tmp_path):
    """mount(name, size, read_only) -> a fresh tmpfs mount point; skips where mounting is not permitted."""
    mounted = []

    def mount(name: str = "mnt", size: str = "1m", read_only: bool = False) -> Path:
        if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs needs root and mount(8)")
        point = tmp_path / name
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"mount is not permitted here: {done.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    """Exit code and stderr of `actionmesh ARGV` (the real entry point, in this process)."""
    code = cli.main([str(arg) for arg in argv])
    return code, capsys.readouterr().err


def assert_one_line(err: str, *words: str) -> None:
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]  # tqdm bars aside
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]


def fill(folder: Path, leave: int) -> None:
    """Fill the file system of `folder` until about `leave` bytes are free."""
    free = shutil.disk_usage(folder).free
    with open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


# ---------------------------------------------------------------- video2mesh: checked before the models load

def test_out_that_is_a_file_fails_before_the_models_load(capsys, tmp_path, tiny_root, frames, no_models):
    (tmp_path / "out").write_text("mine")
    code, err = run_cli(capsys, "video2mesh", frames, "--out", tmp_path / "out", "--weights", tiny_root, *FAST)
    assert code == 2
    assert_one_line(err, "actionmesh video2mesh: error:", "is a file where a folder is expected")
    assert (tmp_path / "out").read_text() == "mine"


def test_read_only_out_fails_before_the_models_load(capsys, tmpfs, tiny_root, frames, no_models):
    out = tmpfs(read_only=True)
    code, err = run_cli(capsys, "video2mesh", frames, "--out", out, "--weights", tiny_root, *FAST)
    assert code == 2
    assert_one_line(err, "read-only file system; choose a writable folder")


@pytest.mark.parametrize(("code", "message"), [
    (errno.EACCES, "no permission to write"), (errno.EROFS, "read-only file system"), (errno.ENOSPC, "is full"),
])
def test_unwritable_out_fails_before_the_models_load_without_root(capsys, tmp_path, tiny_root, frames, no_models,
                                                                  monkeypatch, code, message):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    out = tmp_path / "new" / "out"
    exit_code, err = run_cli(capsys, "video2mesh", frames, "--out", out, "--weights", tiny_root, *FAST)
    assert exit_code == 2
    assert_one_line(err, message)
    assert list(tmp_path.iterdir()) == []  # the folders made for the probe are gone again


def test_full_disk_fails_before_the_models_load(capsys, tmpfs, tiny_root, frames, no_models):
    out = tmpfs()
    fill(out, leave=0)
    code, err = run_cli(capsys, "video2mesh", frames, "--out", out, "--weights", tiny_root, *FAST)
    assert code == 2
    assert_one_line(err, "is full; free some space")
    assert sorted(p.name for p in out.iterdir()) == ["filler"]


def test_a_mount_point_as_out_works(capsys, tmpfs, tiny_root, frames):
    """A Docker volume as --out: the staging folder used to be made beside it, on another file system, so the
    final rename failed with a cross-device error every time."""
    out = tmpfs(size="16m")
    (out / "notes.txt").write_text("mine")
    code, err = run_cli(capsys, "video2mesh", frames, "--out", out, "--weights", tiny_root, "--outputs",
                        "glb,frames,npz", *FAST)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["animated_mesh.glb", "animated_mesh.npz", "mesh_00.glb",
                                                     "mesh_01.glb", "mesh_02.glb", "notes.txt"]


# ---------------------------------------------------------------- writing: staged inside the target folder

@pytest.fixture
def mount_boundary(monkeypatch):
    """boundary(folder): os.replace fails with EXDEV for any rename across `folder`'s edge, as it does when
    `folder` is a mount point (simulated without root)."""
    real_replace = os.replace

    def boundary(folder: Path):
        folder = folder.resolve()

        def replace(src, dst, **kwargs):
            inside = [Path(p).resolve().is_relative_to(folder) and Path(p).resolve() != folder for p in (src, dst)]
            if inside[0] != inside[1]:
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(src), None, str(dst))
            return real_replace(src, dst, **kwargs)

        monkeypatch.setattr(os, "replace", replace)

    return boundary


def test_export_into_a_mount_point_works(capsys, tmpfs, result):
    out = tmpfs(size="8m")
    code, err = run_cli(capsys, "export", result, "--format", "frames", "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["mesh_00.glb", "mesh_01.glb", "mesh_02.glb"]


def test_outputs_are_staged_on_the_target_file_system_without_root(capsys, tmp_path, result, mount_boundary):
    out = tmp_path / "volume"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    mount_boundary(out)
    code, err = run_cli(capsys, "export", result, "--format", "frames", "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["mesh_00.glb", "mesh_01.glb", "mesh_02.glb", "notes.txt"]
    from actionmesh_core.export.outputs import write_outputs

    written = write_outputs(AnimatedMesh.load(result), out, "glb,npz,obj")
    assert all(path.exists() for path in written)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_disk_that_fills_while_writing_leaves_the_folder_as_it_was(capsys, tmpfs, result):
    out = tmpfs(size="1m")
    (out / "mesh_00.glb").write_bytes(b"an earlier export")
    fill(out, leave=16 * 1024)  # room for the probe, not for the frames
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, err = run_cli(capsys, "export", result, "--format", "obj", "--out", out)
    assert code == 2
    assert_one_line(err, "is full; free some space or write somewhere else")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(("code", "message"), [
    (errno.ENOSPC, "is full; free some space"), (errno.EXDEV, "from another file system"),
    (errno.EACCES, "no permission to write"), (errno.EROFS, "read-only file system"),
    (errno.EISDIR, "is a folder where a file is expected"), (errno.ENOTDIR, "is a file where a folder is expected"),
])
def test_os_errors_while_moving_outputs_in_are_one_line_without_root(capsys, tmp_path, result, monkeypatch, code,
                                                                      message):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mesh_00.obj").write_text("an earlier export")

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "replace", fail)
    exit_code, err = run_cli(capsys, "export", result, "--format", "obj", "--out", out)
    assert exit_code == 2
    assert_one_line(err, "actionmesh export: error:", message)
    assert sorted(p.name for p in out.iterdir()) == ["mesh_00.obj"]  # the staging folder is gone
    assert (out / "mesh_00.obj").read_text() == "an earlier export"


def test_export_of_one_file_to_a_folder_is_refused(capsys, tmp_path, result):
    folder = tmp_path / "out"
    folder.mkdir()
    for fmt in ("glb", "usdz", "npz", "mp4"):
        code, err = run_cli(capsys, "export", result, "--format", fmt, "--out", folder)
        assert code == 2
        assert_one_line(err, f"{folder} is a folder, but format '{fmt}' writes one file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "result.npz"]  # no out.glb beside it
    assert list(folder.iterdir()) == []


# ---------------------------------------------------------------- Ctrl-C while the command starts

INTERRUPT_DURING_TORCH_IMPORT = """
import builtins, os, signal, sys
real_import = builtins.__import__
def importing(name, *args, **kwargs):
    if name == "torch" and "torch" not in sys.modules:
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered while torch loads
    return real_import(name, *args, **kwargs)
builtins.__import__ = importing
from actionmesh_core.cli import main
sys.exit(main())
"""


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_ctrl_c_while_the_command_starts_is_one_line_and_exit_130(tmp_path):
    done = subprocess.run([sys.executable, "-c", INTERRUPT_DURING_TORCH_IMPORT, "video2mesh", "clip.mp4", "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert done.returncode == 130
    assert done.stderr == "actionmesh video2mesh: interrupted\n"
    assert not (tmp_path / "out").exists()


def test_ctrl_c_while_the_models_load_is_one_line_and_exit_130(capsys, tmp_path, tiny_root, frames, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline_models.ModelSet, "from_weights", interrupted)
    code, err = run_cli(capsys, "video2mesh", frames, "--out", tmp_path / "out", "--weights", tiny_root, *FAST)
    assert (code, err) == (130, "actionmesh video2mesh: interrupted\n")
    assert not (tmp_path / "out").exists()  # the probe's folder is removed again


def test_a_mount_point_replaced_as_a_whole_folder_keeps_the_mount(tmpfs):
    """atomic_dir (training checkpoints, datasets) cannot rename a mount point: it replaces its entries."""
    out = tmpfs(size="1m")
    (out / "old.txt").write_text("old")
    with atomic.atomic_dir(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"] and os.path.ismount(out)


def test_a_simulated_mount_point_replaced_as_a_whole_folder_without_root(tmp_path, mount_boundary, monkeypatch):
    out = tmp_path / "volume"
    out.mkdir()
    (out / "old.txt").write_text("old")
    mount_boundary(out)
    monkeypatch.setattr(atomic.os.path, "ismount", lambda path: Path(path) == out)
    with atomic.atomic_dir(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
