"""Skinned GLB and UsdSkel exports: the Khronos validator, the files evaluated on their own (glTF skinning
from the file's joints, weights, inverse bind matrices and animation; UsdSkel through usd-core's skinning)
against our rig and the animation, materials kept as in the morph GLB, and the command-line entry points."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pygltflib
import pytest
from pxr import Usd, UsdGeom, UsdSkel
from export_checks import Glb, textured, validate, validation_errors, wobbling_sphere
from skinning_fixtures import two_part_clip

from actionmesh_core.animated_mesh import AnimatedMesh, Material
from actionmesh_core.cli import main
from actionmesh_core.export.outputs import write_outputs
from actionmesh_core.data import HELD_OUT_SEED, make_clip
from actionmesh_core.errors import InputError
from actionmesh_core.export.formats import export_animated_mesh, export_skinned_mesh
from actionmesh_core.export.gltf import write_animated_glb
from actionmesh_core.skinning import SkinningConfig, decompose

pytestmark = pytest.mark.usefixtures("one_thread")


def two_materials(anim: AnimatedMesh) -> AnimatedMesh:
    """`anim` with its faces split between a textured and a plain material (two primitives)."""
    painted = textured(anim)
    half = anim.num_faces // 2
    plain = Material(name="plain", base_color=[0.2, 0.4, 0.9, 1.0], roughness=0.3, double_sided=True)
    return AnimatedMesh(anim.vertices, anim.faces, fps=anim.fps, uvs=painted.uvs, vertex_colors=painted.vertex_colors,
                        materials=[painted.materials[0], plain], face_materials=[0] * half + [1] * (anim.num_faces - half))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Each case written once as a skinned GLB (with its fit) and as an animated (morph) GLB."""
    folder = tmp_path_factory.mktemp("skinned")
    arm = two_part_clip().watertight_animation(resolution=32)
    cases = {"two_part": arm, "textured": textured(wobbling_sphere()), "two_materials": two_materials(wobbling_sphere())}
    result = {}
    for name, anim in cases.items():
        report = export_skinned_mesh(anim, "skinned-glb", folder / f"{name}.glb", bones=3)
        result[name] = (anim, report, write_animated_glb(anim, folder / f"{name}_morph.glb"))
    return result


def test_khronos_validator_reports_no_errors_or_warnings(written):
    reports = validate(*(report.path for _, report, _ in written.values()))
    for (name, (anim, _, _)), result in zip(written.items(), reports):
        issues = result["issues"]
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, (name, issues["messages"][:5])
        assert result["info"]["animationCount"] == 1 and result["info"]["hasSkins"]
        assert not result["info"]["hasMorphTargets"]
        assert result["info"]["totalVertexCount"] == sum(len(ids) for _, ids, _ in anim.material_parts())


@pytest.mark.parametrize("name", ["two_part", "textured"])
def test_the_file_plays_our_skin_and_the_animation(written, name):
    anim, report, _ = written[name]
    times, positions = Glb(report.path).skinned_positions()
    np.testing.assert_allclose(times, anim.frame_times, atol=1e-6)
    np.testing.assert_allclose(positions, report.fit.rig.positions(), atol=2e-5)
    diagonal = np.linalg.norm(np.ptp(anim.vertices[0], axis=0))
    error = np.linalg.norm(positions - anim.vertices, axis=-1) / diagonal * 100
    assert error.mean() == pytest.approx(report.fit.mean_error, abs=1e-3)
    assert error.max() == pytest.approx(report.fit.max_error, abs=1e-3)


def test_two_part_shape_is_reproduced(written):
    _, report, _ = written["two_part"]
    assert report.fit.mean_error < 0.5 and report.fit.rig.num_bones == 3


def test_skeleton_layout_weights_and_keys(written):
    anim, report, _ = written["two_part"]
    glb = Glb(report.path)
    gltf, rig = glb.gltf, report.fit.rig
    skin = gltf.skins[0]
    names = [gltf.nodes[joint].name for joint in skin.joints]
    assert names == ["root"] + [f"bone_{b:02d}" for b in range(rig.num_bones)]
    assert skin.skeleton == skin.joints[0] and gltf.nodes[skin.joints[0]].children == skin.joints[1:]
    assert gltf.nodes[0].skin == 0 and gltf.nodes[0].mesh == 0 and gltf.nodes[0].translation is None
    assert sorted(gltf.scenes[0].nodes) == [0, skin.joints[0]]
    attributes = glb.primitive.attributes
    weights, joints = glb.accessor(attributes.WEIGHTS_0), glb.accessor(attributes.JOINTS_0)
    assert weights.dtype == np.uint16 and gltf.accessors[attributes.WEIGHTS_0].normalized
    assert joints.dtype == np.uint8 and not gltf.accessors[attributes.JOINTS_0].normalized
    assert (weights.astype(int).sum(1) == 65535).all()
    assert (joints[weights == 0] == 0).all() and (joints[weights > 0] >= 1).all()  # bones only, unused slots 0
    np.testing.assert_array_equal(glb.accessor(attributes.POSITION), anim.vertices[0])  # rest pose = frame 0
    animation = gltf.animations[0]
    assert len(animation.channels) == 2 * rig.num_bones and animation.name == anim.name
    assert {channel.target.path for channel in animation.channels} == {"rotation", "translation"}
    assert {sampler.interpolation for sampler in animation.samplers} == {"LINEAR"}
    for channel in animation.channels:
        if channel.target.path == "rotation":
            quats = glb.accessor(animation.samplers[channel.sampler].output)
            np.testing.assert_allclose(np.linalg.norm(quats, axis=1), 1.0, atol=1e-6)
            assert ((quats[1:] * quats[:-1]).sum(1) >= 0).all()


@pytest.mark.parametrize("name", ["textured", "two_materials"])
def test_materials_uvs_textures_and_colours_are_those_of_the_morph_glb(written, name):
    _, report, morph_path = written[name]
    skinned, morph = Glb(report.path), Glb(morph_path)
    assert [m.to_dict() for m in skinned.gltf.materials] == [m.to_dict() for m in morph.gltf.materials]
    assert [(t.sampler, t.source) for t in skinned.gltf.textures] == [(t.sampler, t.source) for t in morph.gltf.textures]

    def image_bytes(glb):
        views = [glb.gltf.bufferViews[image.bufferView] for image in glb.gltf.images]
        return [glb.blob[v.byteOffset:v.byteOffset + v.byteLength] for v in views]

    assert image_bytes(skinned) and image_bytes(skinned) == image_bytes(morph)
    primitives = zip(skinned.gltf.meshes[0].primitives, morph.gltf.meshes[0].primitives)
    for ours, theirs in primitives:
        assert ours.material == theirs.material
        for attribute in ("TEXCOORD_0", "COLOR_0", "POSITION"):
            np.testing.assert_array_equal(skinned.accessor(getattr(ours.attributes, attribute)),
                                          morph.accessor(getattr(theirs.attributes, attribute)))
        np.testing.assert_array_equal(skinned.accessor(ours.indices), morph.accessor(theirs.indices))
        assert ours.attributes.JOINTS_0 is not None and ours.attributes.NORMAL is not None


@pytest.mark.parametrize("suffix", [".usda", ".usdz"])
def test_usdskel_read_back_with_usd_core_gives_the_same_points_every_frame(tmp_path, suffix):
    anim = textured(wobbling_sphere())
    report = export_skinned_mesh(anim, "usdskel", tmp_path / f"skinned{suffix}", bones=3)
    stage = Usd.Stage.Open(str(report.path))
    assert validation_errors(stage) == []
    root = UsdSkel.Root(stage.GetDefaultPrim())
    assert root and stage.GetTimeCodesPerSecond() == anim.fps
    cache = UsdSkel.Cache()
    cache.Populate(root, Usd.TraverseInstanceProxies())
    (binding,) = cache.ComputeSkelBindings(root, Usd.TraverseInstanceProxies())
    skeleton = cache.GetSkelQuery(binding.GetSkeleton())
    assert list(skeleton.GetJointOrder()) == ["root"] + [f"root/bone_{b:02d}" for b in range(3)]
    assert skeleton.GetAnimQuery().GetPrim().IsA(UsdSkel.Animation)
    (target,) = binding.GetSkinningTargets()
    assert target.GetNumInfluencesPerComponent() == 4
    np.testing.assert_array_equal(np.array(UsdSkel.BindingAPI(target.GetPrim()).GetGeomBindTransformAttr().Get()),
                                  np.eye(4))
    mesh = UsdGeom.Mesh(target.GetPrim())
    assert mesh.GetPointsAttr().GetNumTimeSamples() == 0  # the rest pose, moved by the skeleton
    expected = report.fit.rig.positions()
    for k, time in enumerate(anim.frame_times * anim.fps):
        points = mesh.GetPointsAttr().Get(time)
        assert target.ComputeSkinnedPoints(skeleton.ComputeSkinningTransforms(time), points, time)
        np.testing.assert_allclose(np.asarray(points), expected[k], atol=2e-5)
    assert mesh.GetPrim().GetParent().GetChild("Looks").IsValid()  # materials as in the plain USD
    assert np.asarray(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").Get()).shape == (anim.num_vertices, 2)


def test_export_animated_mesh_dispatches_skinned_formats_and_logs_the_report(tmp_path, caplog):
    anim = wobbling_sphere()
    with caplog.at_level(logging.INFO, logger="actionmesh"):
        path = export_animated_mesh(anim, "skinned-glb", tmp_path / "a", bones=2)
    assert path == tmp_path / "a.glb" and path.is_file()
    assert "[ActionMesh] a.glb:" in caplog.text and "2 bones, error mean" in caplog.text
    with pytest.raises(InputError, match="not skinned"):
        export_skinned_mesh(anim, "glb", tmp_path / "b.glb")
    with pytest.raises(InputError, match="do not apply"):
        export_animated_mesh(anim, "glb", tmp_path / "c.glb", bones=2)
    with pytest.raises(InputError, match="writes .glb files"):
        export_skinned_mesh(anim, "skinned-glb", tmp_path / "d.usd")
    assert not list(tmp_path.glob("[bcd]*"))


def test_a_skinned_glb_is_much_smaller_than_morph_targets(tmp_path):
    anim = wobbling_sphere(num_frames=120, subdivisions=4)
    report = export_skinned_mesh(anim, "skinned-glb", tmp_path / "skinned.glb", bones=4)
    morph = write_animated_glb(anim, tmp_path / "morph.glb")
    assert report.file_bytes == report.path.stat().st_size
    assert morph.stat().st_size > 10 * report.file_bytes


def test_command_line_prints_bones_error_and_size(tmp_path, capsys):
    result = tmp_path / "result.npz"
    two_part_clip().watertight_animation(resolution=32).save(result)
    assert main(["export", str(result), "--format", "skinned-glb", "--out", str(tmp_path / "rig.glb"), "--bones",
                 "auto", "--max-error", "0.5", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "rig.glb: 0." in printed and " MB, 2 bones, error mean " in printed and "% / max " in printed
    assert main(["export", str(result), "--format", "usdskel", "--out", str(tmp_path / "rig.usdz"), "--bones", "2"]) == 0
    assert "rig.usdz" in capsys.readouterr().out and (tmp_path / "rig.usdz").is_file()


def test_command_line_worst_error_bounds_auto(tmp_path, capsys):
    """--worst-error none lets the mean alone decide; a tight bound makes auto add bones (or say it missed)."""
    result = tmp_path / "result.npz"
    make_clip(1_000_001, frames=8).watertight_animation(resolution=32).save(result)
    printed = {}
    for name, bound in (("mean", "none"), ("tight", "0.5")):
        assert main(["export", str(result), "--format", "skinned-glb", "--out", str(tmp_path / f"{name}.glb"),
                     "--max-error", "0.3", "--worst-error", bound]) == 0
        printed[name] = capsys.readouterr().out
    bones = {name: int(re.search(r"(\d+) bones?,", line).group(1)) for name, line in printed.items()}
    worst = float(re.search(r"/ max ([\d.]+) %", printed["tight"]).group(1))
    assert bones["tight"] > bones["mean"] and (worst <= 0.5 or "MISSED" in printed["tight"]), printed


@pytest.mark.parametrize("options, message", [
    (["--bones", "0"], "bones must be between 1 and the mesh's"),
    (["--bones", "100000"], "bones must be between 1 and the mesh's"),
    (["--max-error", "-1"], "max_error must be a positive"),
    (["--worst-error", "0"], "worst_error must be a positive"),
])
def test_command_line_bad_skin_options_exit_2(tmp_path, capsys, options, message):
    result = tmp_path / "result.npz"
    wobbling_sphere().save(result)
    assert main(["export", str(result), "--format", "skinned-glb", "--out", str(tmp_path / "rig.glb"), *options]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "rig.glb").exists()


def test_command_line_one_frame_or_no_faces_exit_2(tmp_path, capsys):
    one_frame = tmp_path / "one.npz"
    AnimatedMesh(wobbling_sphere().vertices[:1], wobbling_sphere().faces).save(one_frame)
    assert main(["export", str(one_frame), "--format", "skinned-glb", "--out", str(tmp_path / "a.glb")]) == 2
    assert "at least 2 frames" in capsys.readouterr().err
    no_faces = tmp_path / "points.npz"
    np.savez(no_faces, vertices=wobbling_sphere().vertices, faces=np.zeros((0, 3), np.int64))
    assert main(["export", str(no_faces), "--format", "usdskel", "--out", str(tmp_path / "a.usd")]) == 2
    assert "at least one face" in capsys.readouterr().err
    assert not list(tmp_path.glob("a.*"))


def test_run_outputs_include_skinned_files(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="actionmesh"):
        written = write_outputs(wobbling_sphere(), tmp_path / "out", "glb,skinned_glb,usdskel",
                                skin_options={"bones": 2})
    assert [path.name for path in written] == ["animated_mesh.glb", "skinned_mesh.glb", "skinned_mesh.usd"]
    assert all(path.is_file() for path in written)
    printed = caplog.text  # each skinned output logs its report through the pack's logger
    assert "skinned_mesh.glb: " in printed and "skinned_mesh.usd: " in printed and "2 bones" in printed
    (report,) = validate(tmp_path / "out" / "skinned_mesh.glb")
    assert report["issues"]["numErrors"] == 0


def test_skin_of_the_file_matches_a_direct_fit(written):
    anim, report, _ = written["textured"]
    direct = decompose(anim.vertices, SkinningConfig(bones=3))
    np.testing.assert_array_equal(direct.rig.weights, report.fit.rig.weights)
    glb = pygltflib.GLTF2().load_binary(str(report.path))
    assert glb.extras["bones"] == 3 and glb.extras["frames"] == anim.num_frames



@pytest.mark.skipif(shutil.which("blender") is None, reason="Blender is not installed (apt-get install blender)")
@pytest.mark.parametrize("name", ["two_part", "textured"])
def test_blender_imports_an_armature_whose_action_moves_the_mesh_as_ours(written, name, tmp_path):
    """Blender's glTF importer: one armature (root + the bones), an action with a key per frame, and the
    armature-deformed mesh (depsgraph-evaluated) at every key where our linear blend skinning puts it."""
    anim, report, _ = written[name]
    script = Path(__file__).parent / "blender_skinned_glb.py"
    run = subprocess.run(["blender", "-b", "--factory-startup", "--python", str(script), "--", str(report.path),
                          str(tmp_path / "blender.npz")], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0 and (tmp_path / "blender.npz").is_file(), run.stdout[-2000:] + run.stderr[-2000:]
    result = np.load(tmp_path / "blender.npz")
    assert json.loads(str(result["bones"])) == ["root"] + report.fit.rig.bone_names()
    assert len(result["frames"]) == anim.num_frames
    np.testing.assert_allclose(result["rest"], anim.vertices[0], atol=1e-6)
    difference = np.abs(result["positions"] - report.fit.rig.positions()).max()
    assert difference < 1e-5, difference


def test_a_result_registered_to_its_video_keeps_its_camera(tmp_path):
    anim = make_clip(HELD_OUT_SEED + 4, frames=4).animated_mesh(max_edge=0.3)  # with the clip's true cameras
    assert anim.cameras is not None
    report = export_skinned_mesh(anim, "skinned-glb", tmp_path / "camera.glb", bones=4)
    (result,) = validate(report.path)
    assert result["issues"]["numErrors"] == 0 and result["issues"]["numWarnings"] == 0
    gltf = Glb(report.path).gltf
    (camera,) = [index for index, node in enumerate(gltf.nodes) if node.name == "video_camera"]
    assert gltf.nodes[camera].camera == 0 and camera in gltf.scenes[0].nodes
    paths = {channel.target.path for channel in gltf.animations[0].channels if channel.target.node == camera}
    assert paths == {"rotation", "translation"}
    usd = export_skinned_mesh(anim, "usdskel", tmp_path / "camera.usda", bones=4)
    stage = Usd.Stage.Open(str(usd.path))
    assert stage.GetDefaultPrim().GetChild("video_camera").IsA(UsdGeom.Camera)
