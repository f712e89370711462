"""`colour_from_video`: the object's colours from its video, as vertex colours or a baked texture.

Every surface point takes the trust-weighted mean of the pixels that show it over all frames (observe.py), so a
part hidden in one frame is coloured from the others; vertices no frame shows are filled from their neighbours
over the mesh (fill.py). The animation must be registered to the video (it is, first, when it has no cameras).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from ..render.camera import DEFAULT_FOV_DEG
from ..render.compose import as_uint8_images
from ..base.normals import vertex_normals
from .delight import Lighting, fit_lighting, remove_light
from .fill import fill_unseen, vertex_graph
from .masks import subject_masks
from .observe import Observations, PointSet, frame_trust, observe
from .register import POOR_IOU, CameraFit, fit_cameras
from .texture import baked_material, bake, check_texture_size, texels_of, unwrap

MODES = ("vertex", "texture")


@dataclass
class ColourReport:
    """mode; seen: fraction of the vertices (of texels for a texture) seen in at least one frame; lighting: the
    light removed from the colours (None: kept as seen); fit: the registration done first, when the animation
    had no cameras; seconds."""

    mode: str
    seen: float
    lighting: Lighting | None = None
    fit: CameraFit | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        light = "light removed" if self.lighting is not None else "colours as seen"
        return f"colours from the video ({self.mode}): {self.seen:.0%} of the surface seen, the rest filled; {light}"


def colour_from_video(anim: AnimatedMesh, frames, masks, *, mode: str = "vertex", texture_size: int = 1024,
                      delight: bool = True, fov_deg: float = DEFAULT_FOV_DEG, poor_iou: float = POOR_IOU,
                      seed: int = 0) -> tuple[AnimatedMesh, ColourReport]:
    """Colour `anim` from the frames (T, H, W, 3|4 uint8 or float in [0, 1]) and subject masks (T, H, W) of its video.

    mode: "vertex" (vertex colours; base-colour textures of the mesh's materials are dropped, their factors set
    to white) or "texture" (new UVs from xatlas and one baked texture_size x texture_size base-colour texture; the
    vertices are split along the new seams, `merge_map` keeps `extend` working).
    delight: divide out the light the video shows (delight.py) so the colours are the albedo a viewer lights.
    fov_deg, poor_iou, seed: for `fit_cameras` when `anim` has no cameras yet. Frames registered below poor_iou
    are not used (unless all are)."""
    started = time.perf_counter()
    if mode not in MODES:
        raise InputError(f"colour mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "texture":
        texture_size = check_texture_size(texture_size)
    frames = as_uint8_images(frames, "video frames")[..., :3]
    if len(frames) != anim.num_frames:
        raise InputError(f"there are {len(frames)} video frames for an animation of {anim.num_frames} frames: give "
                         "the frames of the video the animation was made from, with the same frame selection")
    masks = subject_masks(masks, anim.num_frames, (frames.shape[2], frames.shape[1]))
    fit = None
    if anim.cameras is None:
        anim, fit = fit_cameras(anim, masks, fov_deg=fov_deg, seed=seed, poor_iou=poor_iou)
    elif anim.cameras.image_size != (frames.shape[2], frames.shape[1]):
        raise InputError(f"the animation was registered to {anim.cameras.image_size[0]}x{anim.cameras.image_size[1]} "
                         f"frames, these are {frames.shape[2]}x{frames.shape[1]}: give the same video")
    iou = anim.cameras.iou if anim.cameras.iou is not None else np.ones(anim.num_frames)
    trust = frame_trust(iou, poor_iou)
    subject_colour = frames[masks].mean(axis=0) if masks.any() else None
    target = unwrap(anim, texture_size) if mode == "texture" else anim
    normals = _normals_per_frame(target)
    point_sets = [PointSet(target.num_vertices, lambda t: target.vertices[t], normals)]
    if mode == "texture":
        texels = texels_of(target.uvs, target.faces, texture_size)
        point_sets.append(PointSet(len(texels.face), lambda t: texels.positions(target.vertices[t], target.faces),
                                   lambda t: texels.normals(normals(t), target.faces)))
    seen = observe(target, frames, masks, point_sets, trust)
    graph = vertex_graph(target.faces, target.num_vertices, target.merge_map)
    lighting = fit_lighting(seen[0], graph) if delight else None
    albedo = [remove_light(observed.colours(), observed.normals(), lighting) for observed in seen]
    vertex_colours = fill_unseen(albedo[0], seen[0].seen, graph, subject_colour)
    if mode == "vertex":
        coloured = dataclasses.replace(target, vertex_colors=_uint8(vertex_colours), materials=_untextured(target))
    else:
        texture = bake(texels, albedo[1], seen[1].weights, vertex_colours, target.faces)
        coloured = dataclasses.replace(target, vertex_colors=None, materials=[baked_material(target, texture)])
    report = ColourReport(mode, _fraction(seen[-1]), lighting, fit, time.perf_counter() - started)
    return coloured, report


def _normals_per_frame(anim: AnimatedMesh):
    """normals(t) -> (V, 3) unit vertex normals of frame t, computed once per frame (the last one is kept)."""
    cache: dict[int, np.ndarray] = {}

    def normals(t: int) -> np.ndarray:
        if t not in cache:
            cache.clear()
            cache[t] = vertex_normals(anim.vertices[t], anim.faces)
        return cache[t]

    return normals


def _untextured(anim: AnimatedMesh):
    """The materials with their base-colour textures dropped and their base colours white (keeping alpha), so the
    vertex colours show as they are; None stays None."""
    if not anim.materials:
        return anim.materials
    return [dataclasses.replace(m, base_color_texture=None, base_color=np.array([1.0, 1.0, 1.0, m.base_color[3]]))
            for m in anim.materials]


def _uint8(colours: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(colours), 0, 255).astype(np.uint8)


def _fraction(observations: Observations) -> float:
    return float(observations.seen.mean()) if len(observations.weights) else 0.0
