"""Options shared by the commands that run the pipeline (video2mesh, batch, demo, extend, bench), and their
summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..animated_mesh import AnimatedMesh
from ..errors import WeightsError
from ..io.outputs import DEFAULT_OUTPUTS
from ..models.attention import BACKENDS, set_attention_backend
from ..pipeline.models import ModelSet, weights_root_from_env
from ..pipeline.progress import RunReport
from ..pipeline.settings import Settings


def add_run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("run")
    group.add_argument("--weights", type=Path, help="weights root (default: $ACTIONMESH_WEIGHTS); see README")
    group.add_argument("--fast", action="store_true", help="50 prior steps and 15 diffusion steps (official preset)")
    group.add_argument("--low-vram", action="store_true",
                       help="sequential guidance, one decoded frame at a time, models freed after each stage")
    group.add_argument("--seed", type=int, help="random seed (default 44, the official default)")
    group.add_argument("--steps", type=int, help="temporal diffusion steps (default 30, 15 with --fast)")
    group.add_argument("--prior-steps", type=int, help="image-to-3D steps (default 100, 50 with --fast)")
    group.add_argument("--guidance", type=float, help="guidance scale of both diffusion stages (default 7.5)")
    group.add_argument("--anchor-frame", type=int, help="frame the reference mesh comes from (default 0)")
    group.add_argument("--face-budget", type=int, help="decimate the reference mesh to this many faces (40000)")
    group.add_argument("--mesh-resolution", type=int, help="SDF grid cells per axis for the reference mesh")
    group.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best available)")
    group.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), help="weights precision (default bf16 on GPU)")
    group.add_argument("--attention", choices=BACKENDS, default="auto", help="attention kernel")
    group.add_argument("--outputs", default=",".join(DEFAULT_OUTPUTS),
                       help="comma-separated: glb, frames, npz, usd, usdz, obj, ply, mp4 (default glb,frames,npz)")


def add_frame_options(parser: argparse.ArgumentParser, masks: bool = True) -> None:
    group = parser.add_argument_group("frames")
    group.add_argument("--start", type=int, default=0, help="first frame to use")
    group.add_argument("--end", type=int, help="stop before this frame")
    group.add_argument("--stride", type=int, default=1, help="keep every n-th frame")
    group.add_argument("--max-frames", type=int, help="keep at most this many frames (it says how many it drops)")
    group.add_argument("--fps", type=float, dest="target_fps", help="resample to this frame rate")
    group.add_argument("--max-side", type=int, help="shrink frames so their longer side is at most this")
    if masks:
        group.add_argument("--masks", help="folder or glob of subject masks (white = subject), one per frame")


def selection_from(args: argparse.Namespace) -> dict:
    return dict(start=args.start, end=args.end, stride=args.stride, max_frames=args.max_frames,
                target_fps=args.target_fps, max_side=args.max_side)


def settings_from(args: argparse.Namespace, **defaults) -> Settings:
    set_attention_backend(args.attention)
    values = dict(defaults)
    values.update({k: v for k, v in dict(
        seed=args.seed, steps=args.steps, prior_steps=args.prior_steps, guidance=args.guidance,
        prior_guidance=args.guidance, anchor_frame=args.anchor_frame, face_budget=args.face_budget,
        mesh_resolution=args.mesh_resolution).items() if v is not None})
    return Settings.preset(fast=args.fast, low_vram=args.low_vram, **values)


def weights_root_from(args: argparse.Namespace) -> Path:
    root = weights_root_from_env(args.weights)
    if root is None:
        raise WeightsError("no weights configured: pass --weights DIR or set ACTIONMESH_WEIGHTS (see the README's "
                           "'Weights' section); `actionmesh demo` runs the small bundled model instead")
    return root


def models_from(args: argparse.Namespace) -> ModelSet:
    return ModelSet.from_weights(weights_root_from(args), device=args.device, dtype=args.dtype,
                                 offload="free" if args.low_vram else "cpu")


def print_summary(anim: AnimatedMesh, report: RunReport, models: ModelSet, written: list[Path]) -> None:
    print(f"\n{anim.num_frames} frames, {anim.num_vertices} vertices, {anim.num_faces} faces, {anim.fps:g} fps "
          f"({models.description}, {models.device}, {str(models.dtype).replace('torch.', '')})")
    print(report.table())
    for path in written:
        print(f"wrote {path}")
