"""Coarse-to-fine surface extraction from a signed field (TripoSG decoder or any analytic SDF).

The field is sampled on a dense coarse grid, then refined level by level (×2 each time) only in
the cells near its zero level, so the dense fine grid is never evaluated. Marching cubes
(scikit-image) then runs on the final grid, in which every unqueried sample holds the value of a
coarser sample of the same, surface-free region, so the surface comes out closed. Only the
evaluation is sparse: the value grid is dense, (n+1)^3 float32 (540 MB at 512), because
scikit-image needs a volume.

Grid convention: a level with `n` cells per axis has `n + 1` samples per axis, and sample index
`i` sits at `i * (2 * bounds) / n - bounds`. Vertices are mapped with the same formula, i.e.
divided by the cell count. This intentionally fixes TripoSG's scale quirk (upstream divides
index coordinates by 512 on a 504-cell grid, shrinking meshes by 504/512 and shifting them
towards -bounds).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from skimage import measure

from ..errors import InputError, MeshError

SdfFn = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def extract_mesh(
    sdf_fn: SdfFn,
    *,
    bounds: float = 1.005,
    resolution: int = 512,
    coarse_resolution: int = 64,
    band: float = 0.95,
    chunk_size: int = 262_144,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Extract the zero level of `sdf_fn` inside the cube [-bounds, bounds]^3.

    sdf_fn:     points (N, 3) float32 -> values (N,) or (N, 1), positive INSIDE, negative
                outside (TripoSG's decoder field). Called with at most `chunk_size` points.
    resolution: cells per axis of the final grid (TripoSG octree depth 9 = 512); must be
                `coarse_resolution * 2**k`.
    coarse_resolution: cells per axis of the dense first level.
    band:       (>= 0) a cell is refined when its 8 corner values straddle 0 or one of them has
                |value| <= band (in field units: 0.95 suits TripoSG's order-1 field; use a
                value of about one coarse cell size for a metric SDF); active cells are then
                dilated by one cell.
    device:     where the first level's points are built (default CPU; sdf_fn must accept
                points there); everything after follows the device of sdf_fn's outputs.

    Returns vertices (V, 3) float32 in world units, faces (F, 3) int64 wound
    counter-clockwise seen from outside, and stats = {"queries", "dense_queries", "sdf_calls",
    "levels": [{"resolution", "queries", "refined_cells"}, ...]}.
    """
    resolutions = _level_resolutions(resolution, coarse_resolution)
    samples = torch.arange(resolutions[0] + 1, device=device)
    points = _to_world(torch.cartesian_prod(samples, samples, samples), resolutions[0], bounds)
    grid = _evaluate(sdf_fn, points, chunk_size).reshape((resolutions[0] + 1,) * 3)
    levels = [{"resolution": resolutions[0], "queries": grid.numel(), "refined_cells": 0}]
    for fine in resolutions[1:]:
        refined = _refined_cells(grid, band)
        if len(refined) == 0:
            break  # then the whole grid has one sign: no surface, reported by _marching_cubes
        index = _new_fine_samples(refined, fine)
        values = _evaluate(sdf_fn, _to_world(index, fine, bounds), chunk_size)
        grid = _upsample_nearest(grid)
        grid[index[:, 0], index[:, 1], index[:, 2]] = values
        levels.append({"resolution": fine, "queries": len(index), "refined_cells": len(refined)})

    vertices, faces = _marching_cubes(grid.cpu().numpy(), bounds)
    stats = {
        "queries": sum(level["queries"] for level in levels),
        "dense_queries": (resolution + 1) ** 3,
        "sdf_calls": sum(math.ceil(level["queries"] / chunk_size) for level in levels),
        "levels": levels,
    }
    return vertices, faces, stats


def _level_resolutions(resolution: int, coarse_resolution: int) -> list[int]:
    """[coarse, 2*coarse, ..., resolution]; raises InputError unless resolution = coarse * 2**k."""
    if coarse_resolution < 2 or resolution < coarse_resolution:
        raise InputError(
            f"extraction needs 2 <= coarse_resolution <= resolution, got coarse_resolution="
            f"{coarse_resolution}, resolution={resolution}"
        )
    ratio = resolution // coarse_resolution
    if ratio * coarse_resolution != resolution or ratio & (ratio - 1):
        raise InputError(
            f"resolution {resolution} must be coarse_resolution {coarse_resolution} times a power of "
            "two (e.g. 512 with 64)"
        )
    return [coarse_resolution << k for k in range(ratio.bit_length())]


def _to_world(index: torch.Tensor, cells: int, bounds: float) -> torch.Tensor:
    """Sample indices (N, 3) int64 on a `cells`-cell grid -> world points (N, 3) float32."""
    return index.to(torch.float32) * (2.0 * bounds / cells) - bounds


def _evaluate(sdf_fn: SdfFn, points: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """sdf_fn over points (N, 3) in chunks -> (N,) float32 on sdf_fn's output device."""
    values = torch.cat([sdf_fn(chunk).reshape(-1).to(torch.float32) for chunk in points.split(chunk_size)])
    if values.shape != (len(points),):
        raise ValueError(f"sdf_fn returned {values.shape[0]} values for {len(points)} points")
    if not torch.isfinite(values).all():
        raise MeshError(
            "the shape decoder returned NaN or infinite values; run it in float32 or bfloat16 "
            "instead of float16, or check the latent"
        )
    return values


def _refined_cells(grid: torch.Tensor, band: float) -> torch.Tensor:
    """Cells to split, as indices (M, 3) int64, for a grid of (n+1)^3 sample values.

    A cell is active when its corners straddle 0 or come within `band` of it; the active set
    is dilated by one cell so thin features next to the band are not missed.
    """
    active = _any_in_window(grid <= band, 2) & _any_in_window(grid >= -band, 2)  # (n, n, n) cells
    return _any_in_window(F.pad(active, (1,) * 6), 3).nonzero()


def _any_in_window(mask: torch.Tensor, size: int) -> torch.Tensor:
    """Logical OR over every size^3 window of a 3-D bool mask (stride 1, no padding), one axis
    at a time: (a, b, c) -> (a - size + 1, b - size + 1, c - size + 1)."""
    for dim in range(3):
        length = mask.shape[dim] - size + 1
        mask = functools.reduce(torch.logical_or, [mask.narrow(dim, start, length) for start in range(size)])
    return mask


def _new_fine_samples(cells: torch.Tensor, fine: int) -> torch.Tensor:
    """Fine-grid samples (Q, 3) int64 in the closure of the coarse `cells` (M, 3), without the
    samples that coincide with coarse samples (all-even indices, already known)."""
    side = fine + 1
    mask = torch.zeros(side**3, dtype=torch.bool, device=cells.device)
    first_corner = 2 * ((cells[:, 0] * side + cells[:, 1]) * side + cells[:, 2])
    for i, j, k in itertools.product(range(3), repeat=3):  # one scatter per offset: O(M) memory
        mask.index_fill_(0, first_corner + (i * side + j) * side + k, True)
    mask = mask.reshape(side, side, side)
    mask[::2, ::2, ::2] = False
    return mask.nonzero()


def _upsample_nearest(grid: torch.Tensor) -> torch.Tensor:
    """(n+1)^3 samples -> (2n+1)^3 samples; fine sample f takes coarse sample f // 2, a corner
    of every coarse cell that contains f."""
    side = grid.shape[0]
    fine = torch.empty((2 * side - 1,) * 3, dtype=grid.dtype, device=grid.device)
    for i, j, k in itertools.product(range(2), repeat=3):
        fine[i::2, j::2, k::2] = grid[: side - i, : side - j, : side - k]
    return fine


def _marching_cubes(grid: np.ndarray, bounds: float) -> tuple[np.ndarray, np.ndarray]:
    """Zero level of a (n+1)^3 grid -> vertices (V, 3) float32 in world units, faces (F, 3) int64."""
    if not (grid.min() < 0.0 < grid.max()):
        side = "inside" if grid.min() >= 0.0 else "outside"
        raise MeshError(
            f"the decoded shape has no surface: every sample of the [-{bounds}, {bounds}] cube is {side} "
            "the object; the latent is empty or broken (try another seed or input image)"
        )
    # With larger values inside, "ascent" gives faces that are counter-clockwise seen from outside.
    vertices, faces, _, _ = measure.marching_cubes(grid, level=0.0, gradient_direction="ascent")
    vertices = vertices * (2.0 * bounds / (grid.shape[0] - 1)) - bounds
    return vertices.astype(np.float32), faces.astype(np.int64)
