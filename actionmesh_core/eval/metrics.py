"""CD-3D, CD-4D and CD-M of one sample (ActionBench protocol, spec §10)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

from ..animated_mesh import AnimatedMesh
from ..errors import InputError, MeshError
from .chamfer import chamfer_score, motion_chamfer
from .icp import fit_similarity
from .point_sampling import sample_frames, sample_synchronised, subset_indices

DEFAULT_SEED = 44
"""The official evaluator's default seed: surface samples use seed + frame, ICP subsets RandomState(seed)."""
CHAMFER_SEED = 44
"""Kept for parity: the Chamfer queries are always RandomState(44) (predicted) and RandomState(45) (GT),
whatever the run's seed (the official evaluator leaves them at their default)."""


@dataclass(frozen=True)
class Protocol:
    """How much work the metrics do. The defaults are the official evaluator's."""

    surface_points: int = 100_000  # sampled on each predicted frame
    icp_points: int = 10_000  # per cloud, in each ICP fit
    chamfer_points: int = 10_000  # queries per direction in each Chamfer score
    icp_steps: int = 200
    icp_lr: float = 0.01


OFFICIAL = Protocol()
FAST = Protocol(icp_points=2_000, icp_steps=100)
"""About 10x less ICP work; numbers close to, but not the same as, OFFICIAL's. Not for tables."""

Prediction = AnimatedMesh | Sequence[trimesh.Trimesh]


def evaluate_sample(gt_points: np.ndarray, pred: Prediction, *, seed: int = DEFAULT_SEED,
                    protocol: Protocol = OFFICIAL, device: str | torch.device | None = None,
                    per_frame_fits: bool = True) -> dict:
    """Score a prediction against tracked GT points.

    gt_points: (T, N, 3) or (T, N, 6) (xyz + normal; only xyz is used). pred: an `AnimatedMesh`,
    or per-frame meshes (CD-M needs them to share one topology; otherwise it is NaN), one per GT frame (the
    official evaluator silently scores the first T of a longer prediction; here a count mismatch is an error).
    Returns cd_3d, cd_4d, cd_m (floats) and cd_3d_frames, cd_4d_frames (T floats).
    per_frame_fits: see `score_points`.
    """
    gt = np.asarray(gt_points)
    if gt.dtype.kind not in "iuf":
        raise InputError(f"GT points must be real numbers, got {gt.dtype}")
    if gt.ndim != 3 or gt.shape[-1] not in (3, 6) or gt.shape[0] == 0 or gt.shape[1] == 0:
        raise InputError(f"GT points must have shape (frames, points, 3 or 6), got {gt.shape}")
    if not np.isfinite(gt).all():
        raise InputError("GT points contain NaN or infinite values")
    gt = gt.astype(np.float32)
    frames, tracked = _first_frames(pred, len(gt))
    pred_frames = sample_frames(frames, protocol.surface_points, seed)
    pred_tracked = None
    if tracked is not None:
        pred_tracked = sample_synchronised(tracked.vertices, tracked.faces, protocol.surface_points, seed)[0]
    return score_points(gt[..., :3], pred_frames, pred_tracked, seed=seed, protocol=protocol, device=device,
                        per_frame_fits=per_frame_fits)


def score_points(gt: np.ndarray, pred_frames: np.ndarray, pred_tracked: np.ndarray | None = None, *,
                 seed: int = DEFAULT_SEED, protocol: Protocol = OFFICIAL,
                 device: str | torch.device | None = None, per_frame_fits: bool = True) -> dict:
    """The metrics on point sets: gt (T, N, 3) tracked GT points, pred_frames (T, P, 3) independent
    samples of each predicted frame, pred_tracked (T, P', 3) tracked predicted points or None.

    CD-3D fits one ICP per frame; CD-4D and CD-M use the frame-0 fit for every frame (the same fit
    as CD-3D's frame 0: its inputs are identical). per_frame_fits=False fits frame 0 only (1/T of the
    ICP work) and leaves CD-3D NaN.
    """
    device = _device(device)
    fitted = slice(None) if per_frame_fits else slice(0, 1)
    gt_icp = gt[fitted, subset_indices(gt.shape[1], protocol.icp_points, seed)]
    pred_icp = pred_frames[fitted, subset_indices(pred_frames.shape[1], protocol.icp_points, seed)]
    fits = fit_similarity(torch.from_numpy(pred_icp).to(device), torch.from_numpy(gt_icp).to(device),
                          steps=protocol.icp_steps, lr=protocol.icp_lr)
    frames = torch.from_numpy(pred_frames).to(device)
    global_fit = fits[:1]
    sequence = global_fit(frames).cpu().numpy()
    gt_trees = [cKDTree(points) for points in gt]

    def mean_chamfer(aligned: np.ndarray) -> list[float]:
        return [chamfer_score(p, g, protocol.chamfer_points, CHAMFER_SEED, tree)
                for p, g, tree in zip(aligned, gt, gt_trees)]

    cd_4d_frames = mean_chamfer(sequence)
    cd_3d_frames = mean_chamfer(fits(frames).cpu().numpy()) if per_frame_fits else [math.nan] * len(gt)
    cd_m = math.nan
    if pred_tracked is not None:
        cd_m = motion_chamfer(global_fit(torch.from_numpy(pred_tracked).to(device)).cpu().numpy(), gt)
    return {
        "cd_3d": float(np.mean(cd_3d_frames)),
        "cd_4d": float(np.mean(cd_4d_frames)),
        "cd_m": cd_m,
        "cd_3d_frames": cd_3d_frames,
        "cd_4d_frames": cd_4d_frames,
    }


def _device(name: str | torch.device | None) -> torch.device:
    device = torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda was asked for, but torch sees no CUDA device: use --device cpu")
    return device


def _first_frames(pred: Prediction, num_frames: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], AnimatedMesh | None]:
    """The first num_frames predicted frames as (vertices, faces) and, when they share one
    topology, as an animation."""
    available = pred.num_frames if isinstance(pred, AnimatedMesh) else len(pred)
    if available != num_frames:
        raise MeshError(f"the prediction has {available} frames but the GT has {num_frames}: a prediction must have "
                        "one mesh per GT frame (predict the same frames, or check --mesh-pattern)")
    if isinstance(pred, AnimatedMesh):
        return [(v, pred.faces) for v in pred.vertices[:num_frames]], AnimatedMesh(pred.vertices[:num_frames], pred.faces)
    frames = [(np.asarray(m.vertices, dtype=np.float32), np.asarray(m.faces, dtype=np.int64)) for m in pred[:num_frames]]
    broken = [k for k, (vertices, _) in enumerate(frames) if not np.isfinite(vertices).all()]
    if broken:
        raise MeshError(f"predicted frame(s) {broken[:10]} have NaN or infinite vertices")
    v0, f0 = frames[0]
    if all(v.shape == v0.shape and np.array_equal(f, f0) for v, f in frames):
        return frames, AnimatedMesh(np.stack([v for v, _ in frames]), f0)
    return frames, None
