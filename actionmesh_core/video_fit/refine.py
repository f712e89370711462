"""Camera refinement in torch: Adam on every frame's pose at once against the silhouette loss, with a temporal
term that keeps consecutive cameras together unless the masks say otherwise.

Pose of frame t: rotation exp(omega_t) @ base_t (axis-angle on top of a start rotation), translation
(x_t * d_t, y_t * d_t, -d_t) with d_t = exp(log_depth_t): the object's centre seen in direction (x_t, y_t) at
distance d_t. Frames are processed in chunks (gradients accumulate), so memory stays bounded for any clip length.

The temporal term is in the same unit as the data term: the mean distance in grid cells between frame t's
points projected by camera t and by camera t - 1. It is a plain mean of distances (an L1 penalty), so a real
jump of the camera costs in proportion and is allowed where the masks need it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .silhouette import SilhouetteTargets, nearest_among, nearest_candidates, silhouette_loss

FRAMES_PER_CHUNK = 32
CANDIDATES, REFRESH = 16, 8
"""Every REFRESH steps, a k-d tree finds the CANDIDATES projected points nearest to each subject sample; in
between, the nearest is picked among those (the points move little in a few steps)."""


@dataclass
class Lens:
    """The pinhole on the fitting grid: focal length and principal point (x, y) in grid cells."""

    focal: float
    principal: tuple[float, float]

    def project(self, camera_points: torch.Tensor) -> torch.Tensor:
        """(..., N, 3) camera-space points -> (..., N, 2) grid coordinates (depth clamped in front of the lens)."""
        depth = (-camera_points[..., 2:]).clamp(min=1e-3)
        xy = camera_points[..., :2] / depth * torch.tensor([1.0, -1.0], dtype=camera_points.dtype)
        return self.focal * xy + torch.tensor(self.principal, dtype=camera_points.dtype)


def axis_angle(omega: torch.Tensor) -> torch.Tensor:
    """(..., 3) rotation vectors -> (..., 3, 3) rotation matrices (Rodrigues; smooth at zero)."""
    angle = omega.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    x, y, z = (omega / angle).unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*omega.shape[:-1], 3, 3)
    sin, cos = torch.sin(angle)[..., None], torch.cos(angle)[..., None]
    return torch.eye(3, dtype=omega.dtype) + sin * k + (1.0 - cos) * (k @ k)


class Poses:
    """The free parameters of every frame's camera (see the module docstring)."""

    def __init__(self, rotations: np.ndarray, translations: np.ndarray, shared_rotation: bool = False):
        self.base = torch.as_tensor(rotations, dtype=torch.float32)
        depth = np.maximum(-translations[:, 2], 1e-3)
        self.omega = torch.zeros((1 if shared_rotation else len(rotations), 3), requires_grad=True)
        self.direction = torch.tensor(translations[:, :2] / depth[:, None], dtype=torch.float32, requires_grad=True)
        self.log_depth = torch.tensor(np.log(depth), dtype=torch.float32, requires_grad=True)

    def parameters(self) -> list[dict]:
        return [{"params": [self.omega], "lr": 0.02}, {"params": [self.direction], "lr": 0.004},
                {"params": [self.log_depth], "lr": 0.01}]

    def matrices(self, frames: slice | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotations (n, 3, 3) and translations (n, 3) of the selected frames."""
        omega = self.omega if len(self.omega) == 1 else self.omega[frames]
        rotation = axis_angle(omega) @ self.base[frames]
        depth = self.log_depth[frames].exp()[:, None]
        return rotation, torch.cat([self.direction[frames] * depth, -depth], dim=-1)

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            rotation, translation = self.matrices(slice(None))
        return rotation.double().numpy(), translation.double().numpy()


@contextlib.contextmanager
def optimising() -> Iterator[None]:
    """Around a small torch optimisation: autograd on, whatever the caller runs under (ComfyUI runs every node
    inside torch.inference_mode, where backward() fails), and one torch thread (restored after): these small
    tensors gain nothing from more, and on busy cores threads that wait on each other make every small op crawl."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        torch.set_num_threads(threads)


def refine(points: np.ndarray, targets: SilhouetteTargets, lens: Lens, rotations: np.ndarray,
           translations: np.ndarray, usable: np.ndarray, *, iterations: int, smooth: float,
           shared_rotation: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Refine every frame's pose against its silhouette targets.

    points: (T, N, 3) normalised surface points per frame; rotations (T, 3, 3), translations (T, 3): the start;
    usable: (T,) bool frames with a subject (the others follow their neighbours through the temporal term only);
    smooth: weight of the temporal term; shared_rotation: one rotation correction for all frames.
    Returns the refined rotations (T, 3, 3) and translations (T, 3).
    """
    points_t = torch.as_tensor(points, dtype=torch.float32)
    weight = torch.as_tensor(usable, dtype=torch.float32)
    poses = Poses(rotations, translations, shared_rotation)
    optimizer = torch.optim.Adam(poses.parameters())
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 0.5 * (1.0 + math.cos(math.pi * i / iterations)))
    count = len(points)
    candidates: dict[int, torch.Tensor] = {}
    for step in range(iterations):
        optimizer.zero_grad()
        for start in range(0, count, FRAMES_PER_CHUNK):
            frames = slice(start, min(start + FRAMES_PER_CHUNK, count))
            rotation, translation = poses.matrices(frames)
            camera = points_t[frames] @ rotation.transpose(1, 2) + translation[:, None]
            pixels = lens.project(camera)
            chunk_targets = targets.frames(frames)
            if step % REFRESH == 0:
                candidates[start] = nearest_candidates(chunk_targets.samples, pixels.detach(), CANDIDATES)
            nearest = nearest_among(chunk_targets.samples, pixels.detach(), candidates[start])
            data = silhouette_loss(pixels, chunk_targets, nearest)
            loss = (data * weight[frames]).sum() / weight.sum().clamp(min=1.0)
            if smooth and count > 1:
                previous = torch.arange(max(start, 1), frames.stop) - 1  # pairs (t - 1, t) ending in this chunk
                before_r, before_t = poses.matrices(previous)
                moved = lens.project(points_t[previous + 1] @ before_r.transpose(1, 2) + before_t[:, None])
                jump = (moved - pixels[previous + 1 - start]).norm(dim=-1).mean(-1)
                loss = loss + smooth * jump.sum() / (count - 1)
            loss.backward()
        optimizer.step()
        schedule.step()
    return poses.numpy()
