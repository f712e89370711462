"""Removing the light from the colours seen: the video shows albedo x shading, and a coloured mesh must carry the
albedo (a viewer lights it again). The shading is modelled as a matte surface under ambient light plus one
distant light, a + max(0, n . l) (4 numbers, in the animation's coordinates; a camera that moves around a lit
scene sees the same light on the same surface), fitted so that the albedo it leaves is as piecewise constant
over the mesh as possible: neighbouring vertices differ in colour only at the borders between materials (a
robust Huber penalty on log-luminance differences across edges). The albedo is the colour the surface shows
where it faces the light, so shading is divided out relative to the brightest direction, a + |l|.

When the model explains the colours no better than plain ambient light (flat light, or a mesh whose normals are
noise), nothing is removed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import torch

from .observe import Observations
from .refine import optimising

STEPS = 300
HUBER = 0.03
"""Log-luminance difference between neighbours above which it counts as a border (linear, not quadratic)."""
MIN_GAIN = 0.01
"""The light is removed only when it lowers the neighbour penalty by at least this fraction."""
MIN_FACTOR = 0.25
"""Colours are never brightened more than 1 / MIN_FACTOR times (deep shadow stays dark rather than noisy)."""


@dataclass(frozen=True)
class Lighting:
    """ambient a > 0 and light l (3,) of the shading a + max(0, n . l)."""

    ambient: float
    light: np.ndarray

    def factor(self, normals: np.ndarray) -> np.ndarray:
        """(N,) shading of unit normals (N, 3) relative to the brightest direction, in [MIN_FACTOR, 1]."""
        shading = self.ambient + np.maximum(normals @ self.light, 0.0)
        return np.clip(shading / (self.ambient + np.linalg.norm(self.light)), MIN_FACTOR, 1.0)


@optimising()
def fit_lighting(seen: Observations, graph: scipy.sparse.csr_matrix) -> Lighting | None:
    """The lighting of the colours seen at the vertices (observations of the vertices, graph (V, V) adjacency),
    or None when it does not explain them better than ambient light."""
    visible = seen.seen
    upper = scipy.sparse.triu(graph, k=1).tocoo()
    keep = visible[upper.row] & visible[upper.col]
    i, j = upper.row[keep], upper.col[keep]
    if len(i) < 16:
        return None
    log_luminance = np.log(seen.colours().mean(axis=1) + 1.0)
    normals = torch.from_numpy(seen.normals())
    difference = torch.from_numpy(log_luminance[i] - log_luminance[j])
    weight = torch.from_numpy(np.minimum(seen.weights[i], seen.weights[j]))
    rows, cols = torch.from_numpy(i), torch.from_numpy(j)

    def energy(ambient: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
        shading = (ambient + (normals @ light).clamp(min=0.0)).log()
        residual = difference - (shading[rows] - shading[cols])
        loss = torch.nn.functional.huber_loss(residual, torch.zeros_like(residual), delta=HUBER, reduction="none")
        return (weight * loss).sum() / weight.sum()

    # start: the light along the direction in which the seen luminance grows (least squares on the normals)
    design = np.concatenate([np.ones((visible.sum(), 1)), seen.normals()[visible]], axis=1)
    slope = np.linalg.lstsq(design, log_luminance[visible], rcond=None)[0][1:]
    light = torch.tensor(slope / max(np.linalg.norm(slope), 1e-9) * 0.5, requires_grad=True)
    log_ambient = torch.zeros((), dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        flat = float(energy(torch.ones((), dtype=torch.float64), torch.zeros(3, dtype=torch.float64)))
    optimizer = torch.optim.Adam([light, log_ambient], lr=0.02)
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = energy(log_ambient.exp(), light)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        lit = float(energy(log_ambient.exp(), light))
    if not lit < (1.0 - MIN_GAIN) * flat:
        return None
    return Lighting(float(log_ambient.detach().exp()), light.detach().numpy().copy())


def remove_light(colours: np.ndarray, normals: np.ndarray, lighting: Lighting | None) -> np.ndarray:
    """colours (N, 3) seen on surface with unit normals (N, 3) -> albedo (N, 3); a colour that would pass 255 is
    scaled down as a whole (keeping its hue) rather than clipped per channel (which would turn it white)."""
    if lighting is None:
        return colours
    albedo = colours / lighting.factor(normals)[:, None]
    return albedo * np.minimum(1.0, 255.0 / np.maximum(albedo.max(axis=1, keepdims=True), 1e-9))
