"""`actionmesh demo`: the main job on the example clip shipped in the repository, with the bundled small
model, plus a preview of the result beside the input frames."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..base.atomic import check_output_folder
from ..export.mp4 import write_mp4
from ..inputs import load_clip
from ..pipeline import RunReport, TqdmProgress, animate
from ..export.outputs import write_outputs
from ..pipeline.model_set import BUNDLED_NAME, BUNDLED_WEIGHTS
from ..render import render_views, side_by_side
from ..render.compose import over_background
from ..video_fit import render_overlay
from .run_options import add_run_options, add_video_options, models_from, print_summary, settings_from, \
    video_fit_from

EXAMPLE_CLIP = Path(__file__).resolve().parents[1] / "assets" / "example_clip"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the main job on the bundled example clip with the bundled small model",
        description=f"Animate the example clip in {EXAMPLE_CLIP} with the small model in {BUNDLED_WEIGHTS} (or "
                    "--weights DIR; $ACTIONMESH_WEIGHTS is not used here). Writes the animated GLB, per-frame meshes, "
                    "and preview.mp4 / preview.png showing the input frames, the result drawn over them, and renders "
                    "of the coloured result.")
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder (outputs/demo)")
    add_run_options(parser)
    add_video_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_folder(args.out)  # before anything slow: a file, a read-only or a full folder fails now
    models = models_from(args, fallback=BUNDLED_NAME)
    if "RANDOM" in models.description:
        print("NOTE: no trained small model is bundled yet, so the demo runs tiny models with RANDOM weights. The "
              "outputs show that the whole pipeline runs end to end; the shapes and motion are meaningless.")
    settings = settings_from(args, models)
    clip = load_clip(EXAMPLE_CLIP)
    report = RunReport(names=settings.names)
    anim = animate(clip, models, settings, progress=TqdmProgress(), report=report, video=video_fit_from(args))
    written = write_outputs(anim, args.out, args.outputs, frames=clip.frames)
    with report.stage("preview"):
        overlay = render_overlay(anim, over_background(clip.rgba))  # on white, as the model sees the frames
        strip = side_by_side(clip.rgba, [overlay, *render_views(anim, azimuths=(0.0, 90.0))])
        written.append(write_mp4(strip, args.out / "preview.mp4", anim.fps))
        written.append(_write_png(strip[:: max(1, len(strip) // 4)], args.out / "preview.png"))
    print_summary(anim, report, models, settings, written)
    return 0


def _write_png(frames: np.ndarray, path: Path) -> Path:
    """A few preview frames stacked vertically, as one PNG."""
    from PIL import Image

    from ..base.atomic import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(np.concatenate(list(frames), axis=0)).save(tmp, format="PNG")
    return path
