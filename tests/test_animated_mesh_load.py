"""`AnimatedMesh.load` validates what it reads: a damaged member, a field of the wrong shape or type, broken
materials JSON or Python objects are one MeshError naming the file and the field, never numpy's or json's raw
errors (and never numpy's "load it with allow_pickle" hint). Through the command line: one line, exit 2."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import trimesh

from actionmesh_core.animated_mesh import AnimatedMesh, Continuation, Material
from actionmesh_core.cli import main
from actionmesh_core.errors import MeshError


@pytest.fixture
def saved(tmp_path):
    """A complete result (every optional field, a textured material) saved as .npz; returns its path."""
    box = trimesh.creation.box()
    vertices = np.stack([box.vertices * s for s in (1.0, 1.1, 1.2)]).astype(np.float32)
    texture = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    anim = AnimatedMesh(
        vertices, box.faces, fps=12.0, uvs=np.zeros((8, 2)), vertex_colors=np.full((8, 4), 200, np.uint8),
        model_transform=np.eye(4), merge_map=np.arange(8),
        materials=[Material(name="paint", base_color_texture=texture)], face_materials=np.zeros(12), name="box",
        continuation=Continuation(last_frame=np.zeros((6, 5, 4), np.uint8), latents=np.zeros((3, 16, 4)),
                                  crop_box=[1, 2, 5, 6]))
    return anim.save(tmp_path / "result.npz")


def rewrite(path, **changes):
    """The .npz at `path` with some members replaced (None: removed); object arrays are written pickled."""
    with np.load(path) as data:
        members = {key: data[key] for key in data.files}
    members.update(changes)
    np.savez(path, **{key: value for key, value in members.items() if value is not None})
    return path


def test_a_complete_result_round_trips(saved):
    anim = AnimatedMesh.load(saved)
    assert anim.num_frames == 3 and anim.fps == 12.0 and anim.name == "box"
    assert anim.continuation.crop_box.tolist() == [1, 2, 5, 6]
    assert anim.materials[0].base_color_texture.shape == (4, 4, 3)


BAD_FIELDS = {
    "fps of two values": (dict(fps=np.array([8.0, 9.0])), "'fps' must be one real number"),
    "fps as text": (dict(fps=np.array("fast")), "'fps' must be one real number"),
    "negative fps": (dict(fps=np.float64(-8)), "fps must be a positive number"),
    "fps NaN": (dict(fps=np.float64("nan")), "fps must be a positive number"),
    "name as an array": (dict(name=np.array(["a", "b"])), "'name' must be one string"),
    "crop_box of 5": (dict(crop_box=np.arange(5)), r"crop_box must have shape \(4\)"),
    "crop_box inverted": (dict(crop_box=np.array([5, 2, 1, 6])), "crop_box must be"),
    "crop_box as text": (dict(crop_box=np.array(["a", "b", "c", "d"])), "crop_box must hold real numbers"),
    "model_transform 3x3": (dict(model_transform=np.eye(3)), r"model_transform must have shape \(4, 4\)"),
    "model_transform singular": (dict(model_transform=np.zeros((4, 4))), "finite, invertible"),
    "frame_times too short": (dict(frame_times=np.zeros(2)), r"frame_times must have shape \(3\)"),
    "frame_times NaN": (dict(frame_times=np.array([0.0, np.nan, 1.0])), "frame_times contain NaN"),
    "faces out of range": (dict(faces=np.array([[0, 1, 99]])), r"face indices must lie in \[0, 8\)"),
    "faces fractional": (dict(faces=np.array([[0.5, 1, 2]])), "faces must hold whole numbers"),
    "complex vertices": (dict(vertices=np.zeros((3, 8, 3), np.complex64)), "vertices must hold real numbers"),
    "vertices 2-D": (dict(vertices=np.zeros((8, 3))), r"vertices must have shape \(frames, vertices, 3\)"),
    "latents for other frames": (dict(latents=np.zeros((2, 16, 4))), "the continuation holds 2 latents for 3"),
    "latents 2-D": (dict(latents=np.zeros((3, 16))), r"latents must have shape \(T, N, C\)"),
    "last_frame RGB": (dict(last_frame=np.zeros((6, 5, 3), np.uint8)), r"last_frame must have shape \(H, W, 4\)"),
    "colours past 255": (dict(vertex_colors=np.full((8, 4), 300)), r"vertex_colors holds values outside \[0, 255\]"),
    "merge_map out of range": (dict(merge_map=np.arange(8) + 5), "merge_map must hold vertex indices"),
    "materials not JSON": (dict(materials=np.array("{not json")), "'materials' must be a JSON list"),
    "materials a JSON object": (dict(materials=np.array('{"name": "x"}')), "'materials' must be a JSON list"),
    "materials as numbers": (dict(materials=np.arange(3)), "'materials' must be a JSON list"),
    "material with unknown keys": (dict(materials=np.array('[{"shininess": 3}]')), "unknown settings"),
    "material with a bad value": (dict(materials=np.array('[{"base_color": [1, 2]}]')), "material 0 has an invalid"),
    "material alpha mode": (dict(materials=np.array('[{"alpha_mode": "GLOW"}]')), "alpha mode must be one of"),
    "texture of the wrong shape": (dict(material0_base_color_texture=np.zeros((4, 4), np.uint8)),
                                   r"base_color_texture must have shape"),
    "no faces": (dict(faces=None), "lacks 'vertices' or 'faces'"),
}


@pytest.mark.parametrize("case", list(BAD_FIELDS))
def test_mis_shaped_or_mistyped_fields_are_mesh_errors_naming_the_file(saved, case):
    changes, message = BAD_FIELDS[case]
    rewrite(saved, **changes)
    with pytest.raises(MeshError, match=message) as raised:
        AnimatedMesh.load(saved)
    assert str(raised.value).startswith(str(saved))


def test_python_objects_are_refused_without_numpys_allow_pickle_hint(saved):
    rewrite(saved, materials=np.array([{"name": "x"}], dtype=object))
    with pytest.raises(MeshError, match="member 'materials' holds Python objects, which are never loaded") as raised:
        AnimatedMesh.load(saved)
    assert "allow_pickle" not in str(raised.value)


def damage_member(path, member: str) -> None:
    """Flip bytes inside one member's data (its CRC no longer matches)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{member}.npy")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 128  # past the .npy header
    for k in range(start, min(start + 16, start + info.file_size - 128)):
        data[k] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("member", ["faces", "vertices", "materials"])
def test_a_damaged_member_is_a_mesh_error(saved, member):
    damage_member(saved, member)
    with pytest.raises(MeshError, match=f"member '{member}' is damaged.*export the result again"):
        AnimatedMesh.load(saved)


def test_a_truncated_or_foreign_file_is_a_mesh_error(saved, tmp_path):
    saved.write_bytes(saved.read_bytes()[:300])
    with pytest.raises(MeshError, match="not an animated-mesh .npz file"):
        AnimatedMesh.load(saved)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(MeshError, match="one array, not the named arrays"):
        AnimatedMesh.load(single)


@pytest.mark.parametrize("case", ["object", "damaged", "crop_box of 5", "materials not JSON", "complex vertices"])
def test_the_command_line_shows_one_line_and_exit_2(saved, tmp_path, capsys, case):
    if case == "object":
        rewrite(saved, crop_box=np.array([{"x0": 1}], dtype=object))
    elif case == "damaged":
        damage_member(saved, "faces")
    else:
        rewrite(saved, **BAD_FIELDS[case][0])
    code = main(["export", str(saved), "--format", "glb", "--out", str(tmp_path / "out.glb")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("actionmesh export: error:")
    assert "Traceback" not in err and "allow_pickle" not in err
    assert not (tmp_path / "out.glb").exists()
