"""The export dispatcher, per-frame OBJ/PLY/NPZ files, and the `actionmesh export` command."""

from __future__ import annotations

import errno
from pathlib import Path

import imageio.v3
import numpy as np
import pygltflib
import pytest
import trimesh
from pxr import Usd, UsdGeom
from export_checks import Glb, mesh_of, textured, wobbling_sphere

from actionmesh_core import cli
from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.errors import InputError, OutputError
from actionmesh_core.export.formats import export_animated_mesh
from actionmesh_core.export import frame_meshes
from actionmesh_core.export.frame_meshes import frame_file_name, write_frame_meshes
from actionmesh_core.export.gltf import frame_glbs


@pytest.mark.parametrize(
    "fmt, name, written",
    [
        ("glb", "anim", "anim.glb"),
        ("usd", "anim.usda", "anim.usda"),
        ("usdz", "anim", "anim.usdz"),
        ("npz", "anim.npz", "anim.npz"),
        ("frames", "meshes", "meshes"),
    ],
)
def test_dispatcher_writes_each_format(tmp_path, fmt, name, written):
    """Each format goes to its own writer: the file reads back, with that format's reader, as the animation."""
    anim = wobbling_sphere(num_frames=3)
    path = export_animated_mesh(anim, fmt, tmp_path / name)
    assert path == tmp_path / written
    np.testing.assert_allclose(READ_BACK[fmt](path), anim.vertices, atol=1e-5)


def glb_frames(path: Path) -> np.ndarray:
    """(T, V, 3) of a morph-target GLB: base + target k (the weights animation shows target k at key k)."""
    glb = Glb(path)
    base, targets = glb.base_and_targets()
    return base + targets


def usd_frames(path: Path) -> np.ndarray:
    """(T, V, 3) points of the one mesh at each authored time code."""
    stage = Usd.Stage.Open(str(path))
    points = mesh_of(stage).GetPointsAttr()
    return np.stack([np.asarray(points.Get(Usd.TimeCode(t))) for t in points.GetTimeSamples()])


READ_BACK = {
    "glb": glb_frames,
    "usd": usd_frames,
    "usdz": usd_frames,
    "npz": lambda path: AnimatedMesh.load(path).vertices,
    "frames": lambda folder: np.stack([trimesh.load(f, force="mesh", process=False).vertices
                                       for f in sorted(folder.glob("mesh_*.glb"))]),
}


@pytest.mark.parametrize("fmt", ["obj", "ply"])
def test_per_frame_obj_and_ply_hold_the_frames(tmp_path, fmt):
    anim = wobbling_sphere(num_frames=3)
    paths = export_animated_mesh(anim, fmt, tmp_path / fmt)
    files = sorted(paths.glob(f"mesh_*.{fmt}"))
    assert [p.name for p in files] == [f"mesh_0{k}.{fmt}" for k in range(3)]
    for k, path in enumerate(files):
        mesh = trimesh.load(path, process=False)
        np.testing.assert_allclose(mesh.vertices, anim.vertices[k], atol=1e-6)
        np.testing.assert_array_equal(mesh.faces, anim.faces)


def test_textured_obj_frames_share_one_material(tmp_path):
    paths = write_frame_meshes(textured(wobbling_sphere(num_frames=2)), tmp_path, fmt="obj")
    assert {p.name for p in tmp_path.iterdir()} == {"mesh_00.obj", "mesh_01.obj", "material.mtl", "material_0.png"}
    assert all("mtllib material.mtl" in p.read_text() for p in paths)


def test_npz_round_trip_keeps_every_array(tmp_path):
    anim = textured(wobbling_sphere(num_frames=2))
    loaded = AnimatedMesh.load(export_animated_mesh(anim, "npz", tmp_path / "anim.npz"))
    for field in ("vertices", "faces", "frame_times", "uvs", "vertex_colors"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(anim, field))
    (material,) = loaded.materials
    assert material.scalars() == anim.materials[0].scalars()
    np.testing.assert_array_equal(material.base_color_texture, anim.materials[0].base_color_texture)
    assert loaded.fps == anim.fps


def test_a_shorter_export_removes_stale_frames_but_keeps_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    write_frame_meshes(wobbling_sphere(num_frames=4), tmp_path)
    write_frame_meshes(wobbling_sphere(num_frames=2), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mesh_00.glb", "mesh_01.glb", "notes.txt"]


def test_a_failed_export_leaves_the_previous_frames_untouched(tmp_path, monkeypatch):
    folder = tmp_path / "meshes"
    write_frame_meshes(wobbling_sphere(num_frames=4, subdivisions=2), folder)  # other bytes than the new frames
    (folder / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    anim = wobbling_sphere(num_frames=6)
    built = []

    def fail_at_frame_two(anim):  # frames are written in order
        for positions, data in zip(anim.vertices, frame_glbs(anim)):
            if len(built) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            built.append(positions)
            yield data

    monkeypatch.setattr(frame_meshes, "frame_glbs", fail_at_frame_two)
    with pytest.raises(OutputError, match="the disk holding .*meshes is full"):
        write_frame_meshes(anim, folder)
    np.testing.assert_array_equal(built, anim.vertices[:2])
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["meshes"]  # no temporary folder left behind


def test_a_failed_first_export_creates_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(frame_meshes, "frame_glbs", lambda anim: iter([1 / 0]))
    with pytest.raises(ZeroDivisionError):
        write_frame_meshes(wobbling_sphere(num_frames=2), tmp_path / "meshes")
    assert list(tmp_path.iterdir()) == []


def test_frame_names_widen_past_a_hundred_frames():
    assert frame_file_name(7, 16) == "mesh_07.glb"
    assert frame_file_name(7, 101, "ply") == "mesh_007.ply"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p: export_animated_mesh(wobbling_sphere(2), "fbx", p / "a.fbx"), "unknown export format"),
        (lambda p: export_animated_mesh(wobbling_sphere(2), "usd", p / "a.usd", interpolation="hold"), "do not apply"),
        (lambda p: export_animated_mesh(wobbling_sphere(2), "glb", p / "a.usd"), "writes .glb files"),
        (lambda p: export_animated_mesh(np.zeros((2, 3, 3)), "glb", p / "a.glb"), "needs an AnimatedMesh"),
        (lambda p: write_frame_meshes(wobbling_sphere(2), p / "file.txt"), "is a file"),
    ],
)
def test_bad_requests_raise_input_errors(tmp_path, call, message):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match=message):
        call(tmp_path)


@pytest.fixture
def export_cli(monkeypatch):
    """`actionmesh` with only the export subcommand (others are tested in their own files)."""
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("export",))
    return cli.main


def test_cli_exports_a_saved_result(tmp_path, export_cli, capsys):
    anim = wobbling_sphere(num_frames=3)
    result = anim.save(tmp_path / "result.npz")
    assert export_cli(["export", str(result), "--out", str(tmp_path / "anim.glb"), "--interpolation", "hold"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "anim.glb")
    gltf = pygltflib.GLTF2().load_binary(str(tmp_path / "anim.glb"))
    assert len(gltf.meshes[0].primitives[0].targets) == 3
    assert gltf.animations[0].samplers[0].interpolation == "STEP"
    assert export_cli(["export", str(result), "--format", "frames", "--out", str(tmp_path / "frames")]) == 0
    assert len(list((tmp_path / "frames").glob("mesh_*.glb"))) == 3


def read_usdz(path: Path, anim: AnimatedMesh) -> None:
    stage = Usd.Stage.Open(str(path))
    (mesh,) = [UsdGeom.Mesh(prim) for prim in stage.Traverse() if prim.IsA(UsdGeom.Mesh)]
    assert mesh.GetPointsAttr().GetTimeSamples() == list(range(anim.num_frames))
    for k in range(anim.num_frames):
        np.testing.assert_array_equal(np.asarray(mesh.GetPointsAttr().Get(k)), anim.vertices[k])


def read_obj_frames(folder: Path, anim: AnimatedMesh) -> None:
    files = sorted(folder.glob("mesh_*.obj"))
    assert len(files) == anim.num_frames
    for k, path in enumerate(files):
        np.testing.assert_allclose(trimesh.load(path, process=False).vertices, anim.vertices[k], atol=1e-6)


def read_two_view_mp4(path: Path, anim: AnimatedMesh) -> None:
    frames = imageio.v3.imread(path, plugin="FFMPEG")
    assert frames.shape == (anim.num_frames, 64, 2 * 64, 3)  # two 64-pixel views side by side
    for view in (frames[:, :, :64], frames[:, :, 64:]):
        assert (view[:, 32, 32] < 230).all()  # the shaded sphere (not white) in the middle of each view
        assert (view[:, 1, 1] > 240).all()  # white background in the corner


@pytest.mark.parametrize(
    "fmt, out, options, read",
    [
        ("usdz", "anim.usdz", [], read_usdz),
        ("obj", "objs", [], read_obj_frames),
        ("mp4", "preview.mp4", ["--views", "0,90", "--size", "64"], read_two_view_mp4),
    ],
)
def test_cli_exports_files_that_other_readers_open(tmp_path, export_cli, capsys, fmt, out, options, read):
    anim = wobbling_sphere(num_frames=3)
    result = anim.save(tmp_path / "result.npz")
    assert export_cli(["export", str(result), "--format", fmt, "--out", str(tmp_path / out), *options]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / out)
    read(tmp_path / out, anim)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["missing.npz", "--out", "a.glb"], "no animated mesh"),
        (["result.npz", "--out", "anim"], "give --format"),
        (["result.npz", "--format", "usd", "--out", "a.usd", "--interpolation", "hold"], "do not apply"),
    ],
)
def test_cli_reports_bad_requests_without_a_traceback(tmp_path, export_cli, capsys, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    wobbling_sphere(num_frames=2).save(tmp_path / "result.npz")
    assert export_cli(["export", *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
