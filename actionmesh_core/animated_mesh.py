"""`AnimatedMesh`: one fixed topology, moving vertices. The result type of the whole pipeline.

Coordinates are the model frame: right-handed, +Y up, the object inside about [-1, 1]^3 for
generated meshes, or the user's own units when a user mesh was animated. glTF uses the same
+Y-up convention, so exporters write the vertices as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import MeshError
from .io.atomic import atomic_path


OPTIONAL_ARRAYS = ("uvs", "texture", "base_color", "vertex_colors", "latents", "model_transform", "merge_map",
                   "last_frame", "crop_box")


@dataclass
class AnimatedMesh:
    """A mesh animation with constant faces.

    vertices:    (T, V, 3) float32, one row of positions per frame.
    faces:       (F, 3) int64 indices into V, shared by every frame.
    fps:         playback rate in frames per second.
    frame_times: (T,) float64 seconds of each frame; defaults to arange(T) / fps.
    uvs:         optional (V, 2) float32 texture coordinates (glTF convention: v down).
    texture:     optional (H, W, 3|4) uint8 base-colour image.
    base_color:  optional (4,) float32 RGBA base-colour factor.
    vertex_colors: optional (V, 3|4) uint8.
    latents:     optional (T, tokens, 64) float32 Stage I latents that produced the animation.
    model_transform: optional (4, 4) float32 mapping stored vertices to the model frame (None: identity;
                 set when a user mesh was animated in its own units).
    merge_map:   optional (V,) int64 model-side vertex of every stored vertex (None: identity; set when a
                 user mesh's seam-split vertices were merged for the model).
    last_frame:  optional (H, W, 4) uint8 RGBA last input frame, so `extend` can continue the clip.
    crop_box:    optional (4,) int64 (x0, y0, x1, y1) input crop of the run, so `extend` keeps its framing.
    name:        a short name used for exported nodes and clips.
    """

    vertices: np.ndarray
    faces: np.ndarray
    fps: float = 8.0
    frame_times: np.ndarray | None = None
    uvs: np.ndarray | None = None
    texture: np.ndarray | None = None
    base_color: np.ndarray | None = None
    vertex_colors: np.ndarray | None = None
    latents: np.ndarray | None = None
    model_transform: np.ndarray | None = None
    merge_map: np.ndarray | None = None
    last_frame: np.ndarray | None = None
    crop_box: np.ndarray | None = None
    name: str = "ActionMesh"
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.vertices, (list, tuple)):
            counts = {np.asarray(v).shape for v in self.vertices}
            if len(counts) > 1:
                raise MeshError(
                    f"frames have different vertex arrays {sorted(counts)}: an animated mesh needs the "
                    "same vertex count in every frame"
                )
        self.vertices = np.asarray(self.vertices, dtype=np.float32)
        self.faces = np.asarray(self.faces, dtype=np.int64)
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
        if not (self.fps > 0 and np.isfinite(self.fps)):
            raise MeshError(f"fps must be a positive number, got {self.fps}")
        if self.frame_times is None:
            self.frame_times = np.arange(self.num_frames, dtype=np.float64) / float(self.fps)
        self.frame_times = np.asarray(self.frame_times, dtype=np.float64)
        if self.frame_times.shape != (self.num_frames,):
            raise MeshError(f"frame_times must have shape ({self.num_frames},), got {self.frame_times.shape}")
        if self.num_frames > 1 and not (np.diff(self.frame_times) > 0).all():
            raise MeshError("frame_times must increase strictly")
        if self.uvs is not None:
            self.uvs = np.asarray(self.uvs, dtype=np.float32)
            _check_shape("uvs", self.uvs, (self.num_vertices, 2))
        if self.texture is not None:
            self.texture = np.asarray(self.texture, dtype=np.uint8)
            _check_shape("texture", self.texture, ("H", "W", (3, 4)))
        if self.base_color is not None:
            self.base_color = np.asarray(self.base_color, dtype=np.float32).reshape(4)
        if self.vertex_colors is not None:
            self.vertex_colors = np.asarray(self.vertex_colors, dtype=np.uint8)
            _check_shape("vertex_colors", self.vertex_colors, (self.num_vertices, (3, 4)))
        if self.latents is not None:
            self.latents = np.asarray(self.latents, dtype=np.float32)
        if self.model_transform is not None:
            self.model_transform = np.asarray(self.model_transform, dtype=np.float32).reshape(4, 4)
        if self.merge_map is not None:
            self.merge_map = np.asarray(self.merge_map, dtype=np.int64)
            if self.merge_map.shape != (self.num_vertices,):
                raise MeshError(f"merge_map must have shape ({self.num_vertices},), got {self.merge_map.shape}")
        if self.last_frame is not None:
            self.last_frame = np.asarray(self.last_frame, dtype=np.uint8)
        if self.crop_box is not None:
            self.crop_box = np.asarray(self.crop_box, dtype=np.int64).reshape(4)

    @property
    def num_frames(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def num_vertices(self) -> int:
        return int(self.vertices.shape[1])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    def frame(self, k: int):
        """Frame k as a `trimesh.Trimesh` (UVs and texture attached when present)."""
        import trimesh

        mesh = trimesh.Trimesh(self.vertices[k], self.faces, process=False)
        if self.uvs is not None:
            from PIL import Image

            image = Image.fromarray(self.texture) if self.texture is not None else None
            material = trimesh.visual.material.PBRMaterial(
                baseColorTexture=image,
                baseColorFactor=None if self.base_color is None else (self.base_color * 255).astype(np.uint8),
            )
            # trimesh expects OpenGL UVs (v up); ours are glTF's (v down)
            mesh.visual = trimesh.visual.TextureVisuals(uv=self.uvs * [1.0, -1.0] + [0.0, 1.0], material=material)
        elif self.vertex_colors is not None:
            mesh.visual.vertex_colors = self.vertex_colors
        return mesh

    def save(self, path: str | os.PathLike) -> Path:
        """Write every field to an `.npz` file (atomically). Returns the path."""
        path = Path(path)
        arrays = {"vertices": self.vertices, "faces": self.faces, "fps": np.float64(self.fps),
                  "frame_times": self.frame_times, "name": np.array(self.name)}
        for key in OPTIONAL_ARRAYS:
            value = getattr(self, key)
            if value is not None:
                arrays[key] = value
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AnimatedMesh":
        """Read an `.npz` written by `save` (no pickle)."""
        path = Path(path)
        if not path.is_file():
            raise MeshError(f"no animated mesh at {path}")
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input problem
            raise MeshError(f"{path} is not an animated-mesh .npz file ({exc})") from None
        if "vertices" not in data or "faces" not in data:
            raise MeshError(f"{path} lacks 'vertices' or 'faces': not an animated-mesh .npz file")
        kwargs = {key: data[key] for key in data.files if key not in ("fps", "name")}
        return cls(fps=float(data["fps"]) if "fps" in data else 8.0,
                   name=str(data["name"]) if "name" in data else "ActionMesh", **kwargs)


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
