"""Read ActionBench-layout folders: `gt_root/<uid>/surfaces.npy` (T, V, 6) tracked points, and
predictions as `pred_root/<uid>.npz` or `pred_root/<uid>/animated_mesh.npz` (`AnimatedMesh.save`)
or `pred_root/<uid>/mesh_XX.glb` (any per-frame meshes, natural order)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import trimesh

from ..animated_mesh import AnimatedMesh
from ..errors import InputError, MeshError
from ..io.mesh_file import SUPPORTED_SUFFIXES, load_user_mesh
from ..inputs.image_files import natural_key

GT_FILE = "surfaces.npy"
ANIMATION_FILE = "animated_mesh.npz"
MESH_PATTERN = "mesh_*.glb"


def list_samples(gt_root: str | os.PathLike) -> list[str]:
    """The uids under gt_root (folders holding surfaces.npy), in natural order."""
    gt_root = Path(gt_root)
    if not gt_root.is_dir():
        raise InputError(f"GT root {gt_root} is not a folder")
    uids = sorted((p.parent for p in gt_root.glob(f"*/{GT_FILE}")), key=natural_key)
    if not uids:
        raise InputError(f"no <uid>/{GT_FILE} under {gt_root}: is this an ActionBench data folder?")
    return [p.name for p in uids]


def load_gt(gt_root: str | os.PathLike, uid: str) -> np.ndarray:
    """(T, V, 3 or 6) float32 tracked GT points of one sample."""
    path = Path(gt_root) / uid / GT_FILE
    try:
        points = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a bad input
        raise InputError(f"cannot read {path} ({exc})") from None
    if points.dtype.kind not in "iuf":
        raise InputError(f"{path} must hold real numbers (float32, as ActionBench's), got {points.dtype}")
    if points.ndim != 3 or points.shape[-1] not in (3, 6) or 0 in points.shape:
        raise InputError(f"{path} must hold an array (frames, points, 6), got shape {points.shape}")
    if not np.isfinite(points).all():
        raise InputError(f"{path} contains NaN or infinite values")
    return points.astype(np.float32)


def load_prediction(pred_root: str | os.PathLike, uid: str,
                    mesh_pattern: str = MESH_PATTERN) -> AnimatedMesh | list[trimesh.Trimesh]:
    """A sample's prediction: `<uid>.npz`, else `<uid>/animated_mesh.npz`, else the `<uid>/` files
    matching mesh_pattern, else every mesh file in `<uid>/` (GLB, glTF, OBJ, PLY)."""
    pred_root = Path(pred_root)
    for path in (pred_root / f"{uid}.npz", pred_root / uid / ANIMATION_FILE):
        if path.is_file():
            return AnimatedMesh.load(path)
    folder = pred_root / uid
    if not folder.is_dir():
        raise InputError(f"no prediction for {uid}: expected {uid}.npz or a folder {uid}/ in {pred_root}")
    return load_frame_meshes(folder, mesh_pattern)


def load_frame_meshes(folder: Path, mesh_pattern: str = MESH_PATTERN) -> list[trimesh.Trimesh]:
    """The per-frame meshes of a folder, in natural order (vertices and faces as stored)."""
    paths = sorted(folder.glob(mesh_pattern), key=natural_key)
    if not paths:
        paths = sorted((p for p in folder.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES), key=natural_key)
    if not paths:
        raise MeshError(f"no mesh files ({mesh_pattern} or {', '.join(SUPPORTED_SUFFIXES)}) in {folder}")
    meshes = []
    for path in paths:
        mesh = load_user_mesh(path)
        meshes.append(trimesh.Trimesh(mesh.vertices, mesh.faces, process=False))
    return meshes
