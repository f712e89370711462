"""Names and URIs from outside never lead a read or a write outside their folder: the one helper
(`actionmesh_core.safe_paths`), then every place that goes through it with the same escapes: the Export node's
prefix (nothing written before the check), Load Video / Load Mesh file names, and the files a glTF, OBJ or PLY
refers to (never read; a clear MeshError)."""

from __future__ import annotations

import base64
import io
import json
import os
import sys

import numpy as np
import pytest
import trimesh
from PIL import Image

from actionmesh_core.base.safe_paths import contained_path, resource_path
from actionmesh_core.errors import InputError, MeshError
from actionmesh_core.io.mesh_file import load_user_mesh
from comfy_pack import run_node

SECRET = b"TOP-SECRET-BYTES-0123456789"

# (name, why it must be refused); each is tried as an output prefix, an input file name and a mesh reference
ESCAPES = {
    "../escape": "dot segments",
    "a/../../escape": "dot segments under a folder",
    "a/b/../../../escape": "dot segments, deeper",
    "..": "the parent itself",
    ".": "the folder itself",
    "a/..": "the folder itself, through a folder",
    "x/../": "the folder itself, trailing slash",
    "/etc/passwd": "absolute POSIX path",
    "//server/share/x": "network path",
    "C:\\Windows\\win.ini": "Windows drive letter and backslashes",
    "C:/Windows/win.ini": "Windows drive letter with slashes",
    "c:relative": "Windows drive-relative path",
    "..\\..\\escape": "backslash dot segments",
    "a\\b": "a backslash",
    "\\\\server\\share\\x": "UNC path",
    "x\0.glb": "NUL byte",
    "x\n.glb": "a newline",
    "": "empty",
    "   ": "blank",
    "a" * 300: "a name longer than any file system takes",
    "a/" * 2100 + "b": "a path longer than any file system takes",
}
REFUSED = "leads outside|absolute|is empty|backslash|control character|too long|names the folder|scheme"
"""What the refusals say (a name that merely does not exist would be a different error)."""


@pytest.fixture
def jail(tmp_path):
    """root/ (the folder names must stay in) beside outside/secret.bin, and root/link -> outside/."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.bin").write_bytes(SECRET)
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "secret_link.bin").symlink_to(outside / "secret.bin")
    return root


@pytest.mark.parametrize("name", list(ESCAPES), ids=list(ESCAPES.values()))
def test_contained_path_refuses_every_escape(jail, name):
    with pytest.raises(InputError, match=REFUSED):
        contained_path(jail, name)


@pytest.mark.parametrize("name", ["link/secret.bin", "link/../x", "secret_link.bin", "link"],
                         ids=["through a folder link", "dot segments after a link", "file link", "the link itself"])
def test_links_that_lead_outside_are_refused(jail, name):
    with pytest.raises(InputError, match="leads outside"):
        contained_path(jail, name)


@pytest.mark.parametrize(("name", "inside"), [
    ("a/b.glb", "a/b.glb"),
    ("a/../b.glb", "b.glb"),  # dot segments that stay inside are fine
    ("%2e%2e%2fescape", "%2e%2e%2fescape"),  # a file name is not a URI: percent signs are literal
    ("root", "root"),  # the folder's own name is an ordinary name inside it
    ("a/./b", "a/b"),
    ("name with spaces.glb", "name with spaces.glb"),
])
def test_names_inside_the_folder_resolve_inside_it(jail, name, inside):
    assert contained_path(jail, name) == jail.resolve() / inside


@pytest.mark.parametrize("reference", [
    "file:///etc/passwd", "file://localhost/etc/passwd", "http://example.com/x.bin", "HTTPS://example.com/x",
    "%2e%2e/outside/secret.bin", "%2e%2e%2foutside%2fsecret.bin", "..%2Foutside%2Fsecret.bin", "%2Fetc%2Fpasswd",
    "..%5C..%5Cescape", "x%00.bin", "C%3A%5Cwin.ini", "%ff%fe",
])
def test_uri_references_are_decoded_once_then_checked(jail, reference):
    with pytest.raises(MeshError, match=REFUSED + "|not UTF-8"):
        resource_path(jail, reference)


def test_double_encoding_stays_a_literal_name_inside(jail):
    assert resource_path(jail, "%252e%252e%252fescape") == jail.resolve() / "%2e%2e%2fescape"


# ------------------------------------------------------------------ ComfyUI nodes: Export, Load Video, Load Mesh

def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def tiny_animation(pack):
    AnimatedMesh = pack.actionmesh_core.animated_mesh.AnimatedMesh
    vertices = np.float32([[[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 0, 1], [1, 0, 1], [0, 1, 1]]])
    return AnimatedMesh(vertices, [[0, 1, 2]], fps=4.0)


@pytest.mark.parametrize("prefix", [*ESCAPES, "link/escape", "actionmesh/../..", "actionmesh/../../output/x/.."],
                         ids=[*ESCAPES.values(), "through a link", "two levels up", "back in through the parent"])
def test_export_refuses_prefixes_that_leave_the_output_folder_before_writing(pack, comfy_base, tiny_animation,
                                                                           prefix, tmp_path):
    errors = pack.actionmesh_core.errors
    output = comfy_base / "output"
    link = output / "link"
    if not link.is_symlink():
        outside = comfy_base / "outside"
        outside.mkdir(exist_ok=True)
        link.symlink_to(outside, target_is_directory=True)
    before = _listing(comfy_base)
    node = pack.NODE_CLASS_MAPPINGS["ActionMeshExport"]
    assert node.VALIDATE_INPUTS(prefix) is not True
    for fmt in ("glb", "frames"):
        with pytest.raises(errors.InputError, match=REFUSED):
            run_node(pack, "ActionMeshExport", animation=tiny_animation, format=fmt, filename_prefix=prefix)
    assert _listing(comfy_base) == before  # nothing written anywhere, not even a folder


@pytest.mark.parametrize(("prefix", "written"), [
    ("output", "output_00001_.glb"),  # the output folder's own name: a file inside it
    ("%2e%2e%2fx", "%2e%2e%2fx_00001_.glb"),  # literal percent signs
    ("deep/er/x", "deep/er/x_00001_.glb"),
])
def test_export_writes_harmless_prefixes_inside_the_output_folder(pack, comfy_base, tiny_animation, prefix, written):
    output = comfy_base / "output" / "safe_names"
    (path,), ui = run_node(pack, "ActionMeshExport", animation=tiny_animation, format="glb",
                           filename_prefix=f"safe_names/{prefix}")
    assert path == f"safe_names/{written}" and (output / written).is_file()


@pytest.mark.parametrize("name", [*ESCAPES, "../outside/secret.bin", "3d/../../outside/secret.bin"],
                         ids=[*ESCAPES.values(), "sibling folder", "through 3d"])
def test_load_video_and_mesh_refuse_names_outside_the_input_folder(pack, comfy_base, name):
    errors = pack.actionmesh_core.errors
    (comfy_base / "outside").mkdir(exist_ok=True)
    (comfy_base / "outside" / "secret.bin").write_bytes(SECRET)
    for node_id, widget, extra in [
        ("ActionMeshLoadVideo", "video", dict(frame_load_cap=3, stride=1, start_frame=0, max_side=64)),
        ("ActionMeshLoadMesh", "mesh_file", dict(up_axis="+y")),
    ]:
        node = pack.NODE_CLASS_MAPPINGS[node_id]
        assert node.VALIDATE_INPUTS(name) is not True
        with pytest.raises(errors.InputError, match=REFUSED):
            run_node(pack, node_id, **{widget: name}, **extra)


def test_load_mesh_refuses_a_link_in_the_input_folder_that_leads_out(pack, comfy_base, tmp_path):
    trimesh.creation.box().export(tmp_path / "outside_box.glb")
    link = comfy_base / "input" / "3d" / "linked_box.glb"
    link.symlink_to(tmp_path / "outside_box.glb")
    try:
        with pytest.raises(pack.actionmesh_core.errors.InputError, match="leads outside"):
            run_node(pack, "ActionMeshLoadMesh", mesh_file="3d/linked_box.glb", up_axis="+y")
    finally:
        link.unlink()


# ------------------------------------------------------------------ references inside mesh files

TRIANGLE = np.float32([[0, 0, 0], [1, 0, 0], [0, 1, 0]])
_OPENED: set[str] | None = None  # files opened while a test records them (Python's "open" audit event)


def _record_open(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.add(os.path.realpath(args[0]))


@pytest.fixture
def opened_files():
    """The real paths of every file opened during the test (an audit hook is installed once per process)."""
    global _OPENED
    if not getattr(sys, "_actionmesh_open_hook", False):
        sys.addaudithook(_record_open)
        sys._actionmesh_open_hook = True
    _OPENED = set()
    yield _OPENED
    _OPENED = None


def _png() -> bytes:
    data = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(data, format="PNG")
    return data.getvalue()


def write_gltf(path, buffer_uri: str, image_uri: str | None = None):
    """A one-triangle .gltf whose vertex buffer is at `buffer_uri` (and whose base-colour texture, if any, at
    `image_uri`)."""
    document = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                       "min": [0, 0, 0], "max": [1, 1, 0]}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 36}],
        "buffers": [{"uri": buffer_uri, "byteLength": 36}],
    }
    if image_uri is not None:
        document["meshes"][0]["primitives"][0]["material"] = 0
        document["materials"] = [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}]
        document["textures"] = [{"source": 0}]
        document["images"] = [{"uri": image_uri}]
    path.write_text(json.dumps(document))
    return path


GLTF_ESCAPES = [
    "../outside/secret.bin", "sub/../../outside/secret.bin", "link/secret.bin", "secret_link.bin",
    "%2e%2e/outside/secret.bin", "%2E%2E%2Foutside%2Fsecret.bin", "..%2foutside%2fsecret.bin",
    "{abs}", "file://{abs}", "file:{abs}", "FILE://localhost{abs}", "http://127.0.0.1/secret.bin",
    "C:\\outside\\secret.bin",
    "C:/outside/secret.bin", "..\\outside\\secret.bin", "\\\\server\\share\\secret.bin", "//server/share/secret.bin",
    "secret.bin%00", ".", "",
]


@pytest.fixture
def mesh_folder(jail):
    """jail/meshes/ (where the mesh files go) with its own triangle buffer and texture, plus links out."""
    folder = jail / "meshes"
    folder.mkdir()
    (folder / "triangle.bin").write_bytes(TRIANGLE.tobytes())
    (folder / "textures").mkdir()
    (folder / "textures" / "grey.png").write_bytes(_png())
    (folder / "link").symlink_to(jail.parent / "outside", target_is_directory=True)
    (folder / "secret_link.bin").symlink_to(jail.parent / "outside" / "secret.bin")
    (jail / "outside").mkdir()
    (jail / "outside" / "secret.bin").write_bytes(SECRET)  # reachable with one '..' from meshes/
    return folder


@pytest.mark.parametrize("uri", GLTF_ESCAPES)
def test_gltf_buffer_uris_outside_the_mesh_folder_are_mesh_errors(mesh_folder, uri, opened_files):
    secret = mesh_folder.parent / "outside" / "secret.bin"
    path = write_gltf(mesh_folder / "hostile.gltf", uri.format(abs=secret))
    with pytest.raises(MeshError, match=REFUSED):
        load_user_mesh(path)
    assert not opened_files & {os.path.realpath(secret), os.path.realpath(mesh_folder / "link" / "secret.bin")}


@pytest.mark.parametrize("uri", GLTF_ESCAPES)
def test_gltf_image_uris_outside_the_mesh_folder_are_mesh_errors(mesh_folder, uri, opened_files):
    secret = mesh_folder.parent / "outside" / "secret.bin"
    path = write_gltf(mesh_folder / "hostile.gltf", "triangle.bin", image_uri=uri.format(abs=secret))
    with pytest.raises(MeshError, match=REFUSED):
        load_user_mesh(path)
    assert not opened_files & {os.path.realpath(secret), os.path.realpath(mesh_folder / "link" / "secret.bin")}


def test_gltf_absolute_path_to_an_existing_file_is_refused(mesh_folder):
    secret = mesh_folder.parent / "outside" / "secret.bin"
    for uri in (str(secret), "file://" + str(secret)):
        with pytest.raises(MeshError, match="absolute|scheme"):
            load_user_mesh(write_gltf(mesh_folder / "hostile.gltf", uri))


def test_gltf_side_files_and_data_uris_inside_the_folder_still_load(mesh_folder):
    mesh = load_user_mesh(write_gltf(mesh_folder / "ok.gltf", "triangle.bin", image_uri="textures/grey.png"))
    np.testing.assert_array_equal(mesh.vertices, TRIANGLE)
    assert mesh.materials[0].base_color_texture.shape == (4, 4, 3)
    spaced = mesh_folder / "my textures"
    spaced.mkdir()
    (spaced / "grey.png").write_bytes(_png())
    mesh = load_user_mesh(write_gltf(mesh_folder / "ok.gltf", "./sub/../triangle.bin",
                                     image_uri="my%20textures/grey.png"))
    assert mesh.materials[0].base_color_texture.shape == (4, 4, 3)
    data = "data:application/octet-stream;base64," + base64.b64encode(TRIANGLE.tobytes()).decode()
    image = "data:image/png;base64," + base64.b64encode(_png()).decode()
    mesh = load_user_mesh(write_gltf(mesh_folder / "ok.gltf", data, image_uri=image))
    np.testing.assert_array_equal(mesh.vertices, TRIANGLE)


def test_a_broken_data_uri_is_a_mesh_error(mesh_folder):
    for uri in ("data:application/octet-stream;base64,@@@", "data:application/octet-stream;base64"):
        with pytest.raises(MeshError, match="data URI"):
            load_user_mesh(write_gltf(mesh_folder / "broken.gltf", uri))


OBJ = "mtllib {mtl}\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nusemtl m\nf 1/1 2/2 3/3\n"
MTL = "newmtl m\nKd 1 1 1\nmap_Kd {texture}\n"


@pytest.mark.parametrize(("mtl", "texture"), [
    ("../outside/secret.bin", "grey.png"),
    ("{secret}", "grey.png"),
    ("link/secret.bin", "grey.png"),
    ("..\\outside\\secret.bin", "grey.png"),
    ("material.mtl", "{secret}"),
    ("material.mtl", "../outside/secret.bin"),
    ("material.mtl", "link/secret.bin"),
    ("material.mtl", "secret_link.bin"),
    ("material.mtl", "C:\\outside\\secret.bin"),
], ids=["mtllib ..", "mtllib absolute", "mtllib through a link", "mtllib backslashes", "map_Kd absolute",
        "map_Kd ..", "map_Kd through a link", "map_Kd file link", "map_Kd drive letter"])
def test_obj_material_and_texture_files_outside_the_folder_are_never_read(mesh_folder, opened_files, mtl, texture):
    secrets = {os.path.realpath(mesh_folder.parent / "outside" / "secret.bin"),
               os.path.realpath(mesh_folder / "link" / "secret.bin")}
    secret = str(mesh_folder.parent / "outside" / "secret.bin")
    (mesh_folder / "grey.png").write_bytes(_png())
    (mesh_folder / "material.mtl").write_text(MTL.format(texture=texture.format(secret=secret)))
    (mesh_folder / "hostile.obj").write_text(OBJ.format(mtl=mtl.format(secret=secret)))
    with pytest.raises(MeshError, match=REFUSED):
        load_user_mesh(mesh_folder / "hostile.obj")
    assert not opened_files & secrets


def test_obj_with_material_and_texture_beside_it_keeps_them(mesh_folder):
    (mesh_folder / "grey.png").write_bytes(_png())
    (mesh_folder / "material.mtl").write_text(MTL.format(texture="textures/grey.png"))
    (mesh_folder / "ok.obj").write_text(OBJ.format(mtl="material.mtl"))
    mesh = load_user_mesh(mesh_folder / "ok.obj")
    assert mesh.materials[0].base_color_texture.shape[:2] == (4, 4)


def test_ply_texture_file_outside_the_folder_is_a_mesh_error(mesh_folder):
    header = ("ply\nformat ascii 1.0\ncomment TextureFile ../outside/secret.bin\nelement vertex 3\n"
              "property float x\nproperty float y\nproperty float z\nelement face 1\n"
              "property list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    (mesh_folder / "hostile.ply").write_text(header)
    with pytest.raises(MeshError, match="outside its folder"):
        load_user_mesh(mesh_folder / "hostile.ply")
