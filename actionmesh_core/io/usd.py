"""USD export through usd-core (read by Houdini, Maya, Omniverse and Blender's USD importer).

Stage: upAxis Y, metersPerUnit 1, timeCodesPerSecond = framesPerSecond = fps, and frame k at time
code `frame_times[k] * fps` (= k for evenly spaced frames). Prims: `/<name>` (Xform, default prim),
`/<name>/Mesh` (UsdGeom.Mesh with time-sampled points, extent and optionally normals; plain
polygons, no subdivision), `/<name>/Looks/Material` (UsdPreviewSurface). Texture coordinates are
`primvars:st` in USD's convention (t up), i.e. (u, 1 - v) of the glTF-style uvs.
A `.usdz` file packs the layer and its texture into one archive; `.usd`/`.usdc`/`.usda` files
put the texture beside them as `<stem>_basecolor.png`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..animated_mesh import AnimatedMesh
from ..errors import ActionMeshError, InputError
from ..render.normals import vertex_normals
from .atomic import atomic_path

USD_SUFFIXES = (".usd", ".usda", ".usdc", ".usdz")
DEFAULT_COLOR = (0.8, 0.8, 0.8)


def write_usd(anim: AnimatedMesh, path: str | os.PathLike, *, normals: bool = True) -> Path:
    """Write `anim` to a USD file whose suffix picks the flavour (see USD_SUFFIXES). Returns the path.

    The layer and its texture are written to temporary names and renamed into place only once both
    are complete, so a failed write keeps the previous pair. normals: write time-sampled vertex normals.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in USD_SUFFIXES:
        raise InputError(f"a USD file name must end in one of {USD_SUFFIXES}, got {path.name!r}")
    if suffix == ".usdz":
        return _write_usdz(anim, path, normals=normals)
    texture_name = f"{path.stem}_basecolor.png" if _has_texture(anim) else None
    with contextlib.ExitStack() as renames:  # both files are renamed into place only at the end
        layer = renames.enter_context(atomic_path(path))
        if texture_name:
            texture = renames.enter_context(atomic_path(path.with_name(texture_name)))
            Image.fromarray(anim.texture).save(texture, format="PNG")
        _write_stage(anim, layer, texture_name, normals=normals)
    return path


def _write_usdz(anim: AnimatedMesh, path: Path, *, normals: bool) -> Path:
    from pxr import Sdf, UsdUtils

    with tempfile.TemporaryDirectory(prefix="actionmesh_usdz_") as folder:
        layer = Path(folder) / "scene.usdc"
        texture_name = "basecolor.png" if _has_texture(anim) else None
        if texture_name:
            Image.fromarray(anim.texture).save(Path(folder) / texture_name, format="PNG")
        _write_stage(anim, layer, texture_name, normals=normals)
        with atomic_path(path) as tmp:
            if not UsdUtils.CreateNewUsdzPackage(Sdf.AssetPath(str(layer)), str(tmp)):
                raise ActionMeshError(f"usd-core could not package {path.name} (see its messages above)")
    return path


def _has_texture(anim: AnimatedMesh) -> bool:
    return anim.texture is not None and anim.uvs is not None


def _write_stage(anim: AnimatedMesh, layer_path: Path, texture_name: str | None, *, normals: bool) -> None:
    """Author the whole stage into `layer_path` (the texture, if any, is `texture_name` beside it)."""
    from pxr import Sdf, Tf, Usd, UsdGeom, Vt

    stage = Usd.Stage.CreateNew(str(layer_path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, UsdGeom.LinearUnits.meters)
    time_codes = anim.frame_times * anim.fps
    stage.SetTimeCodesPerSecond(anim.fps)
    stage.SetFramesPerSecond(anim.fps)
    stage.SetStartTimeCode(float(time_codes[0]))
    stage.SetEndTimeCode(float(time_codes[-1]))

    root = UsdGeom.Xform.Define(stage, "/" + Tf.MakeValidIdentifier(anim.name))
    stage.SetDefaultPrim(root.GetPrim())
    mesh = UsdGeom.Mesh.Define(stage, root.GetPath().AppendChild("Mesh"))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(anim.num_faces, 3, np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(anim.faces.astype(np.int32).reshape(-1)))
    points, extent = mesh.CreatePointsAttr(), mesh.CreateExtentAttr()
    for time, frame in zip(time_codes, anim.vertices):
        points.Set(Vt.Vec3fArray.FromNumpy(frame), float(time))
        extent.Set(Vt.Vec3fArray.FromNumpy(np.stack([frame.min(0), frame.max(0)])), float(time))
    if normals:
        normal_attr = mesh.CreateNormalsAttr()
        mesh.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
        for time, frame_normals in zip(time_codes, vertex_normals(anim.vertices, anim.faces)):
            normal_attr.Set(Vt.Vec3fArray.FromNumpy(frame_normals), float(time))
    primvars = UsdGeom.PrimvarsAPI(mesh)
    if anim.uvs is not None:
        st = np.stack([anim.uvs[:, 0], 1.0 - anim.uvs[:, 1]], axis=1).astype(np.float32)
        primvars.CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex).Set(
            Vt.Vec2fArray.FromNumpy(st)
        )
    if anim.vertex_colors is not None:
        colors = anim.vertex_colors[:, :3].astype(np.float32) / 255.0
        mesh.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex).Set(Vt.Vec3fArray.FromNumpy(colors))
    _bind_material(stage, mesh, root.GetPath(), anim, texture_name)
    stage.GetRootLayer().Save()


def _bind_material(stage, mesh, root_path, anim: AnimatedMesh, texture_name: str | None) -> None:
    """A UsdPreviewSurface: texture x base colour, else vertex colours, else the base colour."""
    from pxr import Gf, Sdf, UsdGeom, UsdShade

    looks = UsdGeom.Scope.Define(stage, root_path.AppendChild("Looks"))
    material = UsdShade.Material.Define(stage, looks.GetPath().AppendChild("Material"))
    surface = UsdShade.Shader.Define(stage, material.GetPath().AppendChild("PreviewSurface"))
    surface.CreateIdAttr("UsdPreviewSurface")
    surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(0.8)
    surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
    base = (
        np.asarray(anim.base_color, np.float64)
        if anim.base_color is not None
        else np.array([*DEFAULT_COLOR, 1.0])
        if texture_name is None and anim.vertex_colors is None
        else np.ones(4)
    )
    diffuse = surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
    if base[3] < 1.0:
        surface.CreateInput("opacity", Sdf.ValueTypeNames.Float).Set(float(base[3]))
    material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")

    if texture_name:
        reader = UsdShade.Shader.Define(stage, material.GetPath().AppendChild("TexCoordReader"))
        reader.CreateIdAttr("UsdPrimvarReader_float2")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
        texture = UsdShade.Shader.Define(stage, material.GetPath().AppendChild("BaseColorTexture"))
        texture.CreateIdAttr("UsdUVTexture")
        texture.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(f"./{texture_name}")
        texture.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
        texture.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("repeat")
        texture.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("repeat")
        texture.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*base[:3].tolist(), 1.0))
        texture.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(reader.ConnectableAPI(), "result")
        diffuse.ConnectToSource(texture.ConnectableAPI(), "rgb")
    elif anim.vertex_colors is not None:
        reader = UsdShade.Shader.Define(stage, material.GetPath().AppendChild("DisplayColorReader"))
        reader.CreateIdAttr("UsdPrimvarReader_float3")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("displayColor")
        diffuse.ConnectToSource(reader.ConnectableAPI(), "result")
    else:
        diffuse.Set(Gf.Vec3f(*base[:3].tolist()))
    UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim()).Bind(material)
