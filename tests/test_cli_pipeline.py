"""`actionmesh video2mesh`, `demo` and `bench` from the command line entry point."""

import json

import numpy as np
import pytest
from PIL import Image

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.batch import job
from actionmesh_core.cli import main
from actionmesh_core.cli.demo import EXAMPLE_CLIP
from actionmesh_core.errors import InputError
from actionmesh_core.pipeline.model_set import BUNDLED_WEIGHTS
from export_checks import Glb
from pipeline_fixtures import moving_disc

FAST = ["--steps", "1", "--prior-steps", "2", "--mesh-resolution", "32", "--face-budget", "1000"]


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
    err = capsys.readouterr().err
    assert "--weights DIR" in err and "--weights bundled for the small bundled model" in err
    assert "actionmesh weights download" in err


def test_fresh_video2mesh_with_the_bundled_weights_uses_their_recommended_settings(tmp_path, monkeypatch, capsys):
    """`video2mesh --weights bundled` with no settings runs what the weights' actionmesh.json recommends (as the
    demo does) and says so in its summary."""
    recommended = json.loads((BUNDLED_WEIGHTS / "actionmesh.json").read_text())["settings"]
    used = []
    real_animate = job.animate

    def spy(source, models, settings, **kwargs):
        used.append(settings)
        return real_animate(source, models, settings, **kwargs)

    monkeypatch.setattr(job, "animate", spy)  # what video2mesh runs (run_job)
    assert main(["video2mesh", str(EXAMPLE_CLIP), "--out", str(tmp_path / "out"), "--weights", "bundled",
                 "--max-frames", "2", "--outputs", "npz"]) == 0
    settings, = used
    for key, value in recommended.items():
        assert getattr(settings, key) == value, key
    assert "settings: model default (25/15 steps, guidance 2.0)" in capsys.readouterr().out


@pytest.fixture
def settings_used(monkeypatch) -> list:
    """The settings video2mesh would run with; the run stops right after (exit code 2)."""
    used = []

    def stop(source, models, settings, **kwargs):
        used.append(settings)
        raise InputError("stopped after the settings")

    monkeypatch.setattr(job, "animate", stop)
    return used


@pytest.mark.parametrize("weights", ["bundled folder", "ACTIONMESH_WEIGHTS=bundled"])
def test_the_bundled_weights_by_folder_or_variable_bring_their_recommendations(weights, settings_used, tmp_path,
                                                                                monkeypatch):
    monkeypatch.delenv("ACTIONMESH_WEIGHTS", raising=False)
    options = ["--weights", str(BUNDLED_WEIGHTS)] if weights == "bundled folder" else []
    if not options:
        monkeypatch.setenv("ACTIONMESH_WEIGHTS", "bundled")
    assert main(["video2mesh", str(EXAMPLE_CLIP), "--out", str(tmp_path / "out"), *options]) == 2
    assert settings_used[0].describe() == "model default (25/15 steps, guidance 2.0)"


@pytest.mark.parametrize("options, expected", [
    (["--preset", "official"], "official (100/30 steps, guidance 7.5)"),
    (["--fast"], "fast (50/15 steps, guidance 7.5)"),
    (["--preset", "model-default", "--steps", "9"], "model default, with your steps (25/9 steps, guidance 2.0)"),
    (["--preset", "custom", "--guidance", "3"], "custom (100/30 steps, guidance 3.0)"),
])
def test_presets_and_explicit_options_on_the_command_line(options, expected, settings_used, tmp_path):
    run = ["video2mesh", str(EXAMPLE_CLIP), "--out", str(tmp_path / "out"), "--weights", "bundled"]
    assert main(run + options) == 2
    assert settings_used[0].describe() == expected


def test_fast_and_another_preset_conflict(tmp_path, capsys):
    assert main(["video2mesh", str(EXAMPLE_CLIP), "--out", str(tmp_path / "out"), "--weights", "bundled", "--fast",
                 "--preset", "official"]) == 2
    assert "--fast is --preset fast" in capsys.readouterr().err


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
    from actionmesh_core.export import outputs

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
    from actionmesh_core.export.outputs import write_outputs

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


def test_video2mesh_writes_a_skinned_glb(tiny_root, frame_folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["video2mesh", str(frame_folder), "--out", str(out), "--weights", str(tiny_root), "--outputs",
                 "npz,skinned_glb", "--bones", "2", "--device", "cpu", *FAST]) == 0
    printed = capsys.readouterr().err  # the pack's log, on the console
    assert "[ActionMesh] skinned_mesh.glb: " in printed and "2 bones, error mean" in printed
    anim = AnimatedMesh.load(out / "animated_mesh.npz")
    _, positions = Glb(out / "skinned_mesh.glb").skinned_positions()
    assert positions.shape == anim.vertices.shape
