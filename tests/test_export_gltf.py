"""Animated GLB: Khronos validator, read-back with pygltflib, agreement with the per-frame GLBs."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import numpy as np
import pygltflib
import pytest
import trimesh
from PIL import Image

from actionmesh_core.animated_mesh import AnimatedMesh, Material
from actionmesh_core.errors import InputError, MeshError, OutputError
from actionmesh_core.export.frame_meshes import write_frame_meshes
from actionmesh_core.export.gltf import write_animated_glb
from export_checks import Glb, textured, validate, wobbling_sphere


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, tuple[AnimatedMesh, Path]]:
    """The animations of these tests, each written once as an animated GLB."""
    folder = tmp_path_factory.mktemp("glb")
    plain, painted = wobbling_sphere(), textured(wobbling_sphere())
    cases = {
        "smooth": (plain, {}),
        "hold_normals": (plain, {"interpolation": "hold", "normals": True}),
        "textured": (painted, {"normals": True}),
    }
    return {
        name: (anim, write_animated_glb(anim, folder / f"{name}.glb", **options))
        for name, (anim, options) in cases.items()
    }


def test_khronos_validator_reports_no_errors_or_warnings(written):
    reports = validate(*(path for _, path in written.values()))
    for (name, (anim, _)), report in zip(written.items(), reports):
        issues = report["issues"]
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, (name, issues["messages"][:5])
        assert report["info"]["animationCount"] == 1 and report["info"]["hasMorphTargets"]
        assert report["info"]["totalVertexCount"] == anim.num_vertices
        assert report["info"]["hasTextures"] == (name == "textured")


def test_validator_harness_catches_a_broken_file(tmp_path):
    """The harness must be able to fail: a GLB whose POSITION bounds are wrong is reported."""
    anim = wobbling_sphere(num_frames=2)
    path = write_animated_glb(anim, tmp_path / "ok.glb")
    glb = pygltflib.GLTF2().load_binary(str(path))
    glb.accessors[glb.meshes[0].primitives[0].attributes.POSITION].max = [9.0, 9.0, 9.0]
    glb.save_binary(str(tmp_path / "broken.glb"))
    (report,) = validate(tmp_path / "broken.glb")
    assert report["issues"]["numErrors"] > 0


@pytest.mark.parametrize("name", ["smooth", "hold_normals", "textured"])
def test_each_key_reproduces_its_frame(written, name):
    anim, path = written[name]
    glb = Glb(path)
    base, targets = glb.base_and_targets()
    times, weights, _ = glb.keys()
    assert len(targets) == anim.num_frames
    np.testing.assert_array_equal(base, anim.vertices[0])
    np.testing.assert_allclose(times[: anim.num_frames], anim.frame_times, atol=1e-6)
    for k in range(anim.num_frames):
        posed = base + np.tensordot(weights[k], targets, axes=1)
        np.testing.assert_allclose(posed, anim.vertices[k], atol=1e-5)
    assert glb.gltf.meshes[0].weights == np.eye(anim.num_frames)[0].tolist()
    assert glb.gltf.animations[0].name == anim.name
    channel = glb.gltf.animations[0].channels[0]
    assert (channel.target.node, channel.target.path) == (0, "weights")


def test_smooth_mode_cross_fades_neighbouring_frames(written):
    anim, path = written["smooth"]
    base, targets = Glb(path).base_and_targets()
    times, weights, interpolation = Glb(path).keys()
    assert interpolation == "LINEAR" and len(times) == anim.num_frames
    midway = (times[2] + times[3]) / 2
    midway_weights = np.array([np.interp(midway, times, weights[:, j]) for j in range(weights.shape[1])])
    posed = base + np.tensordot(midway_weights, targets, axes=1)
    np.testing.assert_allclose(posed, (anim.vertices[2] + anim.vertices[3]) / 2, atol=1e-5)


def test_hold_mode_steps_and_shows_the_last_frame_for_one_frame(written):
    anim, path = written["hold_normals"]
    times, weights, interpolation = Glb(path).keys()
    assert interpolation == "STEP"
    assert len(times) == anim.num_frames + 1
    assert times[-1] == pytest.approx(anim.num_frames / anim.fps)
    np.testing.assert_array_equal(weights[-1], weights[-2])
    np.testing.assert_array_equal(weights[:-1], np.eye(anim.num_frames))


def test_morph_normals_follow_the_frames(written):
    anim, path = written["hold_normals"]
    glb = Glb(path)
    base_normals = glb.accessor(glb.primitive.attributes.NORMAL)
    last = base_normals + glb.accessor(glb.primitive.targets[-1]["NORMAL"])
    expected = trimesh.Trimesh(anim.vertices[-1], anim.faces, process=False).vertex_normals
    np.testing.assert_allclose(np.linalg.norm(base_normals, axis=1), 1.0, atol=1e-5)
    assert np.mean(np.sum(last * expected, axis=1)) > 0.99  # same directions as trimesh's normals


def test_texture_uvs_and_colours_are_carried(written):
    anim, path = written["textured"]
    glb = Glb(path)
    attributes = glb.primitive.attributes
    np.testing.assert_array_equal(glb.accessor(attributes.TEXCOORD_0), anim.uvs)
    np.testing.assert_array_equal(glb.colours(), anim.vertex_colors)
    linear = glb.accessor(attributes.COLOR_0)[:, :3] / 65535.0  # glTF's COLOR_0 is linear light, not sRGB bytes
    np.testing.assert_allclose(linear, ((anim.vertex_colors[:, :3] / 255.0 + 0.055) / 1.055) ** 2.4, atol=0.005)
    material = glb.gltf.materials[glb.primitive.material]
    assert material.pbrMetallicRoughness.baseColorFactor == pytest.approx(anim.materials[0].base_color.tolist())
    image = glb.gltf.images[glb.gltf.textures[material.pbrMetallicRoughness.baseColorTexture.index].source]
    view = glb.gltf.bufferViews[image.bufferView]
    png = glb.blob[view.byteOffset : view.byteOffset + view.byteLength]
    assert image.mimeType == "image/png"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), anim.materials[0].base_color_texture)


def test_uncompressed_and_self_contained(written):
    glb = Glb(written["textured"][1])
    assert not glb.gltf.extensionsUsed and not glb.gltf.extensionsRequired
    assert all(buffer.uri is None for buffer in glb.gltf.buffers)
    assert all(image.uri is None for image in glb.gltf.images)


def test_per_frame_glbs_equal_the_animated_frames_without_mirror(written, tmp_path):
    anim, path = written["smooth"]
    glb = Glb(path)
    base, targets = glb.base_and_targets()
    _, weights, _ = glb.keys()
    for k, frame_path in enumerate(write_frame_meshes(anim, tmp_path)):
        assert frame_path.name == f"mesh_{k:02d}.glb"
        frame = Glb(frame_path)
        assert all(node.matrix is None and node.rotation is None and node.scale is None for node in frame.gltf.nodes)
        positions = frame.accessor(frame.primitive.attributes.POSITION)
        np.testing.assert_array_equal(positions, anim.vertices[k])
        np.testing.assert_allclose(positions, base + np.tensordot(weights[k], targets, axes=1), atol=1e-6)


def test_per_frame_glbs_keep_the_uvs(tmp_path):
    anim = textured(wobbling_sphere(num_frames=2))
    frame = Glb(write_frame_meshes(anim, tmp_path)[1])
    np.testing.assert_allclose(frame.accessor(frame.primitive.attributes.TEXCOORD_0), anim.uvs, atol=1e-6)


def test_sixteen_frames_of_forty_thousand_faces_stay_under_ten_megabytes(tmp_path):
    rng = np.random.default_rng(0)
    num_frames, num_vertices = 16, 20_000
    vertices = rng.uniform(-1, 1, (num_frames, num_vertices, 3))
    faces = rng.integers(0, num_vertices, (40_000, 3))
    size = write_animated_glb(AnimatedMesh(vertices, faces), tmp_path / "big.glb").stat().st_size
    assert size < 10_000_000
    positions_and_indices = (num_frames + 1) * num_vertices * 12 + 40_000 * 3 * 2
    assert positions_and_indices < size < positions_and_indices + 20_000  # plain float32, little else


def test_rejects_an_unknown_interpolation(tmp_path):
    with pytest.raises(InputError, match="interpolation"):
        write_animated_glb(wobbling_sphere(2), tmp_path / "x.glb", interpolation="cubic")
    assert not (tmp_path / "x.glb").exists()


def test_an_existing_file_is_replaced_whole_or_kept(tmp_path, monkeypatch):
    path = tmp_path / "anim.glb"
    path.write_bytes(b"old")
    write_animated_glb(wobbling_sphere(2), path)
    assert len(Glb(path).gltf.meshes[0].primitives[0].targets) == 2

    previous = path.read_bytes()

    from actionmesh_core.export import gltf

    write = gltf.BinaryBuffer.write

    def crash_half_way(self, stream):  # the disk fills half-way through the file
        data = io.BytesIO()
        write(self, data)
        stream.write(data.getvalue()[: len(data.getvalue()) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gltf.BinaryBuffer, "write", crash_half_way)
    with pytest.raises(OutputError, match="the disk holding .*anim.glb is full"):
        write_animated_glb(wobbling_sphere(3), path)
    monkeypatch.undo()
    assert path.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anim.glb"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: AnimatedMesh([np.zeros((4, 3)), np.zeros((5, 3))], [[0, 1, 2]]), "same vertex count"),
        (lambda: AnimatedMesh(np.full((2, 3, 3), np.nan), [[0, 1, 2]]), "NaN"),
        (lambda: AnimatedMesh(np.zeros((0, 3, 3)), [[0, 1, 2]]), "zero frames"),
        (lambda: AnimatedMesh([], [[0, 1, 2]]), "zero frames"),
        (lambda: wobbling_sphere(2, vertex_colors=np.zeros((5, 4))), r"vertex_colors must have shape \(642, 3\|4\)"),
        (lambda: wobbling_sphere(2, vertex_colors=np.zeros((642, 2))), "vertex_colors must have shape"),
        (lambda: wobbling_sphere(2, uvs=np.zeros((642, 3))), r"uvs must have shape \(642, 2\)"),
        (lambda: Material(base_color_texture=np.zeros((8, 8))), r"base_color_texture must .* \(H, W, 3\|4"),
        (lambda: Material(normal_texture=np.zeros((8, 8, 2))), "normal_texture must have shape"),
    ],
)
def test_bad_animations_are_refused_with_a_clear_message(make, message):
    with pytest.raises(MeshError, match=message):
        make()


def test_rgb_colours_and_textures_are_accepted(tmp_path):
    """(V, 3) vertex colours and an RGB texture are valid: the GLB pads the colours to RGBA."""
    base = textured(wobbling_sphere(2))
    rgb = Material(base_color_texture=base.materials[0].base_color_texture[..., :3])
    anim = AnimatedMesh(base.vertices, base.faces, uvs=base.uvs, materials=[rgb],
                        vertex_colors=base.vertex_colors[:, :3])
    glb = Glb(write_animated_glb(anim, tmp_path / "rgb.glb"))
    np.testing.assert_array_equal(glb.colours(), np.concatenate([anim.vertex_colors, np.full((642, 1), 255)], axis=1))
    (report,) = validate(tmp_path / "rgb.glb")
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]


def test_textures_without_uvs_are_dropped_and_the_file_stays_valid(tmp_path):
    """A texture needs UVs: a material with one on a mesh without UVs keeps only its factors."""
    base = wobbling_sphere(2)
    painted = Material(base_color=[0.9, 0.2, 0.2, 1.0], base_color_texture=np.zeros((4, 4, 3), np.uint8))
    anim = AnimatedMesh(base.vertices, base.faces, materials=[painted])
    (material,) = anim.materials
    assert material.textures() == {} and material.base_color.tolist() == [0.9, 0.2, 0.2, 1.0]
    glb = Glb(write_animated_glb(anim, tmp_path / "plain.glb"))
    assert glb.gltf.textures == [] and glb.gltf.images == []
    (report,) = validate(tmp_path / "plain.glb")
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> tuple[AnimatedMesh, dict[str, Path]]:
    """A held-out synthetic clip's exact surfaces, coloured, with its true video cameras, written both ways."""
    from actionmesh_core.data.clips import HELD_OUT_SEED, make_clip

    anim = make_clip(HELD_OUT_SEED + 4, frames=4).animated_mesh(max_edge=0.3)
    folder = tmp_path_factory.mktemp("camera")
    return anim, {mode: write_animated_glb(anim, folder / f"{mode}.glb", interpolation=mode)
                  for mode in ("smooth", "hold")}


def camera_keys(glb: Glb) -> tuple[pygltflib.Node, pygltflib.Camera, np.ndarray, np.ndarray, np.ndarray, str]:
    """The video camera's node, camera, key times (K,), translations (K, 3), rotations (K, 4) and interpolation."""
    (node_index,) = [i for i, node in enumerate(glb.gltf.nodes) if node.name == "video_camera"]
    node = glb.gltf.nodes[node_index]
    animation = glb.gltf.animations[0]
    values = {}
    for channel in animation.channels:
        if channel.target.node == node_index:
            sampler = animation.samplers[channel.sampler]
            values[channel.target.path] = (glb.accessor(sampler.input), glb.accessor(sampler.output),
                                           sampler.interpolation)
    (times, translations, interpolation), (_, rotations, _) = values["translation"], values["rotation"]
    return node, glb.gltf.cameras[node.camera], times, translations, rotations, interpolation


def test_video_camera_glb_passes_the_validator_and_keeps_its_colours(registered):
    anim, paths = registered
    for report in validate(*paths.values()):
        assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report["issues"]
    glb = Glb(paths["smooth"])
    assert glb.gltf.scenes[0].nodes == [0, 1] and glb.gltf.nodes[1].name == "video_camera"
    np.testing.assert_array_equal(glb.colours()[:, :3], anim.vertex_colors[:, :3])


def test_video_camera_reproduces_the_overlay_projection(registered):
    """Read the GLB back, pose its camera node at every key, project the morphed vertices through its yfov and
    aspect ratio: the pixels are ours, and they land on the mesh the overlay draws."""
    from scipy import ndimage
    from scipy.spatial.transform import Rotation

    from actionmesh_core.video_fit import render_overlay

    anim, paths = registered
    glb = Glb(paths["smooth"])
    node, camera, times, translations, rotations, interpolation = camera_keys(glb)
    cameras = anim.cameras
    assert camera.type == "perspective" and interpolation == "LINEAR"
    assert camera.perspective.yfov == pytest.approx(cameras.yfov) and camera.perspective.aspectRatio == 1.0
    np.testing.assert_allclose(times, anim.frame_times, atol=1e-6)
    np.testing.assert_allclose(node.translation, translations[0])
    np.testing.assert_allclose(node.rotation, rotations[0])
    base, targets = glb.base_and_targets()
    frames = np.zeros((anim.num_frames, *cameras.image_size[::-1], 3), np.uint8)
    overlay = render_overlay(anim, frames, opacity=1.0, mode="flat")
    drawn = ndimage.binary_dilation(overlay.any(axis=-1), np.ones((1, 3, 3), bool))
    focal = 1.0 / np.tan(camera.perspective.yfov / 2)
    width, height = cameras.image_size
    for k in range(anim.num_frames):
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = Rotation.from_quat(rotations[k]).as_matrix(), translations[k]
        view = np.linalg.inv(pose)
        points = (base + targets[k]) @ view[:3, :3].T + view[:3, 3]
        ndc = focal * points[:, :2] / -points[:, 2:] / [camera.perspective.aspectRatio, 1.0]
        pixels = np.stack([(ndc[:, 0] + 1) / 2 * width, (1 - ndc[:, 1]) / 2 * height], axis=1)
        ours, _ = cameras.project(anim.vertices[k], k)
        np.testing.assert_allclose(pixels, ours, atol=2e-3)
        column, row = np.floor(pixels).astype(int).T
        assert drawn[k, row, column].all()


def test_video_camera_holds_its_last_pose_on_the_closing_key(registered):
    anim, paths = registered
    _, _, times, translations, rotations, interpolation = camera_keys(Glb(paths["hold"]))
    assert interpolation == "STEP" and len(times) == anim.num_frames + 1
    np.testing.assert_array_equal(translations[-1], translations[-2])
    np.testing.assert_array_equal(rotations[-1], rotations[-2])
    np.testing.assert_allclose(np.linalg.norm(rotations, axis=1), 1.0, atol=1e-6)
