"""`actionmesh eval --gt-root DIR --pred-root DIR`: ActionBench metrics (CD-3D, CD-4D, CD-M) of a
folder of predictions, without PyTorch3D."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from ..eval.loading import MESH_PATTERN
from ..eval.metrics import DEFAULT_SEED, FAST, OFFICIAL
from ..eval.runner import evaluate_dataset, format_table, read_rows

DEFAULT_CSV = "actionbench_results.csv"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="ActionBench metrics of a prediction folder",
        description="Score predictions with the ActionBench protocol: CD-3D, CD-4D and CD-M. GT: "
        "<gt-root>/<uid>/surfaces.npy. Predictions: <pred-root>/<uid>.npz or <uid>/animated_mesh.npz "
        f"(AnimatedMesh.save), or <uid>/{MESH_PATTERN} (any per-frame meshes). Saves after each sample and "
        "resumes; failing samples are recorded and left out of the means (exit code 1 when any failed).",
    )
    parser.add_argument("--gt-root", required=True, help="ActionBench data folder (one folder per uid)")
    parser.add_argument("--pred-root", required=True, help="folder of predictions, one per uid")
    parser.add_argument("--out", help=f"per-sample CSV (default: <pred-root>/{DEFAULT_CSV}); the summary goes "
                        "to <out>.summary.json")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"sampling seed (default {DEFAULT_SEED}, as the official evaluator)")
    parser.add_argument("--mesh-pattern", default=MESH_PATTERN, help=f"per-frame mesh files (default {MESH_PATTERN})")
    parser.add_argument("--fast", action="store_true",
                        help=f"lighter ICP ({FAST.icp_points} points, {FAST.icp_steps} steps): close to, not equal "
                        "to, the official numbers")
    parser.add_argument("--device", help="torch device for the ICP (default: cuda when available, else cpu)")
    parser.add_argument("--recompute", action="store_true", help="score every sample again, ignoring --out's rows")
    parser.add_argument("--ray", nargs="?", const="auto", metavar="auto|ADDRESS",
                        help="score the samples on Ray actors (one per GPU, else one per --ray-cpus-per-worker CPUs): "
                             "'auto' (a running cluster, else a local one) or a cluster address; same numbers as a "
                             "local run; needs pip install 'comfyui-actionmesh[ray]' and paths every node can read")
    parser.add_argument("--ray-workers", type=int, help="Ray actors (default: one per GPU, else CPUs / "
                                                        "--ray-cpus-per-worker)")
    parser.add_argument("--ray-cpus-per-worker", type=float, default=1,
                        help="CPUs per Ray actor on a cluster without GPUs (default 1)")
    parser.set_defaults(func=run, extra="eval")


def pool_from(args: argparse.Namespace):
    """None (score here), or Ray actors when --ray is given."""
    if args.ray is None:
        return None
    from ..parallel.ray_pool import RayPool

    return functools.partial(RayPool, address=args.ray, workers=args.ray_workers,
                             cpus_per_worker=args.ray_cpus_per_worker)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(args.pred_root) / DEFAULT_CSV
    summary = evaluate_dataset(args.gt_root, args.pred_root, out, seed=args.seed,
                               protocol=FAST if args.fast else OFFICIAL, mesh_pattern=args.mesh_pattern,
                               recompute=args.recompute, device=args.device, pool=pool_from(args))
    print()
    print(format_table(read_rows(out), summary))
    print(f"\nper-sample results: {out}\nsummary: {out}.summary.json")
    return 1 if summary["failed"] else 0
