"""User meshes: loading with appearance, merging at UV seams, the model frame, and the way back."""

import logging

import numpy as np
import pygltflib
import pytest
import trimesh
from PIL import Image

from actionmesh_core.errors import InputError, MeshError
from actionmesh_core.geometry import prepare_user_mesh
from actionmesh_core.io.mesh_file import UserMesh, load_user_mesh

POINT_CLOUD_PLY = (
    b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n"
    b"end_header\n0 0 0\n"
)


def textured_box(extents=(2.0, 1.0, 0.5), offset=(3.0, -1.0, 0.5)):
    """A box whose 12 faces each own 3 vertices (36, as a GLB split at UV seams), with a texture."""
    box = trimesh.creation.box(extents=extents).apply_translation(offset)
    soup = trimesh.Trimesh(box.triangles.reshape(-1, 3), np.arange(36).reshape(-1, 3), process=False)
    uv = np.random.default_rng(0).random((36, 2))
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (8, 16, 3), dtype=np.uint8))
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=image, baseColorFactor=[255, 128, 0, 255])
    soup.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return soup


def glb_texcoords(path):
    """TEXCOORD_0 of the first primitive, read straight from the GLB file."""
    gltf = pygltflib.GLTF2().load(str(path))
    accessor = gltf.accessors[gltf.meshes[0].primitives[0].attributes.TEXCOORD_0]
    view = gltf.bufferViews[accessor.bufferView]
    start = view.byteOffset + (accessor.byteOffset or 0)
    data = gltf.binary_blob()[start : start + accessor.count * 8]
    return np.frombuffer(data, dtype=np.float32).reshape(-1, 2)


@pytest.fixture
def box_glb(tmp_path):
    path = tmp_path / "box.glb"
    textured_box().export(path)
    return path


def test_glb_keeps_layout_uvs_texture_and_colour(box_glb):
    mesh = load_user_mesh(box_glb)
    source = textured_box()
    assert mesh.name == "box"
    np.testing.assert_allclose(mesh.vertices, source.vertices, atol=1e-6)
    np.testing.assert_array_equal(mesh.faces, source.faces)
    np.testing.assert_allclose(mesh.uvs, glb_texcoords(box_glb), atol=1e-7)  # glTF convention, as in the file
    (material,) = mesh.materials
    np.testing.assert_array_equal(material.base_color_texture, np.asarray(source.visual.material.baseColorTexture))
    np.testing.assert_allclose(material.base_color, [1.0, 128 / 255, 0.0, 1.0])


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".gltf"])
def test_other_formats_keep_the_vertex_layout(tmp_path, suffix):
    path = tmp_path / f"box{suffix}"
    textured_box().export(path)
    mesh = load_user_mesh(path)
    np.testing.assert_allclose(mesh.vertices, textured_box().vertices, atol=1e-6)
    assert mesh.uvs.shape == (36, 2)
    assert (mesh.materials is None) == (suffix == ".ply")  # PLY carries UVs but no image


def test_vertex_colours_are_kept(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=1)
    sphere.visual.vertex_colors = np.random.default_rng(2).integers(0, 256, (len(sphere.vertices), 4), dtype=np.uint8)
    sphere.export(tmp_path / "painted.ply")
    mesh = load_user_mesh(tmp_path / "painted.ply")
    np.testing.assert_array_equal(mesh.vertex_colors, sphere.visual.vertex_colors)
    assert mesh.uvs is None and mesh.materials is None


def test_scene_parts_are_concatenated(tmp_path):
    scene = trimesh.Scene([textured_box(offset=(0, 0, 0)), textured_box(offset=(5, 0, 0))])
    scene.export(tmp_path / "two.glb")
    mesh = load_user_mesh(tmp_path / "two.glb")
    assert mesh.vertices.shape == (72, 3) and mesh.faces.shape == (24, 3)
    assert mesh.uvs.shape == (72, 2) and mesh.materials[0].base_color_texture is not None
    assert len(trimesh.Trimesh(mesh.vertices, mesh.faces).split(only_watertight=False)) == 2


def test_prepare_merges_seams_and_normalises(box_glb):
    prepared = prepare_user_mesh(load_user_mesh(box_glb))
    assert prepared.vertices.shape == (8, 3) and prepared.faces.shape == (12, 3)
    np.testing.assert_allclose(prepared.vertices.min(axis=0), [-1.0, -0.5, -0.25], atol=1e-6)
    np.testing.assert_allclose(prepared.vertices.max(axis=0), [1.0, 0.5, 0.25], atol=1e-6)
    np.testing.assert_allclose(prepared.frame.center, [3.0, -1.0, 0.5], atol=1e-6)
    assert prepared.frame.scale == pytest.approx(1.0)
    assert prepared.merge_map.shape == (36,) and set(prepared.merge_map.tolist()) == set(range(8))
    assert trimesh.Trimesh(prepared.vertices, prepared.faces).is_watertight  # seams are closed
    np.testing.assert_array_equal(prepared.encoder_faces, prepared.faces)  # below the face limit


def test_restore_maps_animations_back_to_the_original_layout(box_glb):
    user = load_user_mesh(box_glb)
    prepared = prepare_user_mesh(user)
    shift = np.array([0.1, 0.0, -0.2], dtype=np.float32)
    frames = np.stack([prepared.vertices, prepared.vertices + shift])  # (T=2, Vm, 3)
    restored = prepared.restore_original_layout(frames)
    assert restored.shape == (2, 36, 3) and restored.dtype == np.float32
    np.testing.assert_allclose(restored[0], user.vertices, atol=1e-5)
    np.testing.assert_allclose(restored[1], user.vertices + shift * prepared.frame.scale, atol=1e-5)
    animated = prepared.to_animated_mesh(frames, fps=12.0)
    assert animated.vertices.shape == (2, 36, 3)
    np.testing.assert_array_equal(animated.faces, user.faces)
    np.testing.assert_array_equal(animated.uvs, user.uvs)
    assert animated.materials is user.materials


def test_z_up_meshes_are_turned_to_y_up_and_back():
    tall = trimesh.creation.box(extents=(0.5, 1.0, 4.0))
    user = UserMesh(tall.vertices, tall.faces)
    prepared = prepare_user_mesh(user, up_axis="+z")
    np.testing.assert_allclose(prepared.vertices.max(axis=0), [0.125, 1.0, 0.25], atol=1e-6)
    assert np.linalg.det(prepared.frame.rotation) == pytest.approx(1.0)
    np.testing.assert_allclose(prepared.restore_original_layout(prepared.vertices), tall.vertices, atol=1e-6)


def test_meshes_above_the_face_limit_decimate_only_the_encoder_surface(caplog):
    sphere = trimesh.creation.icosphere(subdivisions=3)  # 1280 faces
    with caplog.at_level(logging.WARNING):
        prepared = prepare_user_mesh(UserMesh(sphere.vertices, sphere.faces, name="dense"), face_limit=200)
    assert "1280 faces" in caplog.text and "dense" in caplog.text
    assert len(prepared.encoder_faces) <= 200
    assert prepared.vertices.shape == (642, 3) and prepared.faces.shape == (1280, 3)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("mesh.fbx", b"Kaydara FBX Binary", "unsupported mesh format '.fbx'"),
        ("mesh.glb", b"not a glb at all", "cannot read mesh.glb"),
        ("points.ply", POINT_CLOUD_PLY, "no faces"),
        ("nan.obj", b"v 0 0 0\nv 1 0 nan\nv 0 1 0\nf 1 2 3\n", "NaN"),
    ],
)
def test_unusable_files_raise_mesh_errors(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(MeshError, match=message):
        load_user_mesh(tmp_path / name)


def test_missing_file_and_degenerate_meshes_raise_mesh_errors(tmp_path):
    with pytest.raises(MeshError, match="no mesh file"):
        load_user_mesh(tmp_path / "absent.glb")
    collapsed = UserMesh(np.ones((4, 3)), [[0, 1, 2], [1, 2, 3]], name="dot")
    with pytest.raises(MeshError, match="no faces with non-zero area"):
        prepare_user_mesh(collapsed)
    with pytest.raises(InputError, match="unknown up axis"):
        prepare_user_mesh(UserMesh(np.eye(3), [[0, 1, 2]]), up_axis="up")


@pytest.mark.parametrize(
    ("vertices", "faces", "message"),
    [
        (np.eye(3), np.zeros((0, 3)), "no faces"),
        (np.eye(3), [[0, 1, 3]], "outside its 3 vertices"),
        (np.eye(4), [[0, 1, 2, 3]], r"triangles \(F, 3\)"),
        (np.eye(3)[:, :2], [[0, 1, 2]], r"vertices \(V, 3\)"),
    ],
)
def test_user_mesh_checks_its_arrays(vertices, faces, message):
    with pytest.raises(MeshError, match=message):
        UserMesh(vertices, faces)


def quad_glb(path, *, base: bool = True, truncate: int = 0, indices=(0, 1, 2, 0, 2, 3), mode=None):
    """A unit quad (4 vertices, 2 triangles of `indices` in primitive `mode`) whose vertices 1 and 3 are
    [0, 0, 0] in the buffer view and come right only from a sparse substitution. base=False: no buffer
    view, so the others are zeros. Returns the positions a reader must find."""
    quad = np.float32([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    stored = quad.copy()
    stored[[1, 3]] = 0.0
    chunks = [stored.tobytes(), np.uint16(indices).tobytes(), np.uint16([1, 3]).tobytes(), quad[[1, 3]].tobytes()]
    starts = np.cumsum([0] + [len(chunk) for chunk in chunks])
    blob = b"".join(chunks)
    views = [pygltflib.BufferView(buffer=0, byteOffset=int(start), byteLength=len(chunk))
             for start, chunk in zip(starts, chunks)]
    positions = pygltflib.Accessor(bufferView=0 if base else None, componentType=pygltflib.FLOAT, count=4,
                                   type=pygltflib.VEC3)
    positions.sparse = pygltflib.Sparse(
        count=2, indices=pygltflib.AccessorSparseIndices(bufferView=2, componentType=pygltflib.UNSIGNED_SHORT),
        values=pygltflib.AccessorSparseValues(bufferView=3))
    primitive = pygltflib.Primitive(attributes=pygltflib.Attributes(POSITION=0), indices=1, mode=mode)
    gltf = pygltflib.GLTF2(
        scene=0, scenes=[pygltflib.Scene(nodes=[0])], nodes=[pygltflib.Node(mesh=0)],
        meshes=[pygltflib.Mesh(primitives=[primitive])],
        accessors=[positions, pygltflib.Accessor(bufferView=1, componentType=pygltflib.UNSIGNED_SHORT,
                                                 count=len(indices), type=pygltflib.SCALAR)],
        bufferViews=views, buffers=[pygltflib.Buffer(byteLength=len(blob) - truncate)])
    gltf.set_binary_blob(blob[:len(blob) - truncate])
    gltf.save_binary(str(path))
    return quad if base else quad * np.float32([[0], [1], [0], [1]])


@pytest.mark.parametrize(("indices", "mode", "faces"), [
    ((0, 1, 3, 2), pygltflib.TRIANGLE_STRIP, [[0, 1, 3], [1, 2, 3]]),
    ((0, 1, 2, 3), pygltflib.TRIANGLE_FAN, [[1, 2, 0], [2, 3, 0]]),
], ids=["strip", "fan"])
def test_triangle_strips_and_fans_become_lists_that_wind_alike(tmp_path, indices, mode, faces):
    quad_glb(tmp_path / "quad.glb", indices=indices, mode=mode)
    mesh = load_user_mesh(tmp_path / "quad.glb")
    np.testing.assert_array_equal(mesh.faces, faces)
    corners = mesh.vertices[mesh.faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    assert (normals[:, 2] > 0).all()  # both face +z, as the quad's list does


def test_a_triangle_list_of_a_wrong_length_is_a_clear_error(tmp_path):
    quad_glb(tmp_path / "quad.glb", indices=(0, 1, 2, 0, 2))
    with pytest.raises(MeshError, match="not a multiple of 3"):
        load_user_mesh(tmp_path / "quad.glb")


@pytest.mark.parametrize("base", [True, False], ids=["over a buffer view", "over zeros"])
def test_sparse_accessors_are_applied(tmp_path, base):
    quad = quad_glb(tmp_path / "quad.glb", base=base)
    mesh = load_user_mesh(tmp_path / "quad.glb")
    np.testing.assert_array_equal(mesh.vertices, quad)
    np.testing.assert_array_equal(mesh.faces, [[0, 1, 2], [0, 2, 3]])


def test_a_truncated_glb_buffer_is_a_clear_error(tmp_path):
    quad_glb(tmp_path / "quad.glb", truncate=8)
    with pytest.raises(MeshError, match="shorter than its accessor"):
        load_user_mesh(tmp_path / "quad.glb")
