"""A user mesh's full glTF materials survive {video + mesh} -> 4D: GLB (animated and per frame), USD, .npz."""

from __future__ import annotations

import io

import numpy as np
import pygltflib
import pytest
import trimesh
from PIL import Image
from pipeline_fixtures import fast_settings, moving_disc, tiny_models
from pxr import Usd, UsdGeom, UsdShade
from export_checks import Glb, mesh_of, validate, validation_errors

from actionmesh_core.animated_mesh import TEXTURE_SLOTS, AnimatedMesh
from actionmesh_core.geometry import prepare_user_mesh
from actionmesh_core.io.mesh_file import load_user_mesh
from actionmesh_core.export.frame_meshes import write_frame_meshes
from actionmesh_core.export.gltf import write_animated_glb
from actionmesh_core.export.usd import write_usd
from actionmesh_core.pipeline import animate
from actionmesh_core.render import render_views

PBR = trimesh.visual.material.PBRMaterial


def image(seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8))


def uv_box(offset, seed: int, material) -> trimesh.Trimesh:
    """A box whose 12 faces own their 3 vertices (seams everywhere), random UVs and `material`."""
    box = trimesh.creation.box((1.0, 0.6, 0.4)).apply_translation(offset)
    soup = trimesh.Trimesh(box.triangles.reshape(-1, 3), np.arange(36).reshape(-1, 3), process=False)
    soup.visual = trimesh.visual.TextureVisuals(uv=np.random.default_rng(seed).random((36, 2)), material=material)
    return soup


def two_material_glb(path):
    """Two boxes: a textured one (base colour, metallic-roughness and normal maps) and a plain red one."""
    painted = PBR(name="painted", baseColorTexture=image(2), metallicRoughnessTexture=image(3), normalTexture=image(4),
                  baseColorFactor=[230, 200, 180, 255], metallicFactor=0.25, roughnessFactor=0.6)
    red = PBR(name="red", baseColorFactor=[200, 30, 30, 255], metallicFactor=0.0, roughnessFactor=0.4, doubleSided=True)
    trimesh.Scene([uv_box((0, 0, 0), 0, painted), uv_box((1.5, 0, 0), 1, red)]).export(path)
    return path


def texture_pixels(glb: Glb, info) -> np.ndarray | None:
    if info is None:
        return None
    image = glb.gltf.images[glb.gltf.textures[info.index].source]
    view = glb.gltf.bufferViews[image.bufferView]
    return np.asarray(Image.open(io.BytesIO(glb.blob[view.byteOffset : view.byteOffset + view.byteLength])))


def material_summary(glb: Glb, material: pygltflib.Material) -> dict:
    """Every factor and setting of a glTF material, and its decoded texture images."""
    pbr = material.pbrMetallicRoughness
    textures = {"base": pbr.baseColorTexture, "metallic_roughness": pbr.metallicRoughnessTexture,
                "normal": material.normalTexture, "occlusion": material.occlusionTexture,
                "emissive": material.emissiveTexture}
    return {
        "factors": (pbr.baseColorFactor, pbr.metallicFactor, pbr.roughnessFactor, material.emissiveFactor),
        "alpha": (material.alphaMode or "OPAQUE", material.alphaCutoff if material.alphaMode == "MASK" else None),
        "double_sided": bool(material.doubleSided),
        "images": {name: texture_pixels(glb, info) for name, info in textures.items()},
    }


def assert_same_materials(source: Glb, written: Glb) -> None:
    assert [m.name for m in written.gltf.materials] == [m.name for m in source.gltf.materials]
    for ours, theirs in zip(written.gltf.materials, source.gltf.materials):
        mine, expected = material_summary(written, ours), material_summary(source, theirs)
        assert {k: v for k, v in mine.items() if k != "images"} == {k: v for k, v in expected.items() if k != "images"}
        for name, pixels in expected["images"].items():
            assert (mine["images"][name] is None) == (pixels is None), name
            if pixels is not None:
                assert mine["images"][name].dtype == np.uint8 and np.array_equal(mine["images"][name], pixels), name


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The two-material mesh animated through the pipeline, written as animated and per-frame GLBs."""
    folder = tmp_path_factory.mktemp("pair")
    source = two_material_glb(folder / "pair.glb")
    anim = animate(moving_disc(3), tiny_models(), fast_settings(), mesh=source)
    return source, anim, write_animated_glb(anim, folder / "anim.glb", normals=True), write_frame_meshes(anim, folder / "frames")


def test_two_materials_keep_their_factors_and_images(pair):
    source, anim, animated, frames = pair
    assert anim.face_materials.tolist() == [0] * 12 + [1] * 12
    for path in (animated, frames[-1]):
        assert_same_materials(Glb(source), Glb(path))


def test_each_primitive_keeps_the_users_uvs_and_faces(pair):
    source, _, animated, frames = pair
    source_glb = Glb(source)
    inputs = [mesh.primitives[0] for mesh in source_glb.gltf.meshes]
    for path in (animated, frames[0]):
        glb = Glb(path)
        (mesh,) = glb.gltf.meshes
        assert [p.material for p in mesh.primitives] == [0, 1]
        for ours, theirs in zip(mesh.primitives, inputs):
            np.testing.assert_array_equal(glb.accessor(ours.attributes.TEXCOORD_0),
                                          source_glb.accessor(theirs.attributes.TEXCOORD_0))
            np.testing.assert_array_equal(glb.accessor(ours.indices), source_glb.accessor(theirs.indices))


def test_every_primitive_has_one_target_per_frame_and_frame_k_reads_back(pair):
    _, anim, animated, frames = pair
    glb = Glb(animated)
    primitives = glb.gltf.meshes[0].primitives
    assert {len(p.targets) for p in primitives} == {anim.num_frames}
    _, weights, _ = glb.keys()
    for k in range(anim.num_frames):
        posed = [glb.accessor(p.attributes.POSITION) + np.tensordot(weights[k], np.stack(
            [glb.accessor(t["POSITION"]) for t in p.targets]), axes=1) for p in primitives]
        np.testing.assert_allclose(np.concatenate(posed), anim.vertices[k], atol=1e-5)
        frame = Glb(frames[k])
        positions = [frame.accessor(p.attributes.POSITION) for p in frame.gltf.meshes[0].primitives]
        np.testing.assert_array_equal(np.concatenate(positions), anim.vertices[k])


def test_khronos_validator_reports_no_errors(pair):
    _, _, animated, frames = pair
    for report in validate(animated, frames[0]):
        assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
        assert report["info"]["materialCount"] == 2


def test_usd_binds_each_material_to_its_faces(pair, tmp_path):
    _, anim, _, _ = pair
    stage = Usd.Stage.Open(str(write_usd(anim, tmp_path / "pair.usdz")))
    assert validation_errors(stage) == []
    mesh = mesh_of(stage)
    subsets = UsdShade.MaterialBindingAPI(mesh.GetPrim()).GetMaterialBindSubsets()
    assert [sorted(s.GetIndicesAttr().Get()) for s in subsets] == [list(range(12)), list(range(12, 24))]
    shaders = [UsdShade.MaterialBindingAPI(s.GetPrim()).ComputeBoundMaterial()[0].GetSurfaceOutput()
               .GetConnectedSources()[0][0].source for s in subsets]
    painted, red = (UsdShade.Shader(shader.GetPrim()) for shader in shaders)
    assert painted.GetInput("normal").HasConnectedSource() and painted.GetInput("roughness").HasConnectedSource()
    assert tuple(red.GetInput("diffuseColor").Get()) == pytest.approx((200 / 255, 30 / 255, 30 / 255))
    assert red.GetInput("roughness").Get() == pytest.approx(0.4)
    np.testing.assert_allclose(np.asarray(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").Get()),
                               np.stack([anim.uvs[:, 0], 1 - anim.uvs[:, 1]], axis=1), atol=1e-7)


@pytest.fixture
def full_pbr(tmp_path):
    """A one-material GLB using all five maps, an emissive factor and alpha masking."""
    material = PBR(name="full", baseColorTexture=image(5), metallicRoughnessTexture=image(6), normalTexture=image(7),
                   occlusionTexture=image(8), emissiveTexture=image(9), emissiveFactor=[0.5, 0.25, 0.125],
                   baseColorFactor=[255, 255, 255, 255], metallicFactor=0.75, roughnessFactor=0.3,
                   alphaMode="MASK", alphaCutoff=0.4)
    path = tmp_path / "full.glb"
    uv_box((0, 0, 0), 3, material).export(path)
    prepared = prepare_user_mesh(load_user_mesh(path))
    anim = prepared.to_animated_mesh(np.stack([prepared.vertices, prepared.vertices * 1.1]), fps=8.0)
    return path, anim


def test_a_single_pbr_material_keeps_all_its_maps(full_pbr, tmp_path):
    path, anim = full_pbr
    (material,) = anim.materials
    assert set(material.textures()) == set(TEXTURE_SLOTS)
    written = write_animated_glb(anim, tmp_path / "anim.glb")
    assert_same_materials(Glb(path), Glb(written))
    (report,) = validate(written)
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]


def test_usd_keeps_the_pbr_textures(full_pbr, tmp_path):
    _, anim = full_pbr
    write_usd(anim, tmp_path / "full.usda")
    names = {"basecolor", "metallicroughness", "normal", "occlusion", "emissive"}
    assert {p.name for p in tmp_path.glob("full_*.png")} == {f"full_{name}.png" for name in names}
    stage = Usd.Stage.Open(str(tmp_path / "full.usda"))
    assert validation_errors(stage) == []
    surface = UsdShade.Shader(stage.GetPrimAtPath("/full/Looks/Material/PreviewSurface"))
    for name in ("diffuseColor", "opacity", "metallic", "roughness", "normal", "occlusion", "emissiveColor"):
        assert surface.GetInput(name).HasConnectedSource(), name
    assert surface.GetInput("opacityThreshold").Get() == pytest.approx(0.4)


def test_npz_round_trip_keeps_the_materials(pair, tmp_path):
    _, anim, _, _ = pair
    loaded = AnimatedMesh.load(anim.save(tmp_path / "pair.npz"))
    np.testing.assert_array_equal(loaded.face_materials, anim.face_materials)
    for ours, theirs in zip(loaded.materials, anim.materials, strict=True):
        assert ours.scalars() == theirs.scalars()
        assert ours.textures().keys() == theirs.textures().keys()
        assert all(np.array_equal(ours.textures()[slot], image) for slot, image in theirs.textures().items())


def test_an_old_npz_without_materials_still_loads(tmp_path):
    texture = np.asarray(image(10))
    vertices = np.random.default_rng(0).random((2, 3, 3)).astype(np.float32)
    np.savez(tmp_path / "old.npz", vertices=vertices, faces=np.array([[0, 1, 2]]), fps=np.float64(8.0),
             frame_times=np.array([0.0, 0.125]), name=np.array("old"), uvs=np.zeros((3, 2), np.float32),
             texture=texture, base_color=np.float32([1.0, 0.5, 0.0, 1.0]))
    anim = AnimatedMesh.load(tmp_path / "old.npz")
    assert anim.face_materials is None
    (material,) = anim.materials
    np.testing.assert_array_equal(material.base_color_texture, texture)
    np.testing.assert_allclose(material.base_color, [1.0, 0.5, 0.0, 1.0])


def test_per_frame_obj_files_keep_one_object_per_material(pair, tmp_path):
    _, anim, _, _ = pair
    paths = write_frame_meshes(anim, tmp_path, fmt="obj")
    library = (tmp_path / "material.mtl").read_text()
    colours = [line.split()[1:] for line in library.splitlines() if line.startswith("Kd")]
    np.testing.assert_allclose(np.float64(colours), [[230 / 255, 200 / 255, 180 / 255], [200 / 255, 30 / 255, 30 / 255]])
    assert library.count("map_Kd") == 1 and (tmp_path / "material_0.png").is_file()  # the painted box's image
    for k, path in enumerate(paths):
        lines = path.read_text().splitlines()
        assert [line for line in lines if line.startswith("usemtl")] == ["usemtl material_0", "usemtl material_1"]
        positions = np.float64([line.split()[1:] for line in lines if line.startswith("v ")])
        np.testing.assert_allclose(positions, anim.vertices[k], atol=1e-6)  # both boxes, in the mesh's order
        faces = np.int64([[corner.split("/")[0] for corner in line.split()[1:]] for line in lines if line.startswith("f ")])
        np.testing.assert_array_equal(faces - 1, anim.faces)


def test_the_preview_paints_each_material(pair):
    _, anim, _, _ = pair
    image = render_views(anim, size=96, elevation_deg=0.0)[0][0]
    covered = image[..., 3] > 200
    left, right = (image[:, half][covered[:, half]].astype(int) for half in (np.s_[:48], np.s_[48:]))
    assert len(left) > 100 and len(right) > 100
    assert (right[:, 0] > 3 * right[:, 1]).mean() > 0.9  # the plain red box (+x, seen on the right)
    assert (left[:, 0] > 3 * left[:, 1]).mean() < 0.5  # the painted box: its random texture
