"""`AnimatedMesh`: one fixed topology, moving vertices. The result type of the whole pipeline; beside the mesh it
may carry a `Continuation`, what `extend` needs to continue the run (saved in the same `.npz`).

Coordinates are the model frame: right-handed, +Y up, the object inside about [-1, 1]^3 for
generated meshes, or the user's own units when a user mesh was animated. glTF uses the same
+Y-up convention, so exporters write the vertices as they are.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from .base.atomic import atomic_path
from .errors import MeshError
from .video_cameras import VideoCameras


OPTIONAL_ARRAYS = ("uvs", "vertex_colors", "model_transform", "merge_map", "face_materials")
TEXTURE_SLOTS = ("base_color_texture", "metallic_roughness_texture", "normal_texture", "occlusion_texture",
                 "emissive_texture")
ALPHA_MODES = ("OPAQUE", "MASK", "BLEND")
GLTF_KEYS = dict(zip(TEXTURE_SLOTS, ("baseColorTexture", "metallicRoughnessTexture", "normalTexture",
                                     "occlusionTexture", "emissiveTexture")))
"""The glTF (and trimesh) name of each texture slot."""
DEFAULT_BASE_COLOR = np.array([0.8, 0.8, 0.8, 1.0], np.float32)


@dataclass
class Material:
    """A glTF 2.0 metallic-roughness material, with the glTF defaults. Every texture is an
    (H, W, 3|4) uint8 image sampled at TEXCOORD_0 (the mesh's `uvs`).

    base_color: (4,) float64 RGBA factor; emissive: (3,) float64 factor (float64, so factors read from a
    glTF file are written back exactly).
    metallic_roughness_texture: roughness in G, metallic in B (glTF packing).
    """

    name: str = "material"
    base_color: np.ndarray = field(default_factory=lambda: np.ones(4))
    metallic: float = 1.0
    roughness: float = 1.0
    emissive: np.ndarray = field(default_factory=lambda: np.zeros(3))
    alpha_mode: str = "OPAQUE"
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    normal_scale: float = 1.0
    occlusion_strength: float = 1.0
    base_color_texture: np.ndarray | None = None
    metallic_roughness_texture: np.ndarray | None = None
    normal_texture: np.ndarray | None = None
    occlusion_texture: np.ndarray | None = None
    emissive_texture: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.base_color = np.asarray(self.base_color, dtype=np.float64).reshape(4)
        self.emissive = np.asarray(self.emissive, dtype=np.float64).reshape(3)
        if self.alpha_mode not in ALPHA_MODES:
            raise MeshError(f"material '{self.name}': alpha mode must be one of {ALPHA_MODES}, got {self.alpha_mode!r}")
        for slot in TEXTURE_SLOTS:
            if getattr(self, slot) is not None:
                setattr(self, slot, np.asarray(getattr(self, slot), dtype=np.uint8))
                _check_shape(f"material '{self.name}' {slot}", getattr(self, slot), ("H", "W", (3, 4)))

    def textures(self) -> dict[str, np.ndarray]:
        """{slot: image} of the texture slots that hold an image."""
        return {slot: getattr(self, slot) for slot in TEXTURE_SLOTS if getattr(self, slot) is not None}

    def scalars(self) -> dict:
        """Every field except the images, JSON-ready."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in TEXTURE_SLOTS}
        return {key: value.tolist() if isinstance(value, np.ndarray) else value for key, value in values.items()}


@dataclass
class Continuation:
    """What `extend` needs to continue a run over more frames; not part of the mesh, but saved with it.

    last_frame: (H, W, 4) uint8 RGBA last input frame (its subject mask as alpha): the new frames' first frame.
    latents:    optional (T, tokens, C) float32 Stage I latents of every frame; the last one conditions the
                extension (None: it is encoded again from the last frame's mesh).
    crop_box:   optional (4,) int64 (x0, y0, x1, y1) input crop of the run, so the new frames keep its framing
                (None in results saved before it was kept: the union box of the last and the new frames).
    """

    ARRAYS = ("last_frame", "latents", "crop_box")
    """Its `.npz` entries, under the names results have always used."""

    last_frame: np.ndarray
    latents: np.ndarray | None = None
    crop_box: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.last_frame = _numbers("last_frame", self.last_frame, np.uint8)
        _check_shape("last_frame", self.last_frame, ("H", "W", 4))
        if self.latents is not None:
            self.latents = _numbers("latents", self.latents, np.float32)
            _check_shape("latents", self.latents, ("T", "N", "C"))
        if self.crop_box is not None:
            self.crop_box = _numbers("crop_box", self.crop_box, np.int64)
            _check_shape("crop_box", self.crop_box, (4,))
            x0, y0, x1, y1 = self.crop_box.tolist()
            if not 0 <= x0 < x1 or not 0 <= y0 < y1:
                raise MeshError(f"crop_box must be (x0, y0, x1, y1) with 0 <= x0 < x1 and 0 <= y0 < y1, got "
                                f"{self.crop_box.tolist()}")


@dataclass
class AnimatedMesh:
    """A mesh animation with constant faces.

    vertices:    (T, V, 3) float32, one row of positions per frame.
    faces:       (F, 3) int64 indices into V, shared by every frame.
    fps:         playback rate in frames per second.
    frame_times: (T,) float64 seconds of each frame; defaults to arange(T) / fps.
    uvs:         optional (V, 2) float32 texture coordinates (glTF convention: v down).
    vertex_colors: optional (V, 3|4) uint8.
    model_transform: optional (4, 4) float32 mapping stored vertices to the model frame (None: identity;
                 set when a user mesh was animated in its own units).
    merge_map:   optional (V,) int64 model-side vertex of every stored vertex (None: identity; set when a
                 user mesh's seam-split vertices were merged for the model).
    materials:   optional list of `Material`s (a user mesh's full glTF materials, textures included; without
                 `uvs` their textures are dropped); None: one plain material (`resolved_materials`).
    face_materials: optional (F,) int64 index into `materials` of every face (None: all faces use the first).
    cameras:     optional `VideoCameras`: the camera of every frame of the video the animation was registered to
                 (`video_fit.fit_cameras`), in the stored coordinates.
    name:        a short name used for exported nodes and clips.
    continuation: optional `Continuation` of the run that made the animation (None: it cannot be extended).
    """

    vertices: np.ndarray
    faces: np.ndarray
    fps: float = 8.0
    frame_times: np.ndarray | None = None
    uvs: np.ndarray | None = None
    vertex_colors: np.ndarray | None = None
    model_transform: np.ndarray | None = None
    merge_map: np.ndarray | None = None
    materials: list[Material] | None = None
    face_materials: np.ndarray | None = None
    cameras: VideoCameras | None = None
    name: str = "ActionMesh"
    extras: dict = field(default_factory=dict)
    continuation: Continuation | None = None

    def __post_init__(self) -> None:
        if isinstance(self.vertices, (list, tuple)):
            counts = {np.asarray(v).shape for v in self.vertices}
            if len(counts) > 1:
                raise MeshError(
                    f"frames have different vertex arrays {sorted(counts)}: an animated mesh needs the "
                    "same vertex count in every frame"
                )
        self.vertices = _numbers("vertices", self.vertices, np.float32)
        self.faces = _numbers("faces", self.faces, np.int64)
        if self.vertices.ndim > 0 and len(self.vertices) == 0:
            raise MeshError("the animation has zero frames")
        if self.vertices.ndim != 3 or self.vertices.shape[-1] != 3:
            raise MeshError(f"vertices must have shape (frames, vertices, 3), got {self.vertices.shape}")
        if self.faces.ndim != 2 or self.faces.shape[-1] != 3 or len(self.faces) == 0:
            raise MeshError(f"faces must have shape (faces, 3) with at least one face, got {self.faces.shape}")
        if not np.isfinite(self.vertices).all():
            bad = np.unique(np.nonzero(~np.isfinite(self.vertices))[0])
            raise MeshError(f"vertices contain NaN or infinite values in frame(s) {bad.tolist()[:10]}")
        if self.faces.min() < 0 or self.faces.max() >= self.num_vertices:
            raise MeshError(
                f"face indices must lie in [0, {self.num_vertices}); got [{self.faces.min()}, {self.faces.max()}]"
            )
        if isinstance(self.fps, (bool, np.bool_)) or not isinstance(self.fps, (int, float, np.integer, np.floating)) \
                or not (self.fps > 0 and np.isfinite(self.fps)):
            raise MeshError(f"fps must be a positive number, got {self.fps!r:.60}")
        if self.frame_times is None:
            self.frame_times = np.arange(self.num_frames, dtype=np.float64) / float(self.fps)
        self.frame_times = _numbers("frame_times", self.frame_times, np.float64)
        _check_shape("frame_times", self.frame_times, (self.num_frames,))
        if not np.isfinite(self.frame_times).all():
            raise MeshError("frame_times contain NaN or infinite values")
        if self.num_frames > 1 and not (np.diff(self.frame_times) > 0).all():
            raise MeshError("frame_times must increase strictly")
        if self.uvs is not None:
            self.uvs = _numbers("uvs", self.uvs, np.float32)
            _check_shape("uvs", self.uvs, (self.num_vertices, 2))
        if self.vertex_colors is not None:
            self.vertex_colors = _numbers("vertex_colors", self.vertex_colors, np.uint8)
            _check_shape("vertex_colors", self.vertex_colors, (self.num_vertices, (3, 4)))
        if self.model_transform is not None:
            self.model_transform = _numbers("model_transform", self.model_transform, np.float32)
            _check_shape("model_transform", self.model_transform, (4, 4))
            if not np.isfinite(self.model_transform).all() or abs(np.linalg.det(self.model_transform)) < 1e-12:
                raise MeshError("model_transform must be a finite, invertible (4, 4) matrix")
        if self.merge_map is not None:
            self.merge_map = _numbers("merge_map", self.merge_map, np.int64)
            _check_shape("merge_map", self.merge_map, (self.num_vertices,))
            if self.merge_map.min() < 0 or self.merge_map.max() >= self.num_vertices:
                raise MeshError(f"merge_map must hold vertex indices in [0, {self.num_vertices})")
        if self.continuation is not None and self.continuation.latents is not None \
                and len(self.continuation.latents) != self.num_frames:
            raise MeshError(f"the continuation holds {len(self.continuation.latents)} latents for "
                            f"{self.num_frames} frames")
        if self.uvs is None and self.materials:  # a texture needs UVs: without them, only the factors apply
            self.materials = [replace(m, **dict.fromkeys(m.textures())) for m in self.materials]
        if self.face_materials is not None:
            self.face_materials = _numbers("face_materials", self.face_materials, np.int64)
            _check_shape("face_materials", self.face_materials, (self.num_faces,))
            count = len(self.materials or ())
            if self.face_materials.min() < 0 or self.face_materials.max() >= count:
                raise MeshError(f"face_materials must index the {count} material(s), got [{self.face_materials.min()}, "
                                f"{self.face_materials.max()}]")
        if self.cameras is not None and self.cameras.num_frames != self.num_frames:
            raise MeshError(f"the video cameras cover {self.cameras.num_frames} frames, the animation has "
                            f"{self.num_frames}")

    @property
    def num_frames(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def num_vertices(self) -> int:
        return int(self.vertices.shape[1])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    def resolved_materials(self) -> list[Material]:
        """`materials`, or else one plain material: white under vertex colours, else DEFAULT_BASE_COLOR,
        metallic 0, roughness 0.8, double-sided."""
        if self.materials:
            return self.materials
        color = np.ones(4) if self.vertex_colors is not None else DEFAULT_BASE_COLOR
        return [Material(name=f"{self.name}_material", base_color=color, metallic=0.0, roughness=0.8,
                         double_sided=True)]

    def material_faces(self) -> list[np.ndarray]:
        """(F_m,) int64 indices of the faces of each of `resolved_materials()`, in face order."""
        index = np.zeros(self.num_faces, np.int64) if self.face_materials is None else self.face_materials
        return [np.flatnonzero(index == m) for m in range(len(self.resolved_materials()))]

    def material_parts(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(material, vertex ids (V_p,), faces (F_p, 3) into those ids) of each material that has faces:
        the whole mesh for one material, else each material's faces with the vertices they use, in the
        mesh's order (a glTF primitive or OBJ group each)."""
        groups = self.material_faces()
        if len(groups) == 1:
            return [(0, np.arange(self.num_vertices), self.faces)]
        parts = []
        for material, face_ids in enumerate(groups):
            if len(face_ids):
                vertex_ids, local = np.unique(self.faces[face_ids], return_inverse=True)
                parts.append((material, vertex_ids, local.reshape(-1, 3)))
        return parts

    def frame(self, k: int):
        """Frame k as one `trimesh.Trimesh` (UVs and the first material attached when present)."""
        return self._trimesh(self.vertices[k], self.faces, np.arange(self.num_vertices), self.resolved_materials()[0])

    def frame_by_material(self, k: int) -> list:
        """Frame k as one `trimesh.Trimesh` per part of `material_parts`, each with its own material."""
        materials = self.resolved_materials()
        return [self._trimesh(self.vertices[k][ids], faces, ids, materials[m]) for m, ids, faces in self.material_parts()]

    def _trimesh(self, vertices: np.ndarray, faces: np.ndarray, vertex_ids: np.ndarray, material: Material):
        """A trimesh mesh of (V_p, 3) vertices and faces, with the UVs or colours of `vertex_ids` (V_p,)."""
        import trimesh

        mesh = trimesh.Trimesh(vertices, faces, process=False)
        if self.uvs is not None:  # trimesh expects OpenGL UVs (v up); ours are glTF's (v down)
            uv = self.uvs[vertex_ids] * [1.0, -1.0] + [0.0, 1.0]
            mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=_trimesh_material(material))
        elif self.vertex_colors is not None:
            mesh.visual.vertex_colors = self.vertex_colors[vertex_ids]
        return mesh

    def save(self, path: str | os.PathLike) -> Path:
        """Write every field, and the continuation, to an `.npz` file (atomically). Returns the path."""
        path = Path(path)
        arrays = {"vertices": self.vertices, "faces": self.faces, "fps": np.float64(self.fps),
                  "frame_times": self.frame_times, "name": np.array(self.name)}
        for key in OPTIONAL_ARRAYS:
            value = getattr(self, key)
            if value is not None:
                arrays[key] = value
        arrays.update(_material_arrays(self.materials or []))
        if self.cameras is not None:
            arrays.update(self.cameras.to_arrays())
        for key in Continuation.ARRAYS if self.continuation is not None else ():
            value = getattr(self.continuation, key)
            if value is not None:
                arrays[key] = value
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AnimatedMesh":
        """Read an `.npz` written by `save`, the continuation too. Nothing is unpickled, and a damaged or
        hand-edited file (a broken member, a field of the wrong shape or type, bad materials JSON) is one
        MeshError naming the file."""
        path = Path(path)
        if not path.is_file():
            raise MeshError(f"no animated mesh at {path}")
        try:
            return cls(**_npz_fields(path))
        except MeshError as exc:
            raise MeshError(f"{path}: {exc}") from None


NPZ_ARRAYS = ("vertices", "faces", "frame_times", *OPTIONAL_ARRAYS)
"""The `.npz` members that are `AnimatedMesh` fields as they are."""


def _npz_fields(path: Path) -> dict:
    """The `AnimatedMesh` keyword arguments stored in an `.npz` (see `save`), every member read and checked."""
    members = _npz_members(path)
    if "vertices" not in members or "faces" not in members:
        raise MeshError("it lacks 'vertices' or 'faces': not an animated-mesh .npz file")
    fields = {key: members[key] for key in NPZ_ARRAYS if key in members}
    if "fps" in members:
        fps = members["fps"]
        if fps.size != 1 or fps.dtype.kind not in "iuf":
            raise MeshError(f"'fps' must be one real number, got a {fps.dtype} array of shape {fps.shape}")
        fields["fps"] = float(fps.reshape(()))
    if "name" in members:
        name = members["name"]
        if name.shape != () or name.dtype.kind != "U":
            raise MeshError(f"'name' must be one string, got a {name.dtype} array of shape {name.shape}")
        fields["name"] = str(name)
    fields["materials"] = _materials_from(members)
    fields["cameras"] = VideoCameras.from_arrays(members)
    if "last_frame" in members:  # results that cannot be extended have no continuation
        fields["continuation"] = Continuation(**{key: members[key] for key in Continuation.ARRAYS if key in members})
    return fields


def _npz_members(path: Path) -> dict[str, np.ndarray]:
    """Every member of an `.npz`, read now (numpy reads them lazily, so a damaged member would fail later)."""
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise MeshError(f"not an animated-mesh .npz file ({type(exc).__name__}: {exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise MeshError("it holds one array, not the named arrays of an animated-mesh .npz file")
    members = {}
    with archive:
        for key in archive.files:
            try:
                members[key] = archive[key]
            except ValueError as exc:
                if "allow_pickle" not in str(exc) and "object" not in str(exc).lower():
                    raise MeshError(f"member {key!r} is damaged ({exc}); export the result again") from None
                raise MeshError(f"member {key!r} holds Python objects, which are never loaded (unpickling can run "
                                "code); save the result with AnimatedMesh.save") from None
            except Exception as exc:  # noqa: BLE001 - a damaged zip member: BadZipFile, zlib.error, EOFError...
                raise MeshError(f"member {key!r} is damaged ({type(exc).__name__}: {exc}); export the result "
                                "again") from None
    return members


def _material_arrays(materials: list[Material]) -> dict[str, np.ndarray]:
    """The `.npz` entries of `materials`: "materials" (their scalars as JSON) and "material{i}_{slot}" images."""
    if not materials:
        return {}
    arrays = {"materials": np.array(json.dumps([material.scalars() for material in materials]))}
    for i, material in enumerate(materials):
        arrays.update({f"material{i}_{slot}": image for slot, image in material.textures().items()})
    return arrays


def _materials_from(data: dict[str, np.ndarray]) -> list[Material] | None:
    """The materials of an `.npz` written by `_material_arrays` (None for files without them). Older
    files may instead hold a bare "texture" image and "base_color": one material."""
    if "materials" not in data:
        if "texture" not in data and "base_color" not in data:
            return None
        return [Material(base_color=data["base_color"] if "base_color" in data else np.ones(4), metallic=0.0,
                         roughness=0.8, double_sided=True, base_color_texture=data.get("texture"))]
    text = data["materials"]
    try:
        scalars = json.loads(str(text)) if text.shape == () and text.dtype.kind == "U" else None
    except json.JSONDecodeError:
        scalars = None
    if not isinstance(scalars, list) or not all(isinstance(values, dict) for values in scalars):
        raise MeshError("'materials' must be a JSON list of material settings; the file is damaged")
    known = {f.name for f in fields(Material)} - set(TEXTURE_SLOTS)
    materials = []
    for i, values in enumerate(scalars):
        unknown = sorted(set(values) - known)
        if unknown:
            raise MeshError(f"material {i} has unknown settings {unknown}; the file is damaged")
        images = {slot: data[f"material{i}_{slot}"] for slot in TEXTURE_SLOTS if f"material{i}_{slot}" in data}
        try:
            materials.append(Material(**values, **images))
        except (TypeError, ValueError) as exc:
            raise MeshError(f"material {i} has an invalid setting ({exc}); the file is damaged") from None
    return materials


def _trimesh_material(material: Material):
    """`material` as a trimesh PBRMaterial (trimesh keeps colour factors as uint8; unnamed, so OBJ
    exports name its files material_0.png, ...)."""
    import trimesh
    from PIL import Image

    images = {GLTF_KEYS[slot]: Image.fromarray(image) for slot, image in material.textures().items()}
    return trimesh.visual.material.PBRMaterial(
        baseColorFactor=material.base_color, metallicFactor=material.metallic,
        roughnessFactor=material.roughness, emissiveFactor=material.emissive, alphaMode=material.alpha_mode,
        alphaCutoff=material.alpha_cutoff, doubleSided=material.double_sided, **images,
    )


def _numbers(name: str, value, dtype) -> np.ndarray:
    """`value` as an array of `dtype`, refusing what would convert silently and wrongly: complex numbers, text,
    Python objects, and (for integer fields) fractions. A MeshError names the field."""
    array = np.asarray(value)
    kind, integer = array.dtype.kind, np.issubdtype(dtype, np.integer)
    if kind not in "iuf" and not (kind == "b" and array.size == 0):
        raise MeshError(f"{name} must hold real numbers, got {array.dtype} values")
    if integer and kind == "f" and not np.array_equal(array, np.round(array)):
        raise MeshError(f"{name} must hold whole numbers, got fractions")
    if integer and array.size and kind in "iuf":
        info = np.iinfo(dtype)
        if array.min() < info.min or array.max() > info.max:
            raise MeshError(f"{name} holds values outside [{info.min}, {info.max}]")
    return array.astype(dtype, copy=False)


def _check_shape(name: str, array: np.ndarray, expected: tuple) -> None:
    """Raise a MeshError unless `array.shape` fits `expected`.

    expected: one entry per axis, a size, a tuple of allowed sizes, or a letter for any size above
    zero; e.g. ("H", "W", (3, 4)) for an RGB or RGBA image.
    """

    def fits(size: int, allowed) -> bool:
        return size > 0 if isinstance(allowed, str) else size in np.atleast_1d(allowed)

    if array.ndim != len(expected) or not all(map(fits, array.shape, expected)):
        axes = ", ".join("|".join(map(str, a)) if isinstance(a, tuple) else str(a) for a in expected)
        raise MeshError(f"{name} must have shape ({axes}), got {array.shape}")
