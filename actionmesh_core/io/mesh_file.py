"""A user's mesh file as loaded: GLB, glTF, OBJ or PLY -> `UserMesh`, every scene part concatenated into one,
each keeping its vertex layout, UVs, vertex colours and material. glTF files are read exactly (`read_gltf_parts`);
OBJ and PLY files through trimesh. Coordinates are the file's own; `geometry.user_mesh.prepare_user_mesh` moves
the mesh into the model frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from ..animated_mesh import GLTF_KEYS, Material
from ..errors import MeshError
from ..base.safe_paths import resource_path
from .gltf import MeshPart, read_gltf_parts

SUPPORTED_SUFFIXES = (".glb", ".gltf", ".obj", ".ply")


@dataclass
class UserMesh:
    """A user's mesh as loaded, every scene part concatenated into one.

    vertices:      (V, 3) float32 in the file's units.
    faces:         (F, 3) int64.
    uvs:           optional (V, 2) float32, glTF convention (v down), as `AnimatedMesh` expects.
    vertex_colors: optional (V, 4) uint8.
    materials:     optional list of full glTF `Material`s, as `AnimatedMesh.materials`.
    face_materials: optional (F,) int64 index into `materials` of every face.
    name:          the file's stem.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray | None = None
    vertex_colors: np.ndarray | None = None
    materials: list[Material] | None = None
    face_materials: np.ndarray | None = None
    name: str = "mesh"

    def __post_init__(self) -> None:
        self.vertices = np.asarray(self.vertices, dtype=np.float32)
        self.faces = np.asarray(self.faces, dtype=np.int64)
        if self.faces.size == 0:
            raise MeshError(f"mesh '{self.name}' has no faces (a point cloud or an empty file); give a triangle mesh")
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3 or self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise MeshError(f"mesh '{self.name}' needs vertices (V, 3) and triangles (F, 3), got "
                            f"{self.vertices.shape} and {self.faces.shape}")
        if not np.isfinite(self.vertices).all():
            raise MeshError(f"mesh '{self.name}' has NaN or infinite vertex coordinates; repair it in a 3D editor")
        if self.faces.min() < 0 or self.faces.max() >= len(self.vertices):
            raise MeshError(f"mesh '{self.name}' has face indices outside its {len(self.vertices)} vertices")
        if self.uvs is not None:
            self.uvs = np.asarray(self.uvs, dtype=np.float32)
            if self.uvs.shape != (len(self.vertices), 2):
                raise MeshError(f"mesh '{self.name}' has {len(self.uvs)} UVs for {len(self.vertices)} vertices")


def load_user_mesh(path: str | os.PathLike) -> UserMesh:
    """Read a GLB, glTF, OBJ or PLY file into a `UserMesh`: scene parts concatenated in file order, each
    with its vertex layout, UVs, vertex colours and material kept. glTF materials are read exactly
    (`read_gltf_parts`); OBJ/PLY materials go through trimesh (colour factors rounded to 1/255)."""
    path = Path(path)
    if not path.is_file():
        raise MeshError(f"no mesh file at {path}")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise MeshError(
            f"unsupported mesh format '{suffix}' ({path.name}): convert it to one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        parts = read_gltf_parts(path) if suffix in (".glb", ".gltf") else _trimesh_parts(path)
    except MeshError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure means an unreadable user file
        raise MeshError(f"cannot read {path.name} as a {suffix[1:].upper()} mesh: {exc}") from None
    if not parts:
        raise MeshError(f"{path.name} has no faces (a point cloud or an empty file); give a triangle mesh")
    return _concatenate(parts, path.stem)


def _concatenate(parts: list[MeshPart], name: str) -> UserMesh:
    """One `UserMesh` of `parts`, in order. Parts without UVs get (0, 0), without colours white, and
    without a material glTF's default one when other parts have materials."""
    sizes = [len(part.vertices) for part in parts]
    offsets = np.cumsum([0, *sizes[:-1]])

    def stacked(values: list, fill: np.ndarray):
        if all(value is None for value in values):
            return None
        return np.concatenate([np.tile(fill, (size, 1)) if value is None else value for value, size in zip(values, sizes)])

    fields = {
        "uvs": stacked([part.uvs for part in parts], np.zeros(2, np.float32)),
        "vertex_colors": stacked([part.vertex_colors for part in parts], np.full(4, 255, np.uint8)),
    }
    if any(part.material is not None for part in parts):
        default = Material(name="default")  # glTF's default material, shared by every part without one
        materials = [part.material or default for part in parts]
        unique = list({id(material): material for material in materials}.values())  # shared materials once
        index = {id(material): i for i, material in enumerate(unique)}
        fields |= {
            "materials": unique,
            "face_materials": np.concatenate([np.full(len(part.faces), index[id(material)])
                                              for part, material in zip(parts, materials)]),
        }
    return UserMesh(
        vertices=np.concatenate([part.vertices for part in parts]),
        faces=np.concatenate([part.faces + offset for part, offset in zip(parts, offsets)]),
        name=name,
        **fields,
    )


class _FolderResolver(trimesh.resolvers.FilePathResolver):
    """What trimesh reads for the files an OBJ or PLY names (`mtllib`, `map_Kd`, `TextureFile`): only files in
    the mesh's own folder (`resource_path`; trimesh 4 reads any path). trimesh swallows a resolver's errors
    (it loads the mesh without that material), so the refusals are kept in `refused` for the caller to raise."""

    def __init__(self, path: Path):
        super().__init__(str(path))
        self.refused: list[str] = []

    def get(self, name: str) -> bytes:
        try:
            path = resource_path(self.parent, name, what=f"file reference in {self.file_name}", percent_encoded=False)
        except MeshError as exc:
            self.refused.append(str(exc))
            raise
        return path.read_bytes()

    def write(self, name: str, data) -> None:
        raise MeshError("mesh files are only read here")

    def namespaced(self, namespace: str):
        raise MeshError(f"{self.file_name} refers to files in another archive or folder ({namespace!r}), which are "
                        "not read")


def _trimesh_parts(path: Path) -> list[MeshPart]:
    """The parts of an OBJ or PLY file as trimesh loads them (one per material); the files they name are read
    from the mesh's folder only."""
    resolver = _FolderResolver(path)
    loaded = trimesh.load(path, process=False, resolver=resolver)
    if resolver.refused:
        raise MeshError(resolver.refused[0])
    meshes = loaded.dump() if isinstance(loaded, trimesh.Scene) else [loaded]
    return [_trimesh_part(mesh) for mesh in meshes if isinstance(mesh, trimesh.Trimesh)]


def _trimesh_part(mesh: trimesh.Trimesh) -> MeshPart:
    """A trimesh mesh's UVs (glTF convention), vertex colours and material."""
    visual = mesh.visual
    part = MeshPart(np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces, np.int64), None, None, None)
    if visual.kind == "vertex":
        return part._replace(vertex_colors=np.asarray(visual.vertex_colors, dtype=np.uint8))
    if not isinstance(visual, trimesh.visual.TextureVisuals):
        return part
    if visual.uv is not None and len(visual.uv) == len(mesh.vertices):
        uv = np.asarray(visual.uv, dtype=np.float32)[:, :2]
        part = part._replace(uvs=np.stack([uv[:, 0], 1.0 - uv[:, 1]], axis=1))  # trimesh flips glTF's v on load
    return part._replace(material=_material_from_trimesh(visual.material))


def _material_from_trimesh(material) -> Material | None:
    """A trimesh material as a `Material` (None for trimesh's placeholder)."""
    if isinstance(material, trimesh.visual.material.SimpleMaterial):
        if _is_placeholder(material.image):
            return None
        material = material.to_pbr()
    if not isinstance(material, trimesh.visual.material.PBRMaterial):
        return None
    images = {slot: getattr(material, key) for slot, key in GLTF_KEYS.items()}
    values = {
        "name": material.name, "metallic": material.metallicFactor, "roughness": material.roughnessFactor,
        "emissive": material.emissiveFactor, "alpha_mode": material.alphaMode, "alpha_cutoff": material.alphaCutoff,
        "double_sided": material.doubleSided,
        "base_color": None if material.baseColorFactor is None else np.asarray(material.baseColorFactor) / 255.0,
    }
    return Material(
        **{key: value for key, value in values.items() if value is not None},
        **{slot: np.asarray(image.convert("RGBA" if "A" in image.getbands() else "RGB"))
           for slot, image in images.items() if image is not None},
    )


def _is_placeholder(image) -> bool:
    """True for trimesh's stand-in material image (one colour, at most 2x2 pixels), which it
    invents for files with UVs but no texture (e.g. PLY)."""
    return image is not None and image.width * image.height <= 4 and len(image.getcolors()) == 1
