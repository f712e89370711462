"""The video stage from the command line: `video2mesh` registers and colours by default, writes the overlay and
prints the IoU; `actionmesh colour` recolours a saved result; a textured user mesh keeps its texture unless told."""

import numpy as np
import pygltflib
import pytest
from PIL import Image

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.cli import main
from pipeline_fixtures import moving_disc, textured_box, write_tiny_root

FAST = ["--steps", "1", "--prior-steps", "2", "--mesh-resolution", "32", "--face-budget", "1000"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A weights root of tiny random models and a folder of 4 RGBA frames (a disc moving right)."""
    folder = tmp_path_factory.mktemp("inputs")
    write_tiny_root(folder / "weights")
    (folder / "frames").mkdir()
    for k, frame in enumerate(moving_disc(4)):
        Image.fromarray(frame).save(folder / "frames" / f"f{k}.png")
    return folder


@pytest.fixture(scope="module")
def result(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    code = main(["video2mesh", str(inputs / "frames"), "--out", str(out), "--weights", str(inputs / "weights"),
                 "--outputs", "glb,npz,overlay", *FAST])
    assert code == 0
    return out


def test_video2mesh_registers_colours_and_overlays_by_default(result, capsys):
    anim = AnimatedMesh.load(result / "animated_mesh.npz")
    assert anim.cameras is not None and anim.cameras.image_size == (64, 64) and anim.vertex_colors is not None
    assert (result / "overlay.mp4").stat().st_size > 0
    glb = pygltflib.GLTF2().load_binary(str(result / "animated_mesh.glb"))
    assert [node.name for node in glb.nodes][-1] == "video_camera"
    assert glb.meshes[0].primitives[0].attributes.COLOR_0 is not None


def test_the_summary_prints_the_mean_and_worst_iou(inputs, tmp_path, capsys):
    assert main(["video2mesh", str(inputs / "frames"), "--out", str(tmp_path / "o"), "--weights",
                 str(inputs / "weights"), "--outputs", "npz", "--colour", "none", *FAST]) == 0
    printed = capsys.readouterr().out
    assert "silhouette IoU of the registered mesh: mean" in printed and "worst" in printed
    assert "camera fitting" in printed and "colour from video" not in printed
    assert AnimatedMesh.load(tmp_path / "o" / "animated_mesh.npz").vertex_colors is None


@pytest.mark.parametrize("size", ["100", "8192"])
def test_a_bad_texture_size_stops_before_the_run(inputs, tmp_path, capsys, size):
    code = main(["video2mesh", str(inputs / "frames"), "--out", str(tmp_path / "o"), "--weights",
                 str(inputs / "weights"), "--colour", "texture", "--texture-size", size, *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "power of two from 64 to 4096" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_colour_recolours_a_saved_result_as_a_texture(inputs, result, tmp_path, capsys):
    out = tmp_path / "recoloured"
    assert main(["colour", str(result / "animated_mesh.npz"), str(inputs / "frames"), "--out", str(out),
                 "--colour", "texture", "--texture-size", "64", "--outputs", "glb,npz,overlay"]) == 0
    printed = capsys.readouterr().out
    assert "(stored cameras)" in printed and "colours from the video (texture)" in printed
    anim = AnimatedMesh.load(out / "animated_mesh.npz")
    assert anim.materials[0].base_color_texture.shape == (64, 64, 3) and anim.uvs is not None
    assert (out / "overlay.mp4").stat().st_size > 0


def test_colour_needs_the_same_frames(inputs, result, tmp_path, capsys):
    code = main(["colour", str(result / "animated_mesh.npz"), str(inputs / "frames"), "--out", str(tmp_path / "o"),
                 "--max-frames", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "3 video frames for an animation of 4 frames" in err


def test_a_textured_mesh_keeps_its_texture_unless_told(inputs, tmp_path):
    textured_box(tmp_path / "box.glb")
    runs = {}
    for name, extra in (("kept", []), ("recoloured", ["--colour", "vertex"])):
        out = tmp_path / name
        assert main(["video2mesh", str(inputs / "frames"), "--out", str(out), "--weights", str(inputs / "weights"),
                     "--mesh", str(tmp_path / "box.glb"), "--outputs", "npz", *extra, *FAST]) == 0
        runs[name] = AnimatedMesh.load(out / "animated_mesh.npz")
    kept, recoloured = runs["kept"], runs["recoloured"]
    assert kept.cameras is not None and kept.vertex_colors is None
    assert kept.materials[0].base_color_texture is not None
    assert recoloured.vertex_colors is not None and recoloured.materials[0].base_color_texture is None
    np.testing.assert_array_equal(recoloured.uvs, kept.uvs)  # the user's layout is kept, only the look changes
