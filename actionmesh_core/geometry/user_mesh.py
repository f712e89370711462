"""User meshes for the {video + mesh} -> 4D path (spec §5.2): prepare a loaded mesh (`io.mesh_file`) for the
model, and map the animation back onto the user's own vertex layout, UVs and texture.

How the layouts relate:
- `UserMesh` is the file as loaded (`load_user_mesh`). Its vertices are what gets animated and exported, so its
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

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from ..base.log import log
from ..animated_mesh import AnimatedMesh
from ..errors import InputError, MeshError
from ..io.mesh_file import UserMesh
from .model_frame import ModelFrame
from .postprocess import clean_mesh, decimate


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
class PreparedMesh:
    """A `UserMesh` made ready for the model; see the module docstring for the layouts.

    source:           the `UserMesh` (original layout, UVs, texture).
    vertices:         (Vm, 3) float32 merged vertices in the model frame, longest side [-1, 1].
    faces:            (Fm, 3) int64 merged, cleaned faces.
    encoder_vertices: (Ve, 3) float32, encoder_faces (Fe, 3) int64: the surface to sample for
                      the encoder (the merged mesh, or a decimated copy above the face limit).
    merge_map:        (V_orig,) int64 merged vertex of every original vertex.
    frame:            the `ModelFrame` between the file's units (and up axis) and the model frame.
    """

    source: UserMesh
    vertices: np.ndarray
    faces: np.ndarray
    encoder_vertices: np.ndarray
    encoder_faces: np.ndarray
    merge_map: np.ndarray
    frame: ModelFrame

    def restore_original_layout(self, merged_vertices: np.ndarray) -> np.ndarray:
        """Model-frame merged vertices (..., Vm, 3) -> the file's units and layout (..., V_orig, 3)
        float32, to be used with `source.faces`, `source.uvs` and `source.materials`."""
        merged = np.asarray(merged_vertices, dtype=np.float32)
        restored = np.empty((*merged.shape[:-2], len(self.merge_map), 3), np.float32)
        flat_in, flat_out = merged.reshape(-1, *merged.shape[-2:]), restored.reshape(-1, len(self.merge_map), 3)
        for frame, out in zip(flat_in, flat_out):  # frame by frame: no (T, V, 3) float64 temporaries
            out[:] = self.frame.from_model(frame)[self.merge_map]
        return restored

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
            model_transform=self.frame.matrix,
            merge_map=self.merge_map,
            name=source.name,
        )


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
    frame = ModelFrame.fitting(merged.vertices, UP_AXIS_ROTATIONS[up_axis])
    merged.vertices = frame.to_model(merged.vertices)
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
        frame=frame,
    )
