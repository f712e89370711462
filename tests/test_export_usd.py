"""USD export read back with usd-core, and checked with USD's own validators."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from pxr import Sdf, Usd, UsdGeom, UsdShade

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.errors import InputError
from actionmesh_core.export import usd
from actionmesh_core.export.usd import write_usd
from export_checks import mesh_of, textured, validation_errors, wobbling_sphere



@pytest.mark.parametrize("suffix", [".usd", ".usda", ".usdz"])
def test_points_at_each_time_code_equal_the_frames(tmp_path, suffix):
    anim = wobbling_sphere()
    stage = Usd.Stage.Open(str(write_usd(anim, tmp_path / f"anim{suffix}")))
    mesh = mesh_of(stage)
    assert stage.GetTimeCodesPerSecond() == anim.fps == stage.GetFramesPerSecond()
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (0, anim.num_frames - 1)
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.y
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert stage.GetDefaultPrim().GetName() == anim.name
    assert mesh.GetPointsAttr().GetTimeSamples() == list(range(anim.num_frames))
    for k in range(anim.num_frames):
        np.testing.assert_array_equal(np.asarray(mesh.GetPointsAttr().Get(k)), anim.vertices[k])
    np.testing.assert_array_equal(np.asarray(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3), anim.faces)
    assert set(np.asarray(mesh.GetFaceVertexCountsAttr().Get())) == {3}
    assert mesh.GetSubdivisionSchemeAttr().Get() == UsdGeom.Tokens.none
    assert mesh.GetNormalsInterpolation() == UsdGeom.Tokens.vertex
    assert mesh.GetNormalsAttr().GetTimeSamples() == list(range(anim.num_frames))
    for k in range(anim.num_frames):
        normals = np.asarray(mesh.GetNormalsAttr().Get(k))
        np.testing.assert_allclose(normals, area_weighted_normals(anim.vertices[k], anim.faces), atol=1e-5)
    assert validation_errors(stage) == []


def area_weighted_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit vertex normals: the sum of the (area-sized) normals of the faces around each vertex."""
    corners = vertices[faces].astype(np.float64)  # (F, 3, 3)
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    sums = np.zeros((len(vertices), 3))
    for corner in range(3):
        np.add.at(sums, faces[:, corner], face_normals)
    return sums / np.linalg.norm(sums, axis=1, keepdims=True)


def test_uneven_frame_times_map_to_time_codes(tmp_path):
    base = wobbling_sphere(num_frames=3)
    anim = AnimatedMesh(base.vertices, base.faces, fps=10.0, frame_times=np.array([0.0, 0.1, 0.35]))
    stage = Usd.Stage.Open(str(write_usd(anim, tmp_path / "a.usdc", normals=False)))
    mesh = mesh_of(stage)
    assert mesh.GetPointsAttr().GetTimeSamples() == pytest.approx([0.0, 1.0, 3.5])
    assert not mesh.GetNormalsAttr().HasAuthoredValue()
    np.testing.assert_array_equal(np.asarray(mesh.GetPointsAttr().Get(3.5)), anim.vertices[2])


def test_usdz_packs_the_texture_and_flips_v_to_usd_convention(tmp_path):
    anim = textured(wobbling_sphere(num_frames=2))
    path = write_usd(anim, tmp_path / "anim.usdz")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert names[0].endswith(".usdc") and any(name.endswith(".png") for name in names)
    stage = Usd.Stage.Open(str(path))
    assert validation_errors(stage) == []
    mesh = mesh_of(stage)
    st = np.asarray(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").Get())
    np.testing.assert_allclose(st, np.stack([anim.uvs[:, 0], 1 - anim.uvs[:, 1]], axis=1), atol=1e-6)
    material, _ = UsdShade.MaterialBindingAPI(mesh.GetPrim()).ComputeBoundMaterial()
    source = material.GetSurfaceOutput().GetConnectedSources()[0][0].source
    diffuse = UsdShade.Shader(source.GetPrim()).GetInput("diffuseColor")
    texture = UsdShade.Shader(diffuse.GetConnectedSources()[0][0].source.GetPrim())
    assert texture.GetIdAttr().Get() == "UsdUVTexture"
    asset = texture.GetInput("file").Get()
    assert asset.resolvedPath and "anim.usdz[" in asset.resolvedPath


def test_plain_usd_writes_its_texture_beside_it(tmp_path):
    anim = textured(wobbling_sphere(num_frames=2))
    path = write_usd(anim, tmp_path / "anim.usd")
    assert (tmp_path / "anim_basecolor.png").is_file()
    assert validation_errors(Usd.Stage.Open(str(path))) == []


def test_vertex_colours_become_display_colours(tmp_path):
    base = wobbling_sphere(num_frames=2)
    colors = np.random.default_rng(0).integers(0, 256, (base.num_vertices, 4), dtype=np.uint8)
    anim = AnimatedMesh(base.vertices, base.faces, vertex_colors=colors)
    stage = Usd.Stage.Open(str(write_usd(anim, tmp_path / "a.usda")))
    mesh = mesh_of(stage)
    linear = np.asarray(mesh.GetDisplayColorAttr().Get())  # linear light: the sRGB bytes decoded
    np.testing.assert_allclose(linear, ((colors[:, :3] / 255.0 + 0.055) / 1.055) ** 2.4, atol=0.003)


def test_rejects_a_non_usd_suffix(tmp_path):
    with pytest.raises(InputError, match="must end in"):
        write_usd(wobbling_sphere(2), tmp_path / "anim.glb")


@pytest.mark.parametrize("painted", [False, True], ids=["plain", "textured"])
def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch, painted):
    old, new = wobbling_sphere(2), wobbling_sphere(3)
    if painted:  # the new texture differs from the old one, so replacing it early would show
        old, new = textured(old), textured(new)
        (material,) = new.materials
        material.base_color_texture = 255 - material.base_color_texture
    path = write_usd(old, tmp_path / "anim.usdc")
    previous = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(previous) == ({"anim.usdc", "anim_basecolor.png"} if painted else {"anim.usdc"})

    def fail(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(usd, "_bind_material", fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        write_usd(new, path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == previous
    assert Sdf.Layer.FindOrOpen(str(path)) is not None


def test_the_video_camera_is_a_time_sampled_usd_camera(tmp_path):
    from actionmesh_core.data.clips import HELD_OUT_SEED, make_clip

    anim = make_clip(HELD_OUT_SEED + 4, frames=3).animated_mesh(max_edge=0.5)
    stage = Usd.Stage.Open(str(write_usd(anim, tmp_path / "anim.usda")))
    camera = UsdGeom.Camera(stage.GetPrimAtPath(f"/{anim.name}/video_camera"))
    assert camera and validation_errors(stage) == []
    for k in range(anim.num_frames):
        lens = camera.GetCamera(float(k))
        assert lens.GetFieldOfView(lens.FOVVertical) == pytest.approx(np.degrees(anim.cameras.yfov), rel=1e-5)
        assert lens.aspectRatio == pytest.approx(anim.cameras.aspect)
        pose = np.asarray(camera.ComputeLocalToWorldTransform(float(k))).T  # USD matrices act on row vectors
        np.testing.assert_allclose(pose, anim.cameras.camera_to_world()[k], atol=1e-9)
