"""`actionmesh bench`: time and peak memory of every stage on a synthetic clip, with random weights at a
chosen size (tiny on any machine; full, the official sizes, on a GPU)."""

from __future__ import annotations

import argparse

import numpy as np

from ..pipeline import ModelSet, RunReport, TqdmProgress, animate
from .run_options import add_run_options, settings_from


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="time every stage on a synthetic clip with random weights",
                                   description="Benchmark: per-stage wall time and peak memory (GPU and RSS).")
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny", help="model sizes (full = official)")
    parser.add_argument("--frames", type=int, default=16, help="clip length (16)")
    parser.add_argument("--resolution", type=int, default=256, help="frame size in pixels (256)")
    add_run_options(parser)
    parser.set_defaults(func=run)


def synthetic_clip(frames: int, size: int) -> np.ndarray:
    """(T, size, size, 4) uint8: an orange ellipse that moves and stretches, on a transparent background."""
    yy, xx = np.mgrid[:size, :size] / size
    clip = np.zeros((frames, size, size, 4), np.uint8)
    for t in range(frames):
        phase = 2 * np.pi * t / max(frames, 1)
        inside = ((xx - 0.5 - 0.15 * np.sin(phase)) / 0.2) ** 2 + ((yy - 0.5) / (0.25 + 0.05 * np.cos(phase))) ** 2 < 1
        clip[t, ..., :3] = 255
        clip[t][inside] = (230, 140, 40, 255)
    return clip


def run(args: argparse.Namespace) -> int:
    models = ModelSet.random(args.size, device=args.device, dtype=args.dtype, attention=args.attention,
                             offload="free" if args.low_vram else "cpu")
    settings = settings_from(args, models)
    report = RunReport(names=settings.names)
    anim = animate(synthetic_clip(args.frames, args.resolution), models, settings, progress=TqdmProgress(),
                   report=report)
    print(f"\nbench: {args.size} models, {models.device}, {str(models.dtype).replace('torch.', '')}, "
          f"{args.frames} frames, settings: {settings.describe()}, "
          f"{'low-vram' if settings.low_vram else 'default memory mode'}")
    print(f"result: {anim.num_vertices} vertices, {anim.num_faces} faces")
    print(report.table())
    return 0
