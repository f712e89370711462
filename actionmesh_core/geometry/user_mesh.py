"""User meshes for the {video + mesh} -> 4D path (spec §5.2): load, prepare for the model, and map
the animation back onto the user's own vertex layout, UVs and texture.

How the layouts relate:
- `UserMesh` is the file as loaded. Its vertices are what gets animated and exported, so its
  faces, UVs and materials are never changed. Scene parts are concatenated in file order, each
  keeping its own vertices, UVs and material (`materials` + `face_materials`: no texture atlas).
- `PreparedMesh.vertices` are the merged vertices (UV-seam duplicates joined), in the model frame.
  Stage II is queried at these positions with their vertex normals: its queries can be any set
  of points with normals, so the animated vertices never need decimating, however many there are
  (the caller chunks the queries).
- `PreparedMesh.encoder_vertices/encoder_faces` is the surface the TripoSG encoder samples. It is
  the merged mesh itself, or a decimated copy when the mesh has more faces than the limit; only
  the 16,384 surface samples come from it.
- `PreparedMesh.restore_original_layout` maps merged-vertex animations back to the file's layout.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from ..animated_mesh import GLTF_KEYS, AnimatedMesh, Material
from ..errors import InputError, MeshError
from ..io.gltf import MeshPart, read_gltf_parts
from ..safe_paths import resource_path
from .postprocess import clean_mesh, decimate

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".glb", ".gltf", ".obj", ".ply")

ENCODER_FACE_LIMIT = 5_000_000
"""From this many merged faces on, the encoder samples a simplified copy (half as many faces)."""

# Rotations taking the named up axis of a user's file to the model's +Y up (all right-handed).
UP_AXIS_ROTATIONS = {
    "+y": np.eye(3),
    "-y": np.array([[1, 0, 0], [0, -1, 0], [0, 0, -1]]),
    "+z": np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]]),
    "-z": np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]),
    "+x": np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]]),
    "-x": np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]]),
}


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


@dataclass
class PreparedMesh:
    """A `UserMesh` made ready for the model; see the module docstring for the layouts.

    source:           the `UserMesh` (original layout, UVs, texture).
    vertices:         (Vm, 3) float32 merged vertices in the model frame, longest side [-1, 1].
    faces:            (Fm, 3) int64 merged, cleaned faces.
    encoder_vertices: (Ve, 3) float32, encoder_faces (Fe, 3) int64: the surface to sample for
                      the encoder (the merged mesh, or a decimated copy above the face limit).
    merge_map:        (V_orig,) int64 merged vertex of every original vertex.
    center:           (3,) float32 bounding-box centre, in the file's units.
    scale:            half the longest bounding-box side, in the file's units.
    rotation:         (3, 3) float32; model = rotation @ (original - center) / scale.
    """

    source: UserMesh
    vertices: np.ndarray
    faces: np.ndarray
    encoder_vertices: np.ndarray
    encoder_faces: np.ndarray
    merge_map: np.ndarray
    center: np.ndarray
    scale: float
    rotation: np.ndarray

    def restore_original_layout(self, merged_vertices: np.ndarray) -> np.ndarray:
        """Model-frame merged vertices (..., Vm, 3) -> the file's units and layout (..., V_orig, 3)
        float32, to be used with `source.faces`, `source.uvs` and `source.materials`."""
        merged = np.asarray(merged_vertices, dtype=np.float32) @ self.rotation * self.scale + self.center
        return merged[..., self.merge_map, :]

    @property
    def model_transform(self) -> np.ndarray:
        """(4, 4) float32 map from the file's units to the model frame."""
        transform = np.eye(4, dtype=np.float32)
        transform[:3, :3] = self.rotation / self.scale
        transform[:3, 3] = -(self.rotation @ self.center) / self.scale
        return transform

    def to_animated_mesh(
        self, merged_vertices: np.ndarray, fps: float, frame_times: np.ndarray | None = None
    ) -> AnimatedMesh:
        """Model-frame animation (T, Vm, 3) -> `AnimatedMesh` with the source's layout, UVs and
        materials, in the file's units (with the model transform and merge map, so `extend` can continue it)."""
        source = self.source
        return AnimatedMesh(
            vertices=self.restore_original_layout(merged_vertices),
            faces=source.faces,
            fps=fps,
            frame_times=frame_times,
            uvs=source.uvs,
            vertex_colors=source.vertex_colors,
            materials=source.materials,
            face_materials=source.face_materials,
            model_transform=self.model_transform,
            merge_map=self.merge_map,
            name=source.name,
        )


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


def prepare_user_mesh(user_mesh: UserMesh, *, up_axis: str = "+y", face_limit: int | None = None) -> PreparedMesh:
    """Merge and clean the mesh, move it into the model frame, and build the encoder surface.

    The model frame is +Y up with the bounding box centred and its longest side spanning
    [-1, 1]. `up_axis` names the file's up axis ("+z" for Z-up exports); no other alignment is
    done, so the facing must already match TripoSG's. From `face_limit` merged faces on (default
    ENCODER_FACE_LIMIT) only the encoder's copy is decimated, to half the limit (with a warning); every
    vertex is still animated.
    """
    face_limit = ENCODER_FACE_LIMIT if face_limit is None else face_limit
    if up_axis not in UP_AXIS_ROTATIONS:
        raise InputError(f"unknown up axis '{up_axis}': use one of {', '.join(UP_AXIS_ROTATIONS)}")
    merged = clean_mesh(trimesh.Trimesh(user_mesh.vertices, user_mesh.faces, process=False))
    if len(merged.faces) == 0:
        raise MeshError(
            f"mesh '{user_mesh.name}' has no faces with non-zero area (all vertices coincide or lie on lines)"
        )
    # Every original vertex (including unreferenced ones) follows its nearest merged vertex.
    merge_map = cKDTree(merged.vertices).query(user_mesh.vertices)[1]
    low, high = merged.vertices.min(axis=0), merged.vertices.max(axis=0)
    center, scale = (low + high) / 2.0, float((high - low).max() / 2.0)
    rotation = UP_AXIS_ROTATIONS[up_axis].astype(np.float32)
    merged.vertices = (merged.vertices - center) @ rotation.T / scale
    encoder = merged
    if len(merged.faces) >= face_limit:
        log.warning(
            "mesh '%s' has %d faces (limit %d): only the copy the shape encoder samples is simplified, to "
            "about %d faces; the mesh itself is kept and every one of its %d vertices is still animated",
            user_mesh.name, len(merged.faces), face_limit, face_limit // 2, len(user_mesh.vertices),
        )
        encoder = decimate(merged, face_limit // 2)
    vertices = np.asarray(merged.vertices, dtype=np.float32)
    faces = np.asarray(merged.faces, dtype=np.int64)
    return PreparedMesh(
        source=user_mesh,
        vertices=vertices,
        faces=faces,
        encoder_vertices=np.asarray(encoder.vertices, dtype=np.float32),
        encoder_faces=np.asarray(encoder.faces, dtype=np.int64),
        merge_map=merge_map.astype(np.int64),
        center=center.astype(np.float32),
        scale=scale,
        rotation=rotation,
    )
