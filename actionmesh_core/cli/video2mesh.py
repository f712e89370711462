"""`actionmesh video2mesh INPUT --out DIR [--mesh MESH] ...`: the main job."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..base.atomic import check_output_folder
from ..batch.job import Job, run_job
from ..io.mesh_file import load_user_mesh
from ..pipeline import TqdmProgress
from .run_options import add_frame_options, add_run_options, add_skin_options, add_video_options, models_from, \
    print_summary, selection_from, settings_from, skin_options_from, video_fit_from


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "video2mesh", help="turn a video into an animated mesh",
        description="Video (mp4/mov/webm/mkv/gif/avi, or a folder of frames) -> one mesh whose vertices move. "
                    "With --mesh, animate that mesh instead (textures kept); a mesh of another object gives "
                    "motion transfer. The result is registered to the video (a camera per frame, printed silhouette "
                    "IoU) and coloured from it. Writes animated_mesh.glb, mesh_00.glb ... and animated_mesh.npz.")
    parser.add_argument("input", help="video file, folder of frames, or glob of frames")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--mesh", type=Path, help="animate this GLB/GLTF/OBJ/PLY mesh (it matches --anchor-frame)")
    add_frame_options(parser)
    add_run_options(parser)
    add_video_options(parser)
    add_skin_options(parser, seed=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_folder(args.out)  # before anything slow: a file, a read-only or a full folder fails now
    mesh = None if args.mesh is None else load_user_mesh(args.mesh)  # a broken mesh fails now too
    video = video_fit_from(args, mesh)
    models = models_from(args)
    job = Job(args.input, args.out, settings_from(args, models), args.outputs, mesh=mesh, masks=args.masks,
              selection=selection_from(args), video=video, skin=skin_options_from(args, device=str(models.device)))
    result = run_job(job, models, TqdmProgress())
    print_summary(result.anim, result.report, models, job.settings, result.written)
    return 0
