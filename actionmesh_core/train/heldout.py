"""The held-out benchmark: synthetic clips of unseen seeds in the ActionBench layout, the pipeline's
predictions on them, and two baselines that hold a mesh still.

    write_benchmark("bench", 32)                   # <uid>/surfaces.npy, <uid>/frames/frame_XX.png, clip.json
    predict_benchmark("bench", "preds", models, settings)
        preds/pipeline/<uid>/animated_mesh.npz        the animation
        preds/still_reference/<uid>/...               its reference mesh (frame 0) held still
        preds/still_gt/<uid>/...                      the exact frame-0 mesh held still
    score_benchmark("bench", "preds", LIGHT)       # CD-4D and CD-M of each, per clip and on average

The full evaluator (`actionmesh eval`) also fits one ICP per frame for CD-3D, which takes minutes per
clip on a CPU; `motion_scores` computes CD-4D and CD-M alone, with the evaluator's own functions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..animated_mesh import AnimatedMesh
from ..data.clips import make_clip, split_seeds
from ..eval.loading import ANIMATION_FILE, GT_FILE, list_samples, load_gt
from ..eval.metrics import DEFAULT_SEED, Protocol, evaluate_sample
from ..base.atomic import atomic_dir, atomic_path
from ..inputs.load import load_clip
from ..pipeline import ModelSet, Settings, animate

CLIP_FILE = "clip.json"
PREDICTIONS = ("pipeline", "still_reference", "still_gt")
LIGHT = Protocol(surface_points=20_000, icp_points=500, chamfer_points=10_000, icp_steps=100)
"""The held-out protocol: the official one with fewer samples and a lighter ICP (CPU minutes, not hours)."""


def write_benchmark(root: str | os.PathLike, count: int, *, points: int = 20_000) -> list[Path]:
    """Write `count` held-out clips (each folder atomically). Returns the sample folders."""
    from PIL import Image

    folders = []
    for seed in split_seeds("heldout", count):
        clip = make_clip(seed)
        folder = Path(root) / f"{clip.category}_{seed}"
        with atomic_dir(folder) as tmp:
            np.save(tmp / GT_FILE, clip.points(clip.surface(points, seed=seed)))
            (tmp / "frames").mkdir()
            for k, rgba in enumerate(clip.render()):
                Image.fromarray(rgba).save(tmp / "frames" / f"frame_{k:02d}.png")
            camera = {"azimuth": clip.camera.azimuth, "elevation": clip.camera.elevation,
                      "distance": clip.camera.distance}
            (tmp / CLIP_FILE).write_text(json.dumps({"seed": seed, "category": clip.category, "camera": camera}))
        folders.append(folder)
    return folders


def still(vertices: np.ndarray, faces: np.ndarray, frames: int) -> AnimatedMesh:
    """One mesh held still for `frames` frames."""
    return AnimatedMesh(np.repeat(np.asarray(vertices, np.float32)[None], frames, axis=0), faces)


def predict_benchmark(bench: str | os.PathLike, out: str | os.PathLike, models: ModelSet, settings: Settings,
                      progress=print) -> Path:
    """Run the pipeline on every benchmark clip and write it and the two still baselines under `out`."""
    bench, out = Path(bench), Path(out)
    for uid in list_samples(bench):
        if all((out / kind / uid / ANIMATION_FILE).is_file() for kind in PREDICTIONS):
            continue
        clip = load_clip(bench / uid / "frames")
        anim = animate(clip, models, settings)
        seed = json.loads((bench / uid / CLIP_FILE).read_text())["seed"]
        gt_vertices, gt_faces = make_clip(seed).mesh(0)
        results = {"pipeline": anim, "still_reference": still(anim.vertices[0], anim.faces, anim.num_frames),
                   "still_gt": still(gt_vertices, gt_faces, anim.num_frames)}
        for kind, result in results.items():
            with atomic_dir(out / kind / uid) as tmp:
                result.save(tmp / ANIMATION_FILE)
        progress(f"{uid}: {anim.num_vertices} vertices, {anim.num_faces} faces")
    return out


def motion_scores(gt_points: np.ndarray, anim: AnimatedMesh, protocol: Protocol = LIGHT,
                  seed: int = DEFAULT_SEED) -> dict[str, float]:
    """CD-4D and CD-M of an animation against tracked GT points (T, N, 3|6), as the ActionBench evaluator
    computes them (`evaluate_sample` on the CPU, without CD-3D's per-frame fits)."""
    scores = evaluate_sample(gt_points, anim, seed=seed, protocol=protocol, device="cpu", per_frame_fits=False)
    return {"cd_4d": scores["cd_4d"], "cd_m": scores["cd_m"]}


def score_benchmark(bench: str | os.PathLike, predictions: str | os.PathLike, protocol: Protocol = LIGHT,
                    kinds: tuple[str, ...] = PREDICTIONS) -> dict:
    """{kind: {"clips": {uid: scores}, "mean": {"cd_4d", "cd_m"}}} for each prediction kind under
    `predictions` (see `predict_benchmark`); also written to predictions/scores-<kinds>.json."""
    bench, predictions = Path(bench), Path(predictions)
    uids = list_samples(bench)
    results = {}
    for kind in kinds:
        clips = {uid: motion_scores(load_gt(bench, uid), AnimatedMesh.load(predictions / kind / uid / ANIMATION_FILE),
                                    protocol) for uid in uids}
        mean = {key: float(np.mean([c[key] for c in clips.values()])) for key in ("cd_4d", "cd_m")}
        results[kind] = {"clips": clips, "mean": mean}
    with atomic_path(predictions / f"scores-{'-'.join(kinds)}.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1))
    return results
