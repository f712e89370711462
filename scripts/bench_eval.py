"""Time the ActionBench evaluation of one sample (the fixture's "bender", 16 frames by default).

The prediction is the GT animation rotated, scaled and shifted, so that every ICP fit has work to
do. The official protocol runs 16 per-frame fits (CD-3D; frame 0's fit serves CD-4D and CD-M)
x 24 starts x 200 Adam steps on 10,000-point clouds, plus 100,000 surface samples per frame.

Usage (from the repository root, package installed):
    .venv/bin/python scripts/bench_eval.py [--protocol official|fast] [--frames 16]
        [--gt-points 100000] [--device cpu|cuda]
Prints the seconds of each step, the time per sample and the projected time of the 128-sample
ActionBench run on the chosen device, and the three scores. A first ICP step runs apart (on CUDA
it compiles the neighbour kernel, once per process) and is left out of the per-sample time.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.eval.fixture import fixture_animation, tracked_points
from actionmesh_core.eval.metrics import DEFAULT_SEED, FAST, OFFICIAL, score_points
from actionmesh_core.eval.rotations import axis_rotation
from actionmesh_core.eval.point_sampling import sample_frames, sample_synchronised

ACTIONBENCH_SAMPLES = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=("official", "fast"), default="official")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--gt-points", type=int, default=100_000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    protocol = OFFICIAL if args.protocol == "official" else FAST
    anim = fixture_animation("bender", args.frames)
    gt = tracked_points(anim, args.gt_points, seed=0)[..., :3]
    rotation = (axis_rotation("y", 0.3) @ axis_rotation("z", -0.2)).float().numpy()
    pred = AnimatedMesh(anim.vertices @ rotation * 1.15 + np.float32([0.1, -0.05, 0.2]), anim.faces)
    print(f"protocol {args.protocol}: {protocol}")
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, {args.frames} frames, "
          f"{args.gt_points} GT points")

    clock = Clock()
    frames = sample_frames([(v, pred.faces) for v in pred.vertices], protocol.surface_points, DEFAULT_SEED)
    tracked = sample_synchronised(pred.vertices, pred.faces, protocol.surface_points, DEFAULT_SEED)[0]
    clock.lap("surface sampling")
    score_points(gt, frames, tracked, protocol=replace(protocol, icp_steps=1), device=args.device)
    clock.lap("warm-up: Chamfer scores with 1 ICP step")
    result = score_points(gt, frames, tracked, protocol=protocol, device=args.device)
    clock.lap("ICP + Chamfer scores")
    wall, cpu = clock.laps[0] + clock.laps[2], clock.cpu[0] + clock.cpu[2]
    print(f"time per sample: {wall:.1f} s wall, {cpu:.1f} s CPU (sampling + ICP + scores, mesh loading left out)")
    print(f"projected for {ACTIONBENCH_SAMPLES} samples on {args.device}: {ACTIONBENCH_SAMPLES * wall / 60:.1f} min "
          f"(+ {clock.laps[1]:.0f} s warm-up once)")
    print(f"CD-3D {result['cd_3d']:.4f}  CD-4D {result['cd_4d']:.4f}  CD-M {result['cd_m']:.4f}")


class Clock:
    """Wall and process CPU seconds of successive steps (CPU time shows the work on a busy machine)."""

    def __init__(self):
        self.laps, self.cpu = [], []
        self.wall_start, self.cpu_start = time.perf_counter(), time.process_time()

    def lap(self, what: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.laps.append(wall - self.wall_start)
        self.cpu.append(cpu - self.cpu_start)
        print(f"{what:<42} {self.laps[-1]:8.2f} s wall {self.cpu[-1]:8.2f} s CPU")
        self.wall_start, self.cpu_start = wall, cpu


if __name__ == "__main__":
    main()
