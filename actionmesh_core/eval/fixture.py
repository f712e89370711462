"""A small ActionBench-format data set made on the spot: procedurally animated shapes, their
tracked surface points, per-frame meshes and (optionally) rendered RGBA frames.

Layout per sample (uid = shape name), as ActionBench's:
  <root>/<uid>/surfaces.npy    (T, V, 6) float32 tracked points: xyz + unit normal
  <root>/<uid>/mesh_XX.glb     the GT mesh of each frame (one topology)
  <root>/<uid>/frames/frame_XX.png   RGBA renders, when render_frames=True
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import trimesh

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from ..base.atomic import atomic_dir
from ..export.frame_meshes import write_frame_meshes
from .loading import GT_FILE
from .point_sampling import sample_synchronised

SHAPES = ("bender", "squasher", "twister")


def fixture_animation(shape: str, num_frames: int = 16) -> AnimatedMesh:
    """One watertight mesh moving over num_frames frames, inside about [-1, 1]^3.

    bender:   a box body with a capsule arm that bends up to 90 degrees at its elbow and back;
    squasher: an egg that squashes to 65 % of its height and back, keeping its volume;
    twister:  a bar with a fin, twisting up to 90 degrees (end to end) about its long axis.
    """
    if shape not in SHAPES:
        raise InputError(f"unknown fixture shape {shape!r}; choose from {SHAPES}")
    phases = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
    mesh = _rest_mesh(shape)
    vertices = np.stack([_deform(shape, mesh.vertices, phase) for phase in phases]).astype(np.float32)
    return AnimatedMesh(vertices, mesh.faces, name=shape)


def tracked_points(anim: AnimatedMesh, num_points: int, seed: int = 0) -> np.ndarray:
    """Surface points drawn once on frame 0 and carried by the animation, with the unit normal of
    their face in each frame: (T, num_points, 6) float32."""
    points, face_index = sample_synchronised(anim.vertices, anim.faces, num_points, seed)
    corners = anim.vertices[:, anim.faces[face_index]]  # (T, n, 3 corners, 3)
    normals = np.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0])
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    return np.concatenate([points, normals], axis=-1).astype(np.float32)


def write_fixture(root: str | os.PathLike, *, shapes: tuple[str, ...] = SHAPES, num_frames: int = 16,
                  num_points: int = 20_000, render_frames: bool = False, frame_size: int = 256,
                  seed: int = 0) -> list[Path]:
    """Write one sample folder per shape under root (each replaced atomically). Returns the folders.

    render_frames needs `actionmesh_core.render` (an OpenGL context: EGL on a GPU or Mesa llvmpipe).
    """
    folders = []
    for shape in shapes:
        anim = fixture_animation(shape, num_frames)
        folder = Path(root) / shape
        with atomic_dir(folder) as tmp:
            np.save(tmp / GT_FILE, tracked_points(anim, num_points, seed))
            write_frame_meshes(anim, tmp)
            if render_frames:
                _write_frames(anim, tmp / "frames", frame_size)
        folders.append(folder)
    return folders


def _write_frames(anim: AnimatedMesh, folder: Path, size: int) -> None:
    from PIL import Image

    from ..render import render_rgba

    folder.mkdir()
    for k, rgba in enumerate(render_rgba(anim.vertices, anim.faces, size=size)):
        Image.fromarray(rgba).save(folder / f"frame_{k:02d}.png")


def _rest_mesh(shape: str) -> trimesh.Trimesh:
    """Rest poses with no rotational symmetry beyond what the motion shares (a symmetric frame 0
    would let the frame-0 ICP of CD-4D pick a flipped pose)."""
    if shape == "bender":  # the arm leaves the body above its centre
        body = trimesh.creation.box((0.7, 0.5, 0.4)).apply_translation((-0.35, -0.12, 0.0))
        arm = trimesh.creation.capsule(height=0.8, radius=0.12, count=[16, 16])
        arm.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, (0, 1, 0)))  # along x
        return trimesh.util.concatenate([_refined(body, 0.1), _refined(arm.apply_translation((0.42, 0.0, 0.0)), 0.06)])
    if shape == "squasher":  # an egg, wider at the top
        egg = trimesh.creation.icosphere(subdivisions=3).apply_scale((0.5, 0.7, 0.5))
        egg.vertices[:, [0, 2]] *= 1.0 + 0.5 * egg.vertices[:, 1:2]
        return egg
    bar = _refined(trimesh.creation.box((0.3, 1.4, 0.3)), 0.08)  # twister: a bar with a fin near the top
    fin = _refined(trimesh.creation.box((0.3, 0.25, 0.12)).apply_translation((0.28, 0.45, 0.0)), 0.08)
    return trimesh.util.concatenate([bar, fin])


def _refined(mesh: trimesh.Trimesh, max_edge: float) -> trimesh.Trimesh:
    """Split long edges so that the deformations bend the surface smoothly."""
    return trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=max_edge))


def _deform(shape: str, rest: np.ndarray, phase: float) -> np.ndarray:
    """Vertices (V, 3) of the shape at phase in [0, 1]."""
    x, y, z = rest.T
    if shape == "bender":  # rotate about the z axis through the elbow, more towards the hand
        elbow = 0.1
        angle = 0.5 * math.pi * math.sin(math.pi * phase) * np.clip((x - elbow) / 0.3, 0.0, 1.0)
        dx = x - elbow
        return np.stack([elbow + dx * np.cos(angle) - y * np.sin(angle), dx * np.sin(angle) + y * np.cos(angle), z], -1)
    if shape == "squasher":
        height = 1.0 - 0.35 * math.sin(math.pi * phase)
        return np.stack([x / math.sqrt(height), y * height, z / math.sqrt(height)], -1)
    angle = 0.5 * math.pi * phase * y / 0.7  # twister
    return np.stack([x * np.cos(angle) + z * np.sin(angle), y, -x * np.sin(angle) + z * np.cos(angle)], -1)
