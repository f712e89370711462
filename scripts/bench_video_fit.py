"""Quality and speed of the video stage (registration, colours) on held-out synthetic clips, whose true camera and
part colours are known:

    python scripts/bench_video_fit.py [--count 8] [--pipeline] [--texture] [--picture docs/video_fit.png]

For each clip (seeds from HELD_OUT_SEED on, never trained on):
- the ground-truth mesh (`SyntheticClip.animated_mesh`: the exact surfaces the frames show, part colours as vertex
  colours) registered to the clip's masks: mean and worst silhouette IoU (exact, from the rasteriser), the
  rotation error against the true orbit camera (degrees, mean over frames), then coloured from the frames: the
  mean absolute RGB error (0-255) over the pixels where both the coloured mesh (through its registered camera) and
  the truth (through the true camera) show surface, against the true part colours, beside the baseline that
  paints the mean subject colour everywhere; and the same error over the vertices the true cameras see;
- with --pipeline, the same for the bundled small model's own mesh of the clip (its recommended settings);
- with --texture, the baked-texture error too (1024 x 1024).
Times are the process's CPU time (one thread) and the wall time, per frame, with the vertex count; the last lines
estimate the share of a 16-frame video -> 4D run at the official sizes (README: about 75 s on an H100).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.data.clips import HELD_OUT_SEED, make_clip
from actionmesh_core.render import render_views
from actionmesh_core.render.compose import over_background
from actionmesh_core.video_fit import colour_from_video, fit_cameras, render_overlay
from actionmesh_core.video_fit.quality import pixel_colour_error, rotation_errors, vertex_colour_error

OFFICIAL_RUN_S = 75.0
"""The official README's 16-frame video -> 4D time on an H100 (default settings; --fast: about 45 s)."""


def timed(function, *args, **kwargs):
    """(result, CPU seconds, wall seconds)."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def evaluate(anim: AnimatedMesh, truth: AnimatedMesh, rgba: np.ndarray, texture: bool) -> dict:
    """Register and colour `anim` (no cameras) to the clip's frames; scores against the truth."""
    frames, masks = rgba[..., :3], rgba[..., 3] > 127
    (registered, fit), fit_cpu, fit_wall = timed(fit_cameras, anim, rgba[..., 3])
    (coloured, _), colour_cpu, colour_wall = timed(colour_from_video, registered, frames, rgba[..., 3])
    pixels = pixel_colour_error(coloured, truth, frames, masks)
    row = {"vertices": anim.num_vertices, "iou": fit.mean_iou, "worst": float(np.nanmin(fit.iou)),
           "rotation": float(rotation_errors(registered.cameras, truth.cameras).mean()),
           "error": pixels["error"], "baseline": pixels["baseline"], "fit_cpu": fit_cpu, "fit_wall": fit_wall,
           "colour_cpu": colour_cpu, "colour_wall": colour_wall, "coloured": coloured}
    if anim.num_vertices == truth.num_vertices:
        vertices = vertex_colour_error(coloured, truth, frames, masks)
        row.update(vertex_error=vertices["error"], vertex_baseline=vertices["baseline"])
    if texture:
        (baked, _), texture_cpu, _ = timed(colour_from_video, registered, frames, rgba[..., 3], mode="texture")
        row.update(texture_error=pixel_colour_error(baked, truth, frames, masks)["error"], texture_cpu=texture_cpu)
    return row


def pipeline_mesh(rgba: np.ndarray) -> AnimatedMesh:
    from actionmesh_core.inputs import load_clip
    from actionmesh_core.pipeline import animate, bundled_models
    from actionmesh_core.pipeline.settings import Settings

    models = bundled_models(device="cpu", dtype="fp32")
    return animate(load_clip(rgba), models, Settings.resolve(models.recommended))


def picture(truth_rgba: np.ndarray, row: dict, path: Path, frames: tuple[int, ...] = (0, 8), margin: int = 12) -> None:
    """Input frame | the coloured mesh over it | the coloured mesh from the side, for a few frames; each column
    cropped to what its frames show."""
    from PIL import Image

    anim = row["coloured"]
    inputs = over_background(truth_rgba)
    overlay = render_overlay(anim, inputs, opacity=0.85)
    (side,) = render_views(anim, azimuths=(70.0,), size=truth_rgba.shape[1])
    columns = []
    for images in (inputs[list(frames)], overlay[list(frames)], over_background(side[list(frames)])):
        content = (images < 250).any(axis=(0, 3))
        rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
        top, bottom = max(rows[0] - margin, 0), min(rows[-1] + margin + 1, images.shape[1])
        left, right = max(cols[0] - margin, 0), min(cols[-1] + margin + 1, images.shape[2])
        columns.append(images[:, top:bottom, left:right])
    height = max(column.shape[1] for column in columns)
    columns = [np.pad(c, ((0, 0), (0, height - c.shape[1]), (0, 0), (0, 0)), constant_values=255) for c in columns]
    grid = np.concatenate([np.concatenate(list(column), axis=0) for column in columns], axis=1)
    Image.fromarray(grid).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=8, help="held-out clips (default 8)")
    parser.add_argument("--start", type=int, default=0, help="first held-out clip (seed HELD_OUT_SEED + start)")
    parser.add_argument("--pipeline", action="store_true", help="also the bundled small model's own meshes")
    parser.add_argument("--texture", action="store_true", help="also bake 1024 x 1024 textures")
    parser.add_argument("--max-edge", type=float, default=0.05, help="ground-truth faces split above this edge")
    parser.add_argument("--picture", type=Path, help="write input | overlay | coloured result of the first clip")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(1)
    rows = {"ground truth": [], "pipeline": []}
    picture_kind = "pipeline" if args.pipeline else "ground truth"
    for seed in range(HELD_OUT_SEED + args.start, HELD_OUT_SEED + args.start + args.count):
        clip = make_clip(seed)
        truth, rgba = clip.animated_mesh(max_edge=args.max_edge), clip.render()
        meshes = {"ground truth": AnimatedMesh(truth.vertices, truth.faces)}
        if args.pipeline:
            meshes["pipeline"] = pipeline_mesh(rgba)
        for kind, anim in meshes.items():
            row = evaluate(anim, truth, rgba, args.texture)
            rows[kind].append(row)
            extra = "".join(f" {key} {row[key]:.1f}" for key in ("vertex_error", "vertex_baseline", "texture_error")
                            if key in row)
            print(f"{seed} {clip.category:10s} {kind:12s} V {row['vertices']:6d}  IoU {row['iou']:.3f} (worst "
                  f"{row['worst']:.3f})  rotation {row['rotation']:5.1f} deg  colour error {row['error']:5.1f} vs "
                  f"baseline {row['baseline']:5.1f}{extra}  fit {row['fit_cpu']:.1f}s cpu / {row['fit_wall']:.1f}s, "
                  f"colour {row['colour_cpu']:.1f}s cpu / {row['colour_wall']:.1f}s", flush=True)
            if args.picture and kind == picture_kind:
                picture(rgba, row, args.picture)
                args.picture = None
    frames = make_clip(HELD_OUT_SEED).num_frames
    for kind, table in rows.items():
        if not table:
            continue
        mean = {key: float(np.mean([row[key] for row in table])) for key in table[0] if key != "coloured"}
        print(f"\n{kind} ({len(table)} clips): IoU {mean['iou']:.3f} (worst clip "
              f"{min(row['iou'] for row in table):.3f}), rotation error {mean['rotation']:.1f} deg (max "
              f"{max(row['rotation'] for row in table):.1f}), colour error {mean['error']:.1f} vs mean-colour baseline "
              f"{mean['baseline']:.1f} ({mean['baseline'] / mean['error']:.1f}x better)")
        if "vertex_error" in mean:
            print(f"  over the visible vertices: {mean['vertex_error']:.1f} vs {mean['vertex_baseline']:.1f}")
        if "texture_error" in mean:
            print(f"  baked 1024 texture: colour error {mean['texture_error']:.1f}, {mean['texture_cpu']:.1f}s cpu")
        per_frame = (mean["fit_cpu"] + mean["colour_cpu"]) / frames
        print(f"  {mean['vertices']:.0f} vertices: registration {mean['fit_cpu'] / frames:.2f}s cpu per frame "
              f"({mean['fit_wall'] / frames:.2f}s wall), colours {mean['colour_cpu'] / frames:.2f}s cpu per frame "
              f"({mean['colour_wall'] / frames:.2f}s wall); a 16-frame clip: {16 * per_frame:.1f}s cpu = "
              f"{16 * per_frame / OFFICIAL_RUN_S:.0%} of the official {OFFICIAL_RUN_S:.0f}s run")


if __name__ == "__main__":
    main()
