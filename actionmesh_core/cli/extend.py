"""`actionmesh extend RESULT.npz MORE_FRAMES --out DIR`: continue a saved animation over the frames that follow."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..animated_mesh import AnimatedMesh
from ..base.atomic import check_output_folder
from ..export.outputs import write_outputs
from ..pipeline import RunReport, TqdmProgress, extend
from .run_options import add_frame_options, add_run_options, models_from, print_summary, selection_from, \
    settings_from


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "extend", help="continue a saved result (.npz) over more frames",
        description="Autoregressive extension: the last frame of RESULT conditions the new frames (the paper's "
                    "extrapolation). The output holds the old frames followed by the new ones, same faces. The new frames "
                    "need the size of the first clip; without masks they get RMBG-1.4's, and they keep its framing.")
    parser.add_argument("result", type=Path, help="animated_mesh.npz from video2mesh (or an earlier extend)")
    parser.add_argument("input", help="the frames that follow: video file, folder of frames, or glob")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    add_frame_options(parser)
    add_run_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_folder(args.out)  # before anything slow: a file, a read-only or a full folder fails now
    models = models_from(args)
    settings = settings_from(args, models)
    report = RunReport(names=settings.names)
    anim = extend(AnimatedMesh.load(args.result), args.input, models, settings, selection=selection_from(args),
                  masks=args.masks, progress=TqdmProgress(), report=report)
    print_summary(anim, report, models, settings, write_outputs(anim, args.out, args.outputs))
    return 0
