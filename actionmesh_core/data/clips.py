"""Synthetic animated clips: a random articulated object, its motion, a camera, and everything the
models train and are evaluated on.

    clip = make_clip(seed)                    # deterministic for a seed
    frames = clip.render()                    # (T, 256, 256, 4) uint8 RGBA, transparent background
    surface = clip.surface(2048, seed=0)      # tracked surface samples
    points = clip.points(surface)             # (T, 2048, 6) xyz + normal, index j = same point every frame
    clip.sdf(frame, xyz)                      # exact field of the union, positive inside
    vertices, faces = clip.mesh(frame)        # watertight mesh (marching cubes of the field)

Coordinates are the model frame: +Y up, the whole clip scaled into [-NORMALIZED_EXTENT, NORMALIZED_EXTENT]^3
with one translation and one scale (the ActionBench convention: the animation is normalised as a whole).
Seeds below HELD_OUT_SEED train; seeds from HELD_OUT_SEED on are the held-out split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from ..geometry import sample_surface
from ..video_cameras import VideoCameras
from .layouts import CATEGORIES
from .rig import Pose, Rig

FRAMES = 16
RENDER_SIZE = 256
NORMALIZED_EXTENT = 0.9
HELD_OUT_SEED = 1_000_000
SPLITS = ("train", "heldout")


def split_seeds(split: str, count: int, start: int = 0) -> list[int]:
    """The seeds of a split: train 0, 1, ...; held-out HELD_OUT_SEED, HELD_OUT_SEED + 1, ..."""
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    offset = HELD_OUT_SEED if split == "heldout" else 0
    return list(range(offset + start, offset + start + count))


@dataclass(frozen=True)
class Camera:
    """An orbit camera of `render_rgba`: degrees and model-frame units."""

    azimuth: float
    elevation: float
    distance: float = 3.0


@dataclass
class TrackedSurface:
    """Surface samples fixed on the parts: local (M, 3) and normals (M, 3) in their part's bone frame, part (M,)."""

    local: np.ndarray
    normals: np.ndarray
    part: np.ndarray


@dataclass
class SyntheticClip:
    """One animated object seen by one camera over `frames` frames (see the module docstring)."""

    seed: int
    category: str
    rig: Rig
    pose: Pose
    camera: Camera

    @property
    def num_frames(self) -> int:
        return len(self.pose.rotations)

    def sdf(self, frame: int, points: np.ndarray) -> np.ndarray:
        """points: (M, 3) model frame -> (M,) float32 field of the object at `frame`, positive inside."""
        return self.rig.sdf(self.pose, frame, np.asarray(points, dtype=np.float64)).astype(np.float32)

    def surface(self, count: int, seed: int = 0, margin: float = 0.004) -> TrackedSurface:
        """`count` points spread over the object's surface (area-weighted), each fixed on one part and on the
        outside of every other part at every frame, so that it stays on the surface of the union."""
        rng = np.random.default_rng(seed)
        pieces = [part.primitive.mesh() for part in self.rig.parts]
        areas = np.array([_area(v, f) for v, f in pieces])
        chosen_local, chosen_normals, chosen_part = [], [], []
        needed = count
        while needed > 0:
            draw = int(needed * 1.6) + 64
            part = rng.choice(len(pieces), size=draw, p=areas / areas.sum())
            local, normals = np.zeros((draw, 3)), np.zeros((draw, 3))
            exposed = np.ones(draw, bool)
            for p in np.unique(part):
                rows = np.flatnonzero(part == p)
                near, _ = sample_surface(*pieces[p], len(rows), rng)
                local[rows], normals[rows] = self.rig.parts[p].primitive.project(near)
                for frame in range(self.num_frames):
                    world = self.pose.to_world(local[rows], part[rows], frame)
                    exposed[rows] &= self.rig.sdf(self.pose, frame, world, skip=p) < -margin
            keep = np.flatnonzero(exposed)[:needed]
            chosen_local.append(local[keep])
            chosen_normals.append(normals[keep])
            chosen_part.append(part[keep])
            needed -= len(keep)
        return TrackedSurface(np.concatenate(chosen_local), np.concatenate(chosen_normals),
                              np.concatenate(chosen_part))

    def points(self, surface: TrackedSurface) -> np.ndarray:
        """The tracked samples at every frame: (T, M, 6) float32 [xyz, unit normal]."""
        frames = [np.concatenate([self.pose.to_world(surface.local, surface.part, k),
                                  self.pose.normals_to_world(surface.normals, surface.part, k)], axis=1)
                  for k in range(self.num_frames)]
        return np.stack(frames).astype(np.float32)

    def render(self, size: int = RENDER_SIZE) -> np.ndarray:
        """(T, size, size, 4) uint8 RGBA frames, transparent background, shaded parts in their colours."""
        from ..render import render_rgba

        vertices, faces, colors = self.rig.meshes(self.pose)
        return render_rgba(vertices, faces, size=size, azimuth_deg=self.camera.azimuth,
                           elevation_deg=self.camera.elevation, distance=self.camera.distance,
                           vertex_colors=colors)

    def true_cameras(self, size: int = RENDER_SIZE) -> VideoCameras:
        """The orbit camera of `render(size)` at every frame, as the video cameras of those frames (the model
        frame is the animation's frame)."""
        from ..render.camera import DEFAULT_FOV_DEG, orbit_view

        view = orbit_view(self.camera.azimuth, self.camera.elevation, self.camera.distance).astype(np.float64)
        return VideoCameras(np.repeat(view[None], self.num_frames, axis=0), np.radians(DEFAULT_FOV_DEG), (size, size))

    def animated_mesh(self, max_edge: float = 0.05, size: int = RENDER_SIZE) -> AnimatedMesh:
        """The exact surfaces the frames show: the parts' meshes at every frame (overlapping where parts meet), with
        each part's colour as vertex colours and `true_cameras(size)`. Faces with an edge longer than `max_edge`
        (at frame 0) are split, the same way in every frame, so that vertex colours can follow every face."""
        vertices, faces, colors = self.rig.meshes(self.pose)
        stacked = vertices.transpose(1, 0, 2).reshape(vertices.shape[1], -1)  # (V, T*3): split every frame alike
        while True:
            corners = stacked[faces][..., :3]
            longest = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=-1).max(axis=1)
            split = np.flatnonzero(longest > max_edge)
            if not len(split):
                break
            count = len(stacked)
            stacked, faces = trimesh.remesh.subdivide(stacked, faces, face_index=split)
            colors = np.concatenate([colors, _midpoint_colors(faces, count, colors, len(stacked))])
        frames = stacked.reshape(len(stacked), -1, 3).transpose(1, 0, 2)
        return AnimatedMesh(frames, faces, vertex_colors=colors, cameras=self.true_cameras(size),
                            name=f"clip_{self.seed}")

    def mesh(self, frame: int, resolution: int = 128) -> tuple[np.ndarray, np.ndarray]:
        """A watertight mesh of the object at `frame`: marching cubes of the exact field on a grid of
        `resolution` cells per axis over [-1, 1]^3. Returns vertices (V, 3) float32, faces (F, 3) int64."""
        import torch

        from ..geometry import extract_mesh

        def field(points: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(self.sdf(frame, points.cpu().numpy()))

        coarse = min(32, resolution)
        vertices, faces, _ = extract_mesh(field, bounds=1.0, resolution=resolution, coarse_resolution=coarse,
                                          band=2.0 * 2.0 / coarse)
        return vertices, faces

    def watertight_animation(self, resolution: int = 128, face_count: int | None = None, softness: float = 0.02,
                             fps: float = 8.0) -> AnimatedMesh:
        """The clip as an `AnimatedMesh` with one fixed, watertight topology, as the pipeline makes them: the
        frame-0 mesh (`mesh(0, resolution)`, decimated to about `face_count` faces when given) carried through
        the clip by the parts, blended where they meet (`Rig.blend_weights` with `softness`, in model units:
        smooth joints), and coloured by its parts. Stretching parts make the motion non-rigid."""
        from ..geometry.postprocess import decimate

        vertices, faces = self.mesh(0, resolution)
        if face_count is not None:
            mesh = decimate(trimesh.Trimesh(vertices, faces, process=False), face_count)
            vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
        weights = self.rig.blend_weights(self.pose, 0, vertices, softness)
        colors = weights @ np.array([part.color for part in self.rig.parts], np.float64)
        return AnimatedMesh(self.rig.deform(self.pose, 0, vertices, weights), faces, fps=fps,
                            vertex_colors=np.round(colors).astype(np.uint8), name=f"{self.category}_{self.seed}")


def category_of(seed: int) -> str:
    """The category of a seed's clip: the seeds cycle through CATEGORIES."""
    return list(CATEGORIES)[seed % len(CATEGORIES)]


def make_clip(seed: int, frames: int = FRAMES, category: str | None = None) -> SyntheticClip:
    """The clip of a seed: its category (`category_of(seed)` unless given), rig, motion and camera."""
    names = list(CATEGORIES)
    category = category or category_of(seed)
    if category not in CATEGORIES:
        raise InputError(f"unknown category {category!r}; use one of {', '.join(names)}")
    rng = np.random.default_rng([seed, names.index(category)])
    rig = CATEGORIES[category](rng)
    pose = rig.pose(np.linspace(0.0, 1.0, frames))
    vertices, _, _ = rig.meshes(pose)
    low, high = vertices.reshape(-1, 3).min(axis=0), vertices.reshape(-1, 3).max(axis=0)
    factor = NORMALIZED_EXTENT / float((high - low).max() / 2.0)
    camera = Camera(azimuth=float(rng.uniform(15.0, 45.0)), elevation=float(rng.uniform(10.0, 30.0)))
    return SyntheticClip(seed, category, rig, pose.normalized((low + high) / 2.0, factor), camera)


def _midpoint_colors(faces: np.ndarray, old_count: int, colors: np.ndarray, new_count: int) -> np.ndarray:
    """Colours of the vertices old_count..new_count added by a subdivision: each takes the colour of an old vertex of
    a face it belongs to (edges never join two parts, so every old vertex of such a face has the part's colour)."""
    added = np.zeros((new_count - old_count, colors.shape[1]), colors.dtype)
    for corner in range(3):
        new = faces[:, corner] >= old_count
        for other in ((corner + 1) % 3, (corner + 2) % 3):
            pick = new & (faces[:, other] < old_count)
            added[faces[pick, corner] - old_count] = colors[faces[pick, other]]
    return added


def _area(vertices: np.ndarray, faces: np.ndarray) -> float:
    return float(trimesh.Trimesh(vertices, faces, process=False).area)
