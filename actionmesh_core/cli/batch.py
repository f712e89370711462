"""`actionmesh batch INPUTS --out DIR`: many videos with models loaded once per worker, here or on Ray."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..batch import BatchOptions, ModelSource, collect_items, run_batch
from ..errors import InputError
from ..export.outputs import parse_outputs
from .run_options import add_frame_options, add_run_options, add_video_options, models_from, selection_from, \
    settings_from, video_fit_from, weights_from


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "batch", help="many videos: a folder or a manifest, models loaded once, resumable, optionally on Ray",
        description="Run video2mesh on every video / frame folder in INPUTS (a folder, or a .csv / .jsonl manifest "
                    "with per-item settings), writing DIR/<item>/ as video2mesh does and DIR/batch.jsonl (one row "
                    "per item). A rerun skips finished items. Ctrl-C once: stop after the running item(s).")
    parser.add_argument("inputs", type=Path, help="folder of videos and frame folders, or a .csv / .jsonl manifest")
    parser.add_argument("--out", type=Path, required=True, help="output folder: one subfolder per item")
    parser.add_argument("--retry-failed", action="store_true", help="run items that failed last time again")
    parser.add_argument("--max-retries", type=int, default=2,
                        help="times an item is retried when its worker dies (killed, out of memory); default 2")
    parser.add_argument("--workers", type=int,
                        help="local worker processes (default: one per visible CUDA GPU, else 1)")
    parser.add_argument("--ray", nargs="?", const="auto", metavar="auto|ADDRESS",
                        help="run on Ray: 'auto' (a running cluster, else a local one) or a cluster address; "
                             "needs pip install 'comfyui-actionmesh[ray]' and paths every node can read")
    parser.add_argument("--ray-workers", type=int, help="Ray actors (default: one per GPU, else CPUs / "
                                                        "--ray-cpus-per-worker)")
    parser.add_argument("--ray-cpus-per-worker", type=float, default=1,
                        help="CPUs per Ray actor on a cluster without GPUs (default 1)")
    add_frame_options(parser, masks=False)
    add_run_options(parser)
    add_video_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.max_retries < 0:
        raise InputError(f"--max-retries must be 0 or more, got {args.max_retries}")
    models = models_from(args)  # reads headers and the weights' recommended settings; no tensor is loaded here
    options = BatchOptions(settings=settings_from(args, models), outputs=parse_outputs(args.outputs),
                           selection={k: v for k, v in selection_from(args).items() if v is not None},
                           video=video_fit_from(args), colour_given=args.colour is not None,
                           retry_failed=args.retry_failed, max_retries=args.max_retries, workers=args.workers,
                           ray=args.ray, ray_workers=args.ray_workers, ray_cpus_per_worker=args.ray_cpus_per_worker)
    source = ModelSource(weights_from(args), device=args.device, dtype=args.dtype, low_vram=args.low_vram,
                         attention=args.attention)
    items = collect_items(args.inputs, skip=args.out)
    return run_batch(items, args.out, source, options).exit_code
