"""How good a registration and a colouring are, against a reference whose cameras and colours are known (the
synthetic clips of `actionmesh_core.data`): for tests and `scripts/bench_video_fit.py`."""

from __future__ import annotations

import numpy as np

from ..animated_mesh import AnimatedMesh
from ..render.preview import mesh_appearance
from ..render.rasterizer import render_cameras
from ..video_cameras import VideoCameras
from .observe import PointSet, observe


def rotation_errors(estimated: VideoCameras, true: VideoCameras) -> np.ndarray:
    """(T,) angle in degrees between the estimated and the true camera rotation of each frame."""
    relative = estimated.world_to_camera[:, :3, :3] @ np.swapaxes(true.world_to_camera[:, :3, :3], 1, 2)
    cosine = (np.trace(relative, axis1=1, axis2=2) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def flat_renders(anim: AnimatedMesh) -> np.ndarray:
    """(T, H, W, 4) uint8: every frame of `anim` through its own camera at the video's size, colours unlit."""
    cameras = anim.cameras
    projection = cameras.projection(None, *cameras.clip_planes(anim.vertices))
    return render_cameras(anim.vertices, anim.faces, cameras.world_to_camera, projection, width=cameras.image_size[0],
                          height=cameras.image_size[1], mode="flat", samples=0, **mesh_appearance(anim))


def pixel_colour_error(anim: AnimatedMesh, reference: AnimatedMesh, frames: np.ndarray,
                       masks: np.ndarray) -> dict[str, float]:
    """Mean absolute RGB error (0-255) over the pixels where both the coloured, registered `anim` and the reference
    (true cameras, true colours) show their surface, for `anim` and for the baseline that paints the mean subject
    colour of the video (frames (T, H, W, 3) uint8 inside masks (T, H, W) bool) everywhere; and the fraction of the
    reference's pixels that `anim` covers."""
    ours, truth = flat_renders(anim), flat_renders(reference)
    both = (ours[..., 3] > 127) & (truth[..., 3] > 127)
    true_rgb = truth[..., :3][both].astype(np.float64)
    mean_colour = frames[masks].mean(axis=0)
    return {"error": float(np.abs(ours[..., :3][both] - true_rgb).mean()),
            "baseline": float(np.abs(mean_colour - true_rgb).mean()),
            "covered": float(both.sum() / max((truth[..., 3] > 127).sum(), 1))}


def vertex_colour_error(anim: AnimatedMesh, reference: AnimatedMesh, frames: np.ndarray,
                        masks: np.ndarray) -> dict[str, float]:
    """Mean absolute RGB error (0-255) of `anim`'s vertex colours against the reference's (the same vertices) over
    the vertices some frame shows under the true cameras, for `anim` and for the mean-subject-colour baseline."""
    from ..base.normals import vertex_normals

    points = PointSet(reference.num_vertices, lambda t: reference.vertices[t],
                      lambda t: vertex_normals(reference.vertices[t], reference.faces))
    (seen,) = observe(reference, frames, masks, [points], np.ones(reference.num_frames))
    visible = seen.seen
    true_rgb = reference.vertex_colors[visible, :3].astype(np.float64)
    mean_colour = frames[masks].mean(axis=0)
    return {"error": float(np.abs(anim.vertex_colors[visible, :3] - true_rgb).mean()),
            "baseline": float(np.abs(mean_colour - true_rgb).mean()), "visible": float(visible.mean())}
