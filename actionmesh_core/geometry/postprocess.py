"""Mesh clean-up for the anchor mesh (spec §5.1): clean, decimate to a face budget, drop floaters."""

from __future__ import annotations

import numpy as np
import trimesh

from ..errors import MeshError


def clean_mesh(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """A copy with duplicate vertices merged, degenerate and duplicate faces removed, and
    unreferenced vertices dropped. Vertex order and count change; see `prepare_user_mesh` for
    keeping a map back to the original layout."""
    mesh = mesh.copy()
    mesh.merge_vertices()
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    return mesh


def decimate(mesh: trimesh.Trimesh, face_count: int = 40_000) -> trimesh.Trimesh:
    """Quadric decimation (fast_simplification via trimesh) down to about `face_count` faces;
    the mesh itself when it already has no more faces than that."""
    if len(mesh.faces) <= face_count:
        return mesh
    return mesh.simplify_quadric_decimation(face_count=face_count)


def remove_floaters(mesh: trimesh.Trimesh, threshold: float = 0.02) -> trimesh.Trimesh:
    """Keep every connected component with at least int(max_component_faces * threshold) faces.

    threshold <= 0 keeps everything; the mesh itself is returned when nothing would be kept.
    """
    if threshold <= 0:
        return mesh
    components = mesh.split(only_watertight=False)
    if not components:
        return mesh
    min_faces = int(max(len(c.faces) for c in components) * threshold)
    kept = [c for c in components if len(c.faces) >= min_faces]
    return trimesh.util.concatenate(kept) if kept else mesh


def postprocess_mesh(
    vertices: np.ndarray, faces: np.ndarray, face_budget: int = 40_000, floaters_threshold: float = 0.02
) -> tuple[np.ndarray, np.ndarray]:
    """Clean, decimate above `face_budget`, then remove floaters (spec §5.1 order).

    vertices: (V, 3), faces: (F, 3) -> vertices (V', 3) float32, faces (F', 3) int64.
    """
    mesh = clean_mesh(trimesh.Trimesh(vertices, faces, process=False))
    if len(mesh.faces) == 0:
        raise MeshError("the mesh has no usable faces after removing degenerate ones")
    mesh = remove_floaters(decimate(mesh, face_budget), floaters_threshold)
    return np.asarray(mesh.vertices, dtype=np.float32), np.asarray(mesh.faces, dtype=np.int64)
