"""`fit_cameras`: the camera of every frame that puts an animated mesh on the subject of its video.

    1. masks -> the frames with a subject, a square window around it, a 128 x 128 grid of the window
    2. start: 48 upright orbit rotations placed on the subject's box, scored by exact IoU on 3 key frames;
       the 3 best distinct ones refined on the key frames (one shared rotation), the best kept
    3. every frame refined together from that start, consecutive cameras held together (refine.py)
    4. each frame may then leave its neighbours (refined alone) where that raises its exact IoU
    5. frames without a subject take their neighbours' cameras; the exact IoU of every frame is measured
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from ..render.camera import DEFAULT_FOV_DEG
from ..video_cameras import VideoCameras, rigid
from .candidates import boxes_of, candidate_rotations, distinct_best, place
from .masks import empty_frames, subject_masks, subject_window, window_coverage
from .refine import Lens, optimising, refine
from .scoring import iou, silhouettes
from .silhouette import silhouette_targets
from .smoothing import fill_from_neighbours
from .surface import normalising_box, sample_surface_points

log = logging.getLogger(__name__)

POINTS, SAMPLES = 2048, 512
"""Surface points projected by the differentiable loss; subject cells it compares them with, per frame."""
GRID, SCORE_GRID, MAX_IOU_GRID = 128, 64, 384
"""Cells across the fitting window: for refinement, for scoring start rotations, and (at most) for the IoU."""
KEY_FRAMES, STARTS = 3, 4
START_ITERATIONS, ITERATIONS, ALONE_ITERATIONS = 40, 60, 20
SMOOTH = 0.5
"""Weight of the temporal term (refine.py) against the silhouette loss."""
ALONE_GAIN = 0.01
"""A frame keeps its own camera (step 4) when that raises its IoU by more than this."""
POOR_IOU = 0.5
"""Frames registered below this IoU are named in a warning."""


@dataclass
class CameraFit:
    """What registration found: iou (T,) per frame (NaN: no subject), the frames without a subject
    (`empty`), the frames below POOR_IOU (`poor`), and the time it took."""

    iou: np.ndarray
    empty: list[int] = field(default_factory=list)
    poor: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def mean_iou(self) -> float:
        return float(np.nanmean(self.iou))

    @property
    def worst_frame(self) -> int:
        return int(np.nanargmin(self.iou))

    def summary(self) -> str:
        return iou_summary(self.iou)


def iou_summary(iou: np.ndarray) -> str:
    """One line with the mean and the worst per-frame silhouette IoU (NaN: frames without a subject)."""
    if np.isnan(iou).all():
        return "silhouette IoU: no frame has a subject"
    worst = int(np.nanargmin(iou))
    return f"silhouette IoU of the registered mesh: mean {np.nanmean(iou):.3f}, worst {iou[worst]:.3f} (frame {worst})"


@optimising()
def fit_cameras(anim: AnimatedMesh, masks, *, fov_deg: float = DEFAULT_FOV_DEG, seed: int = 0,
                poor_iou: float = POOR_IOU) -> tuple[AnimatedMesh, CameraFit]:
    """Register every frame of `anim` to the subject masks (T, H, W) of its video (uint8 above 127, bool, or float
    above 0.5 is the subject; the video's own pixels, not the pipeline's crop).

    fov_deg: the vertical field of view of the video camera (unknown from silhouettes; the default is the
    preview camera's). Returns `anim` with `cameras` (poses, field of view, frame size, per-frame IoU) and the
    report. Frames without a subject keep their neighbours' cameras and frames below `poor_iou` are named in
    warnings; neither is an error. Deterministic for a seed."""
    started = time.perf_counter()
    if not 1.0 <= fov_deg <= 170.0:
        raise InputError(f"the camera's field of view must lie in [1, 170] degrees, got {fov_deg}")
    masks = subject_masks(masks, anim.num_frames)
    empty = empty_frames(masks)
    if empty.all():
        raise InputError("every subject mask is empty: there is nothing to register the mesh to")
    image_size, yfov = (masks.shape[2], masks.shape[1]), math.radians(fov_deg)
    window = subject_window(masks, ~empty)
    coverage = window_coverage(masks, window, GRID)
    targets = silhouette_targets(coverage, seed, SAMPLES)
    focal = 0.5 * image_size[1] / math.tan(0.5 * yfov) * GRID / window.side
    lens = Lens(focal, tuple(window.to_grid(np.array([image_size[0] / 2, image_size[1] / 2]), GRID)))
    centre, half_extent = normalising_box(anim.vertices)
    normalised = (anim.vertices - centre) / half_extent
    points = sample_surface_points(normalised[0], anim.faces, POINTS, seed).positions(normalised, anim.faces)
    boxes = boxes_of(coverage)
    iou_grid = int(min(window.side, MAX_IOU_GRID))
    iou_coverage = window_coverage(masks, window, iou_grid) if iou_grid != GRID else coverage

    def ious(frames: np.ndarray, rotations: np.ndarray, translations: np.ndarray, grid: int,
             grid_coverage: np.ndarray) -> np.ndarray:
        rendered = silhouettes(normalised[frames], anim.faces, rotations, translations, image_size, yfov, window, grid)
        return iou(rendered, grid_coverage[frames])

    # 2. the start rotation, from key frames
    usable = np.flatnonzero(~empty)
    keys = usable[np.unique(np.linspace(0, len(usable) - 1, KEY_FRAMES).round().astype(int))]
    rotations = candidate_rotations()
    placed = place(rotations[:, None], points[keys][None], boxes[keys][None], focal, np.array(lens.principal))
    score_coverage = window_coverage(masks[keys], window, SCORE_GRID)
    scores = np.stack([iou(silhouettes(normalised[k], anim.faces, rotations, placed[:, i], image_size, yfov, window,
                                       SCORE_GRID), np.broadcast_to(score_coverage[i], (len(rotations), SCORE_GRID,
                                                                                       SCORE_GRID)))
                       for i, k in enumerate(keys)], axis=1)
    best, best_score = None, -1.0
    key_targets = targets.frames(keys)
    for c in distinct_best(np.nan_to_num(scores).mean(axis=1), rotations, STARTS):
        start = refine(points[keys], key_targets, lens, np.repeat(rotations[c][None], len(keys), 0), placed[c],
                       np.ones(len(keys), bool), iterations=START_ITERATIONS, smooth=0.0, shared_rotation=True)
        score = float(np.mean(ious(keys, *start, iou_grid, iou_coverage)))
        log.debug("start rotation %d (box IoU %.3f): IoU %.3f after refinement", c, scores[c].mean(), score)
        if score > best_score:
            best, best_score = start[0][0], score

    # 3. every frame together, 4. each frame alone where that is better
    start_rotations = np.repeat(best[None], anim.num_frames, 0)
    together = refine(points, targets, lens, start_rotations, place(start_rotations, points, boxes, focal,
                                                                    np.array(lens.principal)),
                      ~empty, iterations=ITERATIONS, smooth=SMOOTH)
    alone = refine(points, targets, lens, *together, ~empty, iterations=ALONE_ITERATIONS, smooth=0.0)
    every = np.arange(anim.num_frames)
    gain = ious(every, *alone, iou_grid, iou_coverage) - ious(every, *together, iou_grid, iou_coverage)
    keep_alone = (gain > ALONE_GAIN) & ~empty
    rotations = np.where(keep_alone[:, None, None], alone[0], together[0])
    translations = np.where(keep_alone[:, None], alone[1], together[1])

    # 5. frames without a subject, cameras in the stored coordinates, the exact IoU
    rotations, translations = fill_from_neighbours(rotations, translations, anim.frame_times, ~empty)
    world_to_camera = rigid(rotations, half_extent * translations - rotations @ centre)
    frame_iou = np.where(empty, np.nan, ious(every, rotations, translations, iou_grid, iou_coverage))
    cameras = VideoCameras(world_to_camera, yfov, image_size, frame_iou)
    report = CameraFit(frame_iou, np.flatnonzero(empty).tolist(), np.flatnonzero(frame_iou < poor_iou).tolist(),
                       time.perf_counter() - started)
    if report.empty:
        log.warning("frame(s) %s have no subject in their mask: they keep their neighbours' cameras",
                    _listed(report.empty))
    if report.poor:
        log.warning("the mesh could not be aligned with the video in frame(s) %s (silhouette IoU below %.2f): the "
                    "cameras, colours and overlay of those frames are unreliable", _listed(report.poor), poor_iou)
    return dataclasses.replace(anim, cameras=cameras), report


def _listed(frames: list[int], limit: int = 12) -> str:
    more = f" and {len(frames) - limit} more" if len(frames) > limit else ""
    return ", ".join(map(str, frames[:limit])) + more
