"""`actionmesh colour RESULT.npz VIDEO --out DIR`: register a saved result to its video (unless it already is)
and colour it from the frames."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..animated_mesh import AnimatedMesh
from ..base.atomic import check_output_folder
from ..inputs import load_clip
from ..pipeline.framing import with_subject_masks
from ..pipeline.model_set import load_models
from ..pipeline.run import matting_for
from ..video_fit import COLOUR_MODES, colour_from_video
from ..video_fit.register import iou_summary
from ..export.outputs import write_outputs
from .run_options import add_frame_options, add_video_options, selection_from


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "colour", help="colour a saved result (.npz) from its video",
        description="Colour an animated mesh saved earlier (.npz) from the video it was made from, with the same "
                    "frame selection. Its stored cameras are used (or fitted, when it has none, or with --refit); "
                    "the masks come from the frames' alpha, --masks, or RMBG-1.4 from --weights.")
    parser.add_argument("result", type=Path, help="an animated mesh saved as .npz")
    parser.add_argument("input", help="its video file, folder of frames, or glob of frames")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--refit", action="store_true", help="register the cameras again even if the result has some")
    parser.add_argument("--weights", type=Path, help="a weights root with RMBG-1.4, for frames without masks")
    parser.add_argument("--outputs", default="glb,npz",
                        help="comma-separated, as video2mesh's (default glb,npz; overlay writes overlay.mp4)")
    add_frame_options(parser)
    add_video_options(parser, colours=COLOUR_MODES)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_folder(args.out)
    anim = AnimatedMesh.load(args.result)
    if args.refit:
        anim = dataclasses.replace(anim, cameras=None)
    clip = load_clip(args.input, masks=args.masks, **selection_from(args))
    if clip.alpha is None:
        models = load_models(args.weights) if args.weights else None
        clip = with_subject_masks(clip, matting_for(models) if models else None)
    anim, report = colour_from_video(anim, clip.frames, clip.alpha, mode=args.colour or "vertex",
                                     texture_size=args.texture_size, fov_deg=args.camera_fov,
                                     delight=not args.keep_shading)
    written = write_outputs(anim, args.out, args.outputs, frames=clip.frames)
    if anim.cameras.iou is not None:
        print(iou_summary(anim.cameras.iou) + ("" if report.fit else " (stored cameras)"))
    print(report.summary())
    for path in written:
        print(f"wrote {path}")
    return 0
