"""`actionmesh video2mesh`, `demo` and `bench` from the command line entry point."""

import numpy as np
import pytest
from PIL import Image

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.cli import main
from actionmesh_core.cli.demo import EXAMPLE_CLIP
from pipeline_fixtures import moving_disc, write_tiny_root

FAST = ["--steps", "1", "--prior-steps", "2", "--mesh-resolution", "32", "--face-budget", "1000"]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    write_tiny_root(root)
    return root


@pytest.fixture
def frame_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(moving_disc(4)):
        Image.fromarray(frame).save(folder / f"f{k}.png")
    return folder


def test_video2mesh_writes_the_animated_glb_per_frame_meshes_and_npz(tiny_root, frame_folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["video2mesh", str(frame_folder), "--out", str(out), "--weights", str(tiny_root), *FAST]) == 0
    assert (out / "animated_mesh.glb").stat().st_size > 0
    assert sorted(p.name for p in out.glob("mesh_*.glb")) == [f"mesh_{k:02d}.glb" for k in range(4)]
    anim = AnimatedMesh.load(out / "animated_mesh.npz")
    assert anim.num_frames == 4
    printed = capsys.readouterr().out
    assert "4 frames" in printed and "temporal diffusion" in printed and "peak RSS" in printed
    assert "decoder queries" in printed
    assert not list(out.glob(".*tmp*"))  # no temporary files left


def test_video2mesh_with_a_mesh_and_max_frames(tiny_root, frame_folder, tmp_path):
    import trimesh

    trimesh.creation.icosphere(subdivisions=1).export(tmp_path / "ball.obj")
    out = tmp_path / "out"
    assert main(["video2mesh", str(frame_folder), "--out", str(out), "--weights", str(tiny_root), "--mesh",
                 str(tmp_path / "ball.obj"), "--max-frames", "3", "--anchor-frame", "1", "--outputs", "npz",
                 *FAST]) == 0
    anim = AnimatedMesh.load(out / "animated_mesh.npz")
    assert anim.num_frames == 3 and anim.num_vertices == 42


def test_bad_input_is_one_clean_line_and_exit_code_2(tiny_root, tmp_path, capsys):
    (tmp_path / "clip.mp4").write_bytes(b"not a video")
    code = main(["video2mesh", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "out"), "--weights",
                 str(tiny_root), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("actionmesh video2mesh: error:") and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_no_weights_says_where_to_get_them(frame_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ACTIONMESH_WEIGHTS", raising=False)
    assert main(["video2mesh", str(frame_folder), "--out", str(tmp_path / "o")]) == 2
    assert "--weights" in capsys.readouterr().err


def test_demo_writes_outputs_and_the_preview(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *FAST]) == 0
    for name in ("animated_mesh.glb", "animated_mesh.npz", "mesh_00.glb", "preview.mp4", "preview.png"):
        assert (out / name).stat().st_size > 0, name
    preview = np.asarray(Image.open(out / "preview.png"))
    assert preview.shape[1] == 3 * 256  # input frame beside two rendered views
    example = np.asarray(Image.open(EXAMPLE_CLIP / "frame_00.png"))
    background = example[..., 3] == 0
    assert (preview[:256, :256][background] == 255).all()  # the input frame is shown on white, like the renders
    assert (preview[:256, :256][~background] < 250).any(axis=-1).mean() > 0.5  # and the subject is there
    assert "16 frames" in capsys.readouterr().out


def test_bench_prints_every_stage(capsys):
    assert main(["bench", "--frames", "3", "--resolution", "64", *FAST]) == 0
    out = capsys.readouterr().out
    for stage in ("image features", "reference mesh", "temporal diffusion", "temporal decoding", "peak RSS"):
        assert stage in out


def test_extend_continues_a_saved_result(tiny_root, frame_folder, tmp_path):
    out = tmp_path / "out"
    assert main(["video2mesh", str(frame_folder), "--out", str(out), "--weights", str(tiny_root), "--outputs",
                 "npz", *FAST]) == 0
    longer = tmp_path / "longer"
    assert main(["extend", str(out / "animated_mesh.npz"), str(frame_folder), "--out", str(longer), "--weights",
                 str(tiny_root), "--outputs", "npz,glb", *FAST]) == 0
    anim = AnimatedMesh.load(longer / "animated_mesh.npz")
    assert anim.num_frames == 8 and (longer / "animated_mesh.glb").is_file()


def _small_animation() -> AnimatedMesh:
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=1)
    return AnimatedMesh(np.stack([sphere.vertices, sphere.vertices * 1.1]), sphere.faces)


def test_a_failing_format_leaves_the_output_folder_as_it_was(tmp_path, monkeypatch):
    from actionmesh_core.errors import MeshError
    from actionmesh_core.io import outputs

    export = outputs.export_animated_mesh

    def failing_npz(anim, fmt, path, **options):
        if fmt == "npz":
            raise MeshError("disk full")
        return export(anim, fmt, path, **options)

    monkeypatch.setattr(outputs, "export_animated_mesh", failing_npz)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "animated_mesh.glb").write_bytes(b"old")
    with pytest.raises(MeshError, match="disk full"):
        outputs.write_outputs(_small_animation(), out, "glb,frames,obj,npz")
    assert sorted(p.name for p in out.iterdir()) == ["animated_mesh.glb", "notes.txt"]
    assert (out / "animated_mesh.glb").read_bytes() == b"old"
    with pytest.raises(MeshError):
        outputs.write_outputs(_small_animation(), tmp_path / "fresh", "glb,npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no new folder, no temporary folder


def test_outputs_replace_only_our_own_files(tmp_path):
    from actionmesh_core.io.outputs import write_outputs

    out = tmp_path / "out"
    (out / "obj").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (out / "mesh_07.glb").write_bytes(b"frame of an earlier, longer run")
    (out / "obj" / "mesh_07.obj").write_text("old")
    written = write_outputs(_small_animation(), out, "glb,frames,obj")
    assert written == [out / "animated_mesh.glb", out, out / "obj"]
    assert sorted(p.name for p in out.iterdir()) == ["animated_mesh.glb", "mesh_00.glb", "mesh_01.glb", "notes.txt",
                                                     "obj"]
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (out / "obj").glob("mesh_*")) == ["mesh_00.obj", "mesh_01.obj"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
