"""Skinning decomposition: rigid bones, sparse weights and per-frame bone transforms that reproduce an
animation with linear blend skinning (SSDR, Le & Deng 2012), in torch (CPU or GPU).

    fit = decompose(anim.vertices, SkinningConfig(bones="auto", max_error=0.25))
    fit.rig.positions()     # (T, V, 3) what a player shows
    fit.mean_error, fit.max_error   # % of the rest frame's bounding-box diagonal

The loop, read top to bottom: one bone first (the best rigid motion of the whole mesh). For each bone count
B, the vertices are clustered into B rigidly moving parts (`clusters.py`: the previous count's clusters with
the worst one split, settled by k-means rounds), and from those hard clusters weight updates (`weights.py`)
and bone-transform updates (`transforms.py`) alternate until the mean error improves by less than
`tolerance`, keeping the best state seen. That skin is kept for B bones only if it beats the (B - 1)-bone
skin with the new bone added at weight 0 (the same error as B - 1 bones); otherwise the latter is kept, so
the error never grows when bones are added. The loop stops at `bones=N`, or for `bones="auto"` at the first
count whose mean error is at most `max_error` (or at `max_bones`). The result for N bones is the same
whether N was asked for or passed on the way to more. Every step is deterministic; the seed only picks the
seed vertex of each split.

Errors are distances between skinned and given vertices, over all vertices and frames, in percent of the
bounding-box diagonal of the rest frame (frame 0 by default: the anchor mesh of a run).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InputError, MeshError
from .clusters import Clusters
from .rig import SkinRig
from .transforms import BoneMembers, skinned, update_transforms
from .weights import update_weights

AUTO = "auto"
DEFAULT_MAX_ERROR = 0.25
"""Percent of the bounding-box diagonal: the default target of the mean error for `bones="auto"`."""
DEFAULT_WORST_ERROR = 2.0
"""Percent of the bounding-box diagonal: the default bound of the worst vertex's error for `bones="auto"` (a low mean
can hide a whole limb left on the body's bone: a 6-bone quadruped had a 0.09 % mean and a 6.4 % worst vertex)."""


@dataclass(frozen=True)
class SkinningConfig:
    """bones:      a bone count >= 1, or "auto": the fewest bones whose mean error is at most `max_error` and whose
                worst vertex error is at most `worst_error`.
    max_error:  the target mean error of "auto", in % of the rest frame's bounding-box diagonal.
    worst_error: the bound of "auto" on the worst vertex's error (same unit); None: the mean alone decides.
    max_bones:  the most bones "auto" tries (also capped by the vertex count).
    influences: bones per vertex (1..4; glTF and game engines take 4).
    seed:       picks the seed vertex of each new bone; the same seed gives the same result.
    iterations: the most weight + transform updates per bone count.
    tolerance:  go to the next bone count once an update improves the mean error by less than this fraction.
    rest_frame: the frame whose vertices are the rest (bind) pose.
    device:     torch device of the solve (default "cpu"); everything runs in float64.
    """

    bones: int | str = AUTO
    max_error: float = DEFAULT_MAX_ERROR
    worst_error: float | None = DEFAULT_WORST_ERROR
    max_bones: int = 64
    influences: int = 4
    seed: int = 0
    iterations: int = 20
    tolerance: float = 0.05
    rest_frame: int = 0
    device: str | None = None

    def validate(self, num_frames: int, num_vertices: int) -> None:
        if num_frames < 2:
            raise InputError("a skinned export needs an animation of at least 2 frames; this one has 1 "
                             "(export it as a plain mesh: --format glb)")
        if self.bones != AUTO:
            if isinstance(self.bones, bool) or not isinstance(self.bones, (int, np.integer)):
                raise InputError(f"bones must be a whole number or 'auto', got {self.bones!r}")
            if not 1 <= self.bones <= num_vertices:
                raise InputError(f"bones must be between 1 and the mesh's {num_vertices} vertices, got {self.bones}")
        if not (np.isfinite(self.max_error) and self.max_error > 0):
            raise InputError(f"max_error must be a positive percentage of the bounding-box diagonal, got {self.max_error}")
        if self.worst_error is not None and not (np.isfinite(self.worst_error) and self.worst_error > 0):
            raise InputError(f"worst_error must be a positive percentage of the bounding-box diagonal, got "
                             f"{self.worst_error}")
        if self.max_bones < 1:
            raise InputError(f"max_bones must be at least 1, got {self.max_bones}")
        if not 1 <= self.influences <= 4:
            raise InputError(f"influences must be 1 to 4 bones per vertex, got {self.influences}")
        if not 0 <= self.rest_frame < num_frames:
            raise InputError(f"rest frame {self.rest_frame} is outside the animation's {num_frames} frames")


@dataclass
class SkinFit:
    """The result of `decompose`: the rig, its errors (% of the rest frame's bounding-box diagonal) and how
    it was found. target / worst_target: auto's bounds on the mean and the worst vertex error (None: no bound).
    history: (bones, mean error, max error) after each bone count tried."""

    rig: SkinRig
    mean_error: float
    max_error: float
    target: float
    auto: bool
    seconds: float
    device: str
    history: list[tuple[int, float, float]] = field(default_factory=list)
    worst_target: float | None = None

    @property
    def target_met(self) -> bool:
        return _meets(self.mean_error, self.max_error, self.target, self.worst_target)

    def summary(self) -> str:
        """One line: bones, errors, time; says so when `auto` missed the target."""
        bones = f"{self.rig.num_bones} bone" + ("s" if self.rig.num_bones != 1 else "")
        line = (f"{bones}, error mean {self.mean_error:.3f} % / max {self.max_error:.3f} % of the bounding-box "
                f"diagonal, {self.seconds:.1f} s on {self.device}")
        if self.auto and not self.target_met:
            worst = f" and worst {self.worst_target:g} %" if self.worst_target is not None else ""
            line += (f"; MISSED the target error (mean {self.target:g} %{worst}) with the most bones tried: writing "
                     "the best skin found (allow more bones or a larger error target)")
        return line


def decompose(vertices: np.ndarray, config: SkinningConfig = SkinningConfig(), progress=None) -> SkinFit:
    """Fit a linear-blend-skinning rig to (T, V, 3) vertices (see the module docstring).

    progress: optional progress(stage, done, total) called after each bone count (it may raise to cancel).
    """
    started = time.perf_counter()
    vertices = np.asarray(vertices)
    if vertices.ndim != 3 or vertices.shape[-1] != 3 or vertices.shape[1] == 0:
        raise MeshError(f"vertices must have shape (frames, vertices, 3), got {vertices.shape}")
    config.validate(vertices.shape[0], vertices.shape[1])
    device = torch.device(config.device or "cpu")
    frames = torch.as_tensor(vertices, dtype=torch.float64, device=device).transpose(0, 1).contiguous()  # (V, T, 3)
    rest = frames[:, config.rest_frame].contiguous()
    diagonal = float((rest.amax(0) - rest.amin(0)).norm())
    if not diagonal > 0:
        raise MeshError("every vertex of the rest frame is at the same point: nothing to skin")
    auto = config.bones == AUTO
    last_count = min(config.max_bones, rest.shape[0]) if auto else int(config.bones)
    generator = torch.Generator().manual_seed(config.seed)

    clusters = Clusters.single(rest, frames, config.rest_frame)  # one bone: the best rigid motion of the mesh
    best = _refine(clusters.transforms, rest, frames, *clusters.one_hot(config.influences), config)
    history = []
    while True:
        transforms, joints, weights, positions = best
        mean, largest = _errors(positions, frames, diagonal)
        history.append((transforms.shape[1], mean, largest))
        if progress is not None:
            progress("skinning", transforms.shape[1], last_count)
        if transforms.shape[1] >= last_count or (auto and _meets(mean, largest, config.max_error, config.worst_error)):
            break
        clusters = clusters.split(rest, frames, config.rest_frame, generator)
        fresh = _refine(clusters.transforms, rest, frames, *clusters.one_hot(config.influences), config)
        if _mean_distance(fresh[3], frames) < _mean_distance(positions, frames):
            best = fresh
        else:  # the previous skin with the new bone at weight 0: the same error
            best = (torch.cat([transforms, clusters.transforms[:, -1:]], dim=1), joints, weights, positions)

    rig = _rig(transforms, rest, joints, weights, config.rest_frame)
    return SkinFit(rig, mean, largest, config.max_error, auto, time.perf_counter() - started, str(device), history,
                   config.worst_error)


def _meets(mean: float, worst: float, target: float, worst_target: float | None) -> bool:
    """Whether errors (mean, worst vertex) are within auto's targets."""
    return mean <= target and (worst_target is None or worst <= worst_target)


def _refine(transforms, rest, frames, joints, weights, config: SkinningConfig):
    """Alternate weight and transform updates from the given state; returns the best state seen
    (transforms, joints, weights, skinned positions) by mean error (the given state included)."""
    positions = skinned(transforms, rest, BoneMembers(joints, weights, transforms.shape[1]))
    best, best_error = (transforms, joints, weights, positions), _mean_distance(positions, frames)
    for _ in range(config.iterations):
        if best_error == 0.0:
            break
        joints, weights = update_weights(transforms, rest, frames, joints, weights)
        members = BoneMembers(joints, weights, transforms.shape[1])
        transforms, positions = update_transforms(transforms, rest, frames, members, config.rest_frame)
        error = _mean_distance(positions, frames)
        if error >= best_error:
            break
        gain = (best_error - error) / best_error
        best, best_error = (transforms, joints, weights, positions), error
        if gain < config.tolerance:
            break
    return best


def _mean_distance(positions: torch.Tensor, frames: torch.Tensor) -> float:
    return float((positions - frames).norm(dim=-1).mean())


def _errors(positions: torch.Tensor, frames: torch.Tensor, diagonal: float) -> tuple[float, float]:
    """Mean and max vertex distance in % of `diagonal`."""
    distance = (positions - frames).norm(dim=-1)
    return float(distance.mean()) / diagonal * 100.0, float(distance.max()) / diagonal * 100.0


def _rig(transforms: torch.Tensor, rest: torch.Tensor, joints: torch.Tensor, weights: torch.Tensor,
         rest_frame: int) -> SkinRig:
    """The solved state as a `SkinRig`; each bone's pivot is the weighted centre of its vertices (rest pose),
    or the origin for a bone that holds none."""
    bones = transforms.shape[1]
    one_hot = torch.zeros(rest.shape[0], bones, dtype=rest.dtype, device=rest.device)
    one_hot.scatter_add_(1, joints, weights)
    mass = one_hot.sum(0)
    pivots = (one_hot.T @ rest) / mass.clamp_min(1e-12)[:, None]
    as_numpy = lambda x: x.cpu().numpy()  # noqa: E731
    return SkinRig(rest=as_numpy(rest), joints=as_numpy(joints), weights=as_numpy(weights),
                   rotations=as_numpy(transforms[..., :3]), translations=as_numpy(transforms[..., 3]),
                   pivots=as_numpy(pivots), rest_frame=rest_frame)
