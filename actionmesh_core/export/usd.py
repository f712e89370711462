"""USD export through usd-core (read by Houdini, Maya, Omniverse and Blender's USD importer).

Stage: upAxis Y, metersPerUnit 1, timeCodesPerSecond = framesPerSecond = fps, and frame k at time
code `frame_times[k] * fps` (= k for evenly spaced frames). Prims: `/<name>` (Xform, default prim),
`/<name>/Mesh` (UsdGeom.Mesh with time-sampled points, extent and optionally normals; plain
polygons, no subdivision), `/<name>/Looks/Material` (UsdPreviewSurface), and for an animation registered
to its video `/<name>/video_camera` (UsdGeom.Camera: the video's field of view and aspect, a time-sampled
transform). Texture coordinates are `primvars:st` in USD's convention (t up), i.e. (u, 1 - v) of the
glTF-style uvs.

Materials: each glTF material becomes a UsdPreviewSurface under `/<name>/Looks` (with several, each
is bound to a `materialBind` GeomSubset of its faces, the UVs unchanged). Kept: base colour factor x
texture (sRGB), opacity (texture alpha x factor, for BLEND and MASK) and opacityThreshold (MASK),
metallic and roughness factors x the metallic-roughness texture (B and G channels), the normal map
(with its scale), occlusion (with its strength) and emissive factor x texture. Double-sidedness is
the mesh's `doubleSided` (set when any material is double-sided; USD has it per mesh, not per
material). Not kept: texture samplers and texture transforms.
A `.usdz` file packs the layer and its textures into one archive; `.usd`/`.usdc`/`.usda` files put
the textures beside them as `<stem>_basecolor.png`, `<stem>_normal.png`, ... (material i > 0:
`<stem>_material<i>_basecolor.png`, ...).

With a `SkinRig` (`rig=`), the root is a UsdSkel SkelRoot, the mesh holds the rest pose, and a Skeleton
with a SkelAnimation moves it (`usdskel.py`); materials, UVs and colours are the same.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..animated_mesh import GLTF_KEYS, AnimatedMesh, Material
from ..errors import ActionMeshError, InputError
from ..base.atomic import atomic_path
from ..base.colour_space import srgb_to_linear
from ..base.normals import vertex_normals
from ..skinning import SkinRig
from .usdskel import author_skeleton

USD_SUFFIXES = (".usd", ".usda", ".usdc", ".usdz")
TEXTURE_FILE_NAMES = {slot: key.removesuffix("Texture").lower() for slot, key in GLTF_KEYS.items()}
"""basecolor, metallicroughness, normal, occlusion, emissive: the PNG file name of each texture slot."""
TEXTURE_NODE_NAMES = {slot: key[0].upper() + key[1:] for slot, key in GLTF_KEYS.items()}
"""BaseColorTexture, ...: the shader prim name of each texture slot."""


def write_usd(anim: AnimatedMesh, path: str | os.PathLike, *, normals: bool = True, rig: SkinRig | None = None) -> Path:
    """Write `anim` to a USD file whose suffix picks the flavour (see USD_SUFFIXES). Returns the path.

    The layer and its textures are written to temporary names and renamed into place only once all
    are complete, so a failed write keeps the previous files. normals: write time-sampled vertex normals
    (rest-pose normals with a rig). rig: write a UsdSkel skeleton animation instead of time-sampled points.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in USD_SUFFIXES:
        raise InputError(f"a USD file name must end in one of {USD_SUFFIXES}, got {path.name!r}")
    if suffix == ".usdz":
        return _write_usdz(anim, path, normals=normals, rig=rig)
    files = _texture_files(anim, f"{path.stem}_")
    with contextlib.ExitStack() as renames:  # every file is renamed into place only at the end
        layer = renames.enter_context(atomic_path(path))
        for key, name in files.items():
            _save_texture(anim, key, renames.enter_context(atomic_path(path.with_name(name))))
        _write_stage(anim, layer, files, normals=normals, rig=rig)
    return path


def write_usdskel(anim: AnimatedMesh, rig: SkinRig, path: str | os.PathLike, *, normals: bool = True) -> Path:
    """`write_usd` with the skeleton of `rig` (the skinned writers' signature, as `write_skinned_glb`)."""
    return write_usd(anim, path, normals=normals, rig=rig)


def _write_usdz(anim: AnimatedMesh, path: Path, *, normals: bool, rig: SkinRig | None) -> Path:
    from pxr import Sdf, UsdUtils

    with tempfile.TemporaryDirectory(prefix="actionmesh_usdz_") as folder:
        layer = Path(folder) / "scene.usdc"
        files = _texture_files(anim, "")
        for key, name in files.items():
            _save_texture(anim, key, Path(folder) / name)
        _write_stage(anim, layer, files, normals=normals, rig=rig)
        with atomic_path(path) as tmp:
            if not UsdUtils.CreateNewUsdzPackage(Sdf.AssetPath(str(layer)), str(tmp)):
                raise ActionMeshError(f"usd-core could not package {path.name} (see its messages above)")
    return path


def _texture_files(anim: AnimatedMesh, prefix: str) -> dict[tuple[int, str], str]:
    """{(material index, texture slot): PNG file name} of every texture: material 0's are
    `<prefix>basecolor.png`, ..., material i's `<prefix>material<i>_basecolor.png`, ..."""
    return {
        (i, slot): f"{prefix}{'' if i == 0 else f'material{i}_'}{TEXTURE_FILE_NAMES[slot]}.png"
        for i, material in enumerate(anim.resolved_materials())
        for slot in material.textures()
    }


def _save_texture(anim: AnimatedMesh, key: tuple[int, str], path: Path) -> None:
    material, slot = key
    Image.fromarray(anim.resolved_materials()[material].textures()[slot]).save(path, format="PNG")


def _write_stage(anim: AnimatedMesh, layer_path: Path, files: dict, *, normals: bool, rig: SkinRig | None) -> None:
    """Author the whole stage into `layer_path` (the textures `files`, see `_texture_files`, beside it)."""
    from pxr import Sdf, Tf, Usd, UsdGeom, UsdSkel, Vt

    stage = Usd.Stage.CreateNew(str(layer_path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, UsdGeom.LinearUnits.meters)
    time_codes = anim.frame_times * anim.fps
    stage.SetTimeCodesPerSecond(anim.fps)
    stage.SetFramesPerSecond(anim.fps)
    stage.SetStartTimeCode(float(time_codes[0]))
    stage.SetEndTimeCode(float(time_codes[-1]))

    root = (UsdGeom.Xform if rig is None else UsdSkel.Root).Define(stage, "/" + Tf.MakeValidIdentifier(anim.name))
    stage.SetDefaultPrim(root.GetPrim())
    mesh = UsdGeom.Mesh.Define(stage, root.GetPath().AppendChild("Mesh"))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(anim.num_faces, 3, np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(anim.faces.astype(np.int32).reshape(-1)))
    frames = anim.vertices if rig is None else rig.rest[None].astype(np.float32)  # a rig moves the rest pose
    sample_times = [Usd.TimeCode(float(t)) for t in time_codes] if rig is None else [Usd.TimeCode.Default()]
    points, extent = mesh.CreatePointsAttr(), mesh.CreateExtentAttr()
    for time, frame in zip(sample_times, frames):
        points.Set(Vt.Vec3fArray.FromNumpy(frame), time)
        extent.Set(Vt.Vec3fArray.FromNumpy(np.stack([frame.min(0), frame.max(0)])), time)
    if normals:
        normal_attr = mesh.CreateNormalsAttr()
        mesh.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
        for time, frame_normals in zip(sample_times, vertex_normals(frames, anim.faces)):
            normal_attr.Set(Vt.Vec3fArray.FromNumpy(frame_normals), time)
    if rig is not None:
        author_skeleton(stage, root, mesh, rig, time_codes)
    primvars = UsdGeom.PrimvarsAPI(mesh)
    if anim.uvs is not None:
        st = np.stack([anim.uvs[:, 0], 1.0 - anim.uvs[:, 1]], axis=1).astype(np.float32)
        primvars.CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex).Set(
            Vt.Vec2fArray.FromNumpy(st)
        )
    if anim.vertex_colors is not None:
        colors = srgb_to_linear(anim.vertex_colors[:, :3])  # a colour role: linear light, like diffuseColor
        mesh.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex).Set(Vt.Vec3fArray.FromNumpy(colors))
    _bind_material(stage, mesh, root.GetPath(), anim, files)
    if anim.cameras is not None:
        _video_camera(stage, root.GetPath(), anim, time_codes)
    stage.GetRootLayer().Save()


FOCAL_LENGTH = 50.0
"""Focal length given to the video camera (USD's lens units: with the apertures it fixes the field of view)."""


def _video_camera(stage, root_path, anim: AnimatedMesh, time_codes: np.ndarray) -> None:
    """`/<name>/video_camera`: a perspective UsdGeom.Camera with the video's field of view and aspect ratio and a
    time-sampled transform per frame (`anim.cameras`), so looking through it shows the mesh on the video."""
    from pxr import Gf, UsdGeom

    cameras = anim.cameras
    camera = UsdGeom.Camera.Define(stage, root_path.AppendChild("video_camera"))
    camera.CreateProjectionAttr(UsdGeom.Tokens.perspective)
    camera.CreateFocalLengthAttr(FOCAL_LENGTH)
    vertical = 2.0 * FOCAL_LENGTH * np.tan(0.5 * cameras.yfov)
    camera.CreateVerticalApertureAttr(float(vertical))
    camera.CreateHorizontalApertureAttr(float(vertical * cameras.aspect))
    camera.CreateClippingRangeAttr(Gf.Vec2f(*cameras.clip_planes(anim.vertices)))
    transform = camera.AddTransformOp()
    for time, pose in zip(time_codes, cameras.camera_to_world()):
        transform.Set(Gf.Matrix4d(pose.T.tolist()), float(time))  # USD matrices act on row vectors


def _bind_material(stage, mesh, root_path, anim: AnimatedMesh, files: dict) -> None:
    """One UsdPreviewSurface material per material: bound to the mesh, or with several materials to one
    `materialBind` GeomSubset of faces each (a partition of the faces)."""
    from pxr import UsdGeom, UsdShade, Vt

    looks = UsdGeom.Scope.Define(stage, root_path.AppendChild("Looks"))
    binding = UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim())
    materials = anim.resolved_materials()
    mesh.CreateDoubleSidedAttr(any(material.double_sided for material in materials))
    for i, (material, faces) in enumerate(zip(materials, anim.material_faces())):
        textures = {slot: name for (index, slot), name in files.items() if index == i}
        usd_material = _preview_material(stage, looks.GetPath().AppendChild("Material" if i == 0 else f"Material_{i}"),
                                         material, textures, anim.vertex_colors is not None)
        if len(materials) == 1:
            binding.Bind(usd_material)
        elif len(faces):
            subset = binding.CreateMaterialBindSubset(f"material_{i}", Vt.IntArray.FromNumpy(faces.astype(np.int32)))
            UsdShade.MaterialBindingAPI.Apply(subset.GetPrim()).Bind(usd_material)
    if len(materials) > 1:
        binding.SetMaterialBindSubsetsFamilyType(UsdGeom.Tokens.partition)


def _preview_material(stage, path, material: Material, textures: dict[str, str], vertex_colors: bool):
    """A UsdShade.Material at `path` whose UsdPreviewSurface follows the glTF `material`: each factor,
    times its texture (`textures`: {slot: file name beside the layer}) when it has one. Without a
    base-colour texture, vertex colours (displayColor) replace the base colour."""
    from pxr import Gf, Sdf, UsdShade

    usd_material = UsdShade.Material.Define(stage, path)
    surface = UsdShade.Shader.Define(stage, path.AppendChild("PreviewSurface"))
    surface.CreateIdAttr("UsdPreviewSurface")
    usd_material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
    color, float_ = Sdf.ValueTypeNames.Color3f, Sdf.ValueTypeNames.Float
    st = []

    def connect(name, value_type, slot, output, scale, bias=(0.0, 0.0, 0.0, 0.0), color_space="raw") -> bool:
        """Connect input `name` to `output` of the slot's texture (value = texture * scale + bias)."""
        if slot not in textures:
            return False
        if not st:
            st.append(UsdShade.Shader.Define(stage, path.AppendChild("TexCoordReader")))
            st[0].CreateIdAttr("UsdPrimvarReader_float2")
            st[0].CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
        node = UsdShade.Shader.Define(stage, path.AppendChild(TEXTURE_NODE_NAMES[slot]))
        if not node.GetIdAttr().Get():
            node.CreateIdAttr("UsdUVTexture")
            node.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(f"./{textures[slot]}")
            node.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set(color_space)
            node.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("repeat")
            node.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("repeat")
            node.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*map(float, scale)))
            node.CreateInput("bias", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*map(float, bias)))
            node.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(st[0].ConnectableAPI(), "result")
        surface.CreateInput(name, value_type).ConnectToSource(node.ConnectableAPI(), output)
        return True

    base = material.base_color
    diffuse = surface.CreateInput("diffuseColor", color)
    if not connect("diffuseColor", color, "base_color_texture", "rgb", base, color_space="sRGB"):
        if vertex_colors:
            reader = UsdShade.Shader.Define(stage, path.AppendChild("DisplayColorReader"))
            reader.CreateIdAttr("UsdPrimvarReader_float3")
            reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("displayColor")
            diffuse.ConnectToSource(reader.ConnectableAPI(), "result")
        else:
            diffuse.Set(Gf.Vec3f(*base[:3].tolist()))
    if material.alpha_mode != "OPAQUE":
        if not connect("opacity", float_, "base_color_texture", "a", base, color_space="sRGB"):
            surface.CreateInput("opacity", float_).Set(float(base[3]))
        if material.alpha_mode == "MASK":
            surface.CreateInput("opacityThreshold", float_).Set(float(material.alpha_cutoff))
    packed = (1.0, material.roughness, material.metallic, 1.0)  # glTF: roughness in G, metallic in B
    if not connect("roughness", float_, "metallic_roughness_texture", "g", packed):
        surface.CreateInput("roughness", float_).Set(float(material.roughness))
    if not connect("metallic", float_, "metallic_roughness_texture", "b", packed):
        surface.CreateInput("metallic", float_).Set(float(material.metallic))
    s = material.normal_scale
    connect("normal", Sdf.ValueTypeNames.Normal3f, "normal_texture", "rgb", (2 * s, 2 * s, 2, 1), (-s, -s, -1, 0))
    strength = material.occlusion_strength
    connect("occlusion", float_, "occlusion_texture", "r", (strength,) * 4, (1 - strength,) * 4)
    emissive = connect("emissiveColor", color, "emissive_texture", "rgb", (*material.emissive, 1.0), color_space="sRGB")
    if not emissive and material.emissive.any():
        surface.CreateInput("emissiveColor", color).Set(Gf.Vec3f(*material.emissive.tolist()))
    return usd_material
