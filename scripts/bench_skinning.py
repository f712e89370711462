"""Skinned export benchmark: decomposition time, error and file size beside the morph-target GLB, for a
realistic 20,000-vertex articulated animation at 16 and 300 frames; optionally against py-dem-bones.

Usage (from the repository root, package installed):
    .venv/bin/python scripts/bench_skinning.py [--frames 16,300] [--vertices 20000]
        [--categories quadruped,biped,lamp,flapper] [--seed 1000000] [--device cpu|cuda] [--threads N]
        [--max-error 0.25] [--bones 8] [--dem-bones]

The animation is the synthetic generator's clip (`actionmesh_core.data`, a held-out seed): its watertight
frame-0 mesh (marching cubes at 256^3, decimated to the pipeline's 40,000-face budget: about 20,000 vertices)
carried by its parts, blended at the joints, some stretching; a long clip continues the same motion at the
same frame spacing. Prints one line per run: frames, bones, wall and CPU seconds (fit + writing the file),
mean and max error (% of the frame-0 bounding-box diagonal), skinned GLB size, morph GLB size and their ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.data import make_clip
from actionmesh_core.export.formats import export_animated_mesh, export_skinned_mesh
from actionmesh_core.skinning import DEFAULT_MAX_ERROR

FACES_PER_VERTEX = 2  # a closed triangle mesh has about twice as many faces as vertices


def articulated_animation(seed: int, category: str, frames: int, vertices: int) -> AnimatedMesh:
    """The generator's clip of `seed` over `frames` frames at the 16-frame clip's spacing, as a fixed-topology
    animation of about `vertices` vertices."""
    clip = make_clip(seed, frames=16, category=category)
    raw = clip.rig.pose(np.linspace(0.0, 1.0, 16))  # undo nothing: recover make_clip's normalisation
    factor = clip.pose.scales[0, 0, 0] / raw.scales[0, 0, 0]
    center = raw.translations[0, 0] - clip.pose.translations[0, 0] / factor
    long = dataclasses.replace(clip, pose=clip.rig.pose(np.arange(frames) / 15.0).normalized(center, factor))
    return long.watertight_animation(resolution=256, face_count=FACES_PER_VERTEX * vertices)


def errors(positions: np.ndarray, vertices: np.ndarray) -> tuple[float, float]:
    distance = np.linalg.norm(positions - vertices, axis=-1)
    diagonal = np.linalg.norm(np.ptp(vertices[0], axis=0))
    return distance.mean() / diagonal * 100, distance.max() / diagonal * 100


def dem_bones(anim: AnimatedMesh, bones: int, iterations: int) -> tuple[float, float, float, int]:
    """py-dem-bones (Dem Bones SSDR) at `bones` bones: seconds, mean and max error (%), bones returned."""
    try:
        import py_dem_bones
    except ImportError:
        raise SystemExit("--dem-bones needs py-dem-bones: pip install '.[dembones]' (wheels for CPython 3.11 and "
                         "3.12 on Linux x86-64, macOS and Windows)") from None

    rest, frames = anim.vertices[0].astype(np.float64), anim.vertices.astype(np.float64)
    faces = anim.faces[(np.diff(np.sort(anim.faces, axis=1), axis=1) > 0).all(axis=1)]  # it refuses repeated corners
    start = time.perf_counter()
    result = py_dem_bones.solve_skinning(rest, frames, bones, faces=faces, max_influences=4, iterations=iterations)
    seconds = time.perf_counter() - start
    homogeneous = np.concatenate([rest, np.ones((len(rest), 1))], axis=1)
    positions = np.einsum("bv,fbij,vj->fvi", result.weights, result.transforms[:, :, :3], homogeneous)
    return (seconds, *errors(positions, frames), result.weights.shape[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="16,300", help="comma-separated clip lengths (default 16,300)")
    parser.add_argument("--vertices", type=int, default=20_000)
    parser.add_argument("--categories", default="quadruped", help="comma-separated: quadruped, biped, lamp, flapper")
    parser.add_argument("--seed", type=int, default=1_000_000, help="the clips' seed (held-out seeds from 1,000,000)")
    parser.add_argument("--device", default="cpu", help="torch device of the decomposition (cpu, cuda)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--max-error", type=float, default=DEFAULT_MAX_ERROR,
                        help="auto's target mean error, %% of the diagonal (default: the exporter's)")
    parser.add_argument("--bones", type=int, default=8, help="also fit this fixed bone count (0: skip)")
    parser.add_argument("--dem-bones", action="store_true", help="also run py-dem-bones at the same bone counts")
    parser.add_argument("--dem-bones-iterations", type=int, default=30)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {args.device}, {torch.get_num_threads()} torch threads")
    print(f"{'clip':<10} {'frames':>6} {'vertices':>8} {'method':<18} {'bones':>5} {'seconds':>8} {'cpu s':>7} "
          f"{'mean %':>7} {'max %':>7} {'skinned MB':>10} {'morph MB':>9} {'ratio':>6}")
    cases = [(category, int(frames)) for frames in args.frames.split(",") for category in args.categories.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        for category, frames in cases:
            anim = articulated_animation(args.seed, category, frames, args.vertices)
            morph = export_animated_mesh(anim, "glb", Path(folder) / "morph.glb").stat().st_size
            runs = [("ours auto", dict(bones="auto", max_error=args.max_error))]
            if args.bones:
                runs.append((f"ours {args.bones} bones", dict(bones=args.bones)))
            for label, options in runs:
                cpu = time.process_time()
                report = export_skinned_mesh(anim, "skinned-glb", Path(folder) / "skinned.glb", device=args.device,
                                             **options)
                cpu = time.process_time() - cpu
                fit = report.fit
                print(f"{category:<10} {frames:>6} {anim.num_vertices:>8} {label:<18} {fit.rig.num_bones:>5} "
                      f"{fit.seconds:>8.1f} {cpu:>7.1f} {fit.mean_error:>7.3f} {fit.max_error:>7.3f} "
                      f"{report.file_bytes / 1e6:>10.2f} {morph / 1e6:>9.2f} {morph / report.file_bytes:>6.1f}",
                      flush=True)
                if args.dem_bones:
                    cpu = time.process_time()
                    seconds, mean, largest, bones = dem_bones(anim, fit.rig.num_bones, args.dem_bones_iterations)
                    cpu = time.process_time() - cpu
                    print(f"{category:<10} {frames:>6} {anim.num_vertices:>8} {'py-dem-bones':<18} {bones:>5} "
                          f"{seconds:>8.1f} {cpu:>7.1f} {mean:>7.3f} {largest:>7.3f}", flush=True)


if __name__ == "__main__":
    main()
