"""`actionmesh train ...`: synthetic data, the four training stages, the weights bundle, and the held-out
benchmark. `scripts/train_tiny.sh` runs the whole recipe of the bundled small model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..pipeline.settings import PRESETS
from .run_options import preset_name
from ..train.heldout import PREDICTIONS

STAGE_HELP = {"vae": "VecSet VAE (SDF reconstruction + KL)", "dit": "image-to-3D DiT + small image encoder",
              "denoiser": "temporal denoiser (Stage I)", "autoencoder": "temporal autoencoder (Stage II)"}


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the models on synthetic animated objects",
                                   description="Synthetic data, training stages, bundling and held-out scoring. "
                                   "See scripts/train_tiny.sh for the recipe of the bundled small model.")
    parser.set_defaults(extra="train")
    actions = parser.add_subparsers(dest="action", required=True)

    data = actions.add_parser("data", help="render a synthetic training set (memory-mapped arrays)")
    data.add_argument("--split", choices=("train", "heldout"), default="train")
    data.add_argument("--count", type=int, required=True, help="number of clips")
    data.add_argument("--start", type=int, default=0, help="first seed index within the split")
    data.add_argument("--points", type=int, default=2048, help="tracked surface samples per clip")
    data.add_argument("--workers", type=int, default=2, help="rendering processes")
    data.add_argument("--out", type=Path, required=True)
    data.set_defaults(func=run_data)

    for stage, text in STAGE_HELP.items():
        sub = actions.add_parser(stage, help=f"train the {text}")
        sub.add_argument("--config", type=Path, required=True, help="recipe JSON (configs/train/)")
        sub.add_argument("--out", help="run folder (overrides the recipe's)")
        sub.add_argument("--data", help="dataset folder (overrides the recipe's)")
        sub.add_argument("--steps", type=int, help="total steps (overrides the recipe's)")
        sub.add_argument("--device", help="cpu, cuda, ... (overrides the recipe's)")
        sub.add_argument("--threads", type=int, help="CPU threads (overrides the recipe's)")
        sub.add_argument("--input", action="append", default=[], metavar="ROLE=FOLDER",
                         help="checkpoint of an earlier stage (overrides the recipe's), e.g. vae=runs/x/vae/checkpoint")
        sub.add_argument("--fresh", action="store_true", help="start over instead of resuming from the run folder")
        sub.set_defaults(func=run_stage, stage=stage)

    bundle = actions.add_parser("bundle", help="gather trained stages into one weights root")
    bundle.add_argument("--config", type=Path, required=True, help="bundle JSON (configs/train/)")
    bundle.set_defaults(func=run_bundle)

    bench = actions.add_parser("benchmark", help="write held-out clips in the ActionBench layout")
    bench.add_argument("--count", type=int, required=True)
    bench.add_argument("--points", type=int, default=20_000, help="tracked GT points per clip")
    bench.add_argument("--out", type=Path, required=True)
    bench.set_defaults(func=run_benchmark)

    predict = actions.add_parser("predict", help="run the pipeline and the still baselines on a benchmark")
    predict.add_argument("--bench", type=Path, required=True, help="folder written by `train benchmark`")
    predict.add_argument("--weights", type=Path, help="weights root (default: the bundled small model)")
    predict.add_argument("--out", type=Path, required=True)
    predict.add_argument("--preset", choices=PRESETS, default="model default", type=preset_name,
                         help="settings: the weights' recommendations (model default), official, fast or custom")
    predict.set_defaults(func=run_predict)

    score = actions.add_parser("score", help="CD-4D and CD-M of `train predict`'s outputs (frame-0 ICP only)")
    score.add_argument("--bench", type=Path, required=True, help="folder written by `train benchmark`")
    score.add_argument("--preds", type=Path, required=True, help="folder written by `train predict`")
    score.add_argument("--kinds", default=",".join(PREDICTIONS),
                       help=f"comma-separated predictions to score (default {','.join(PREDICTIONS)})")
    score.set_defaults(func=run_score)


def run_data(args: argparse.Namespace) -> int:
    from ..data.dataset import build_dataset

    build_dataset(args.out, args.split, args.count, start=args.start, points=args.points, workers=args.workers)
    print(f"wrote {args.out}")
    return 0


def run_stage(args: argparse.Namespace) -> int:
    from ..train import load_config, train

    config = load_config(args.config)
    if config.stage != args.stage:
        raise InputError(f"{args.config} is a recipe for stage {config.stage!r}, not {args.stage!r}")
    inputs = dict(config.inputs)
    for item in args.input:
        role, sep, folder = item.partition("=")
        if not sep:
            raise InputError(f"--input takes ROLE=FOLDER (e.g. vae=runs/tiny/vae/checkpoint), got {item!r}")
        inputs[role] = folder
    config = config.replace(out=args.out, data=args.data, steps=args.steps, device=args.device,
                            threads=args.threads, inputs=inputs)
    checkpoint = train(config, resume=not args.fresh)
    print(f"checkpoint: {checkpoint}")
    return 0


def run_bundle(args: argparse.Namespace) -> int:
    from ..train import bundle_weights

    try:
        out = bundle_weights(**json.loads(args.config.read_text()))
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise InputError(f"cannot use bundle recipe {args.config}: {exc!r}") from None
    print(f"wrote {out}")
    return 0


def run_benchmark(args: argparse.Namespace) -> int:
    from ..train.heldout import write_benchmark

    folders = write_benchmark(args.out, args.count, points=args.points)
    print(f"wrote {len(folders)} held-out clips to {args.out}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from ..pipeline import Settings, load_models
    from ..pipeline.model_set import BUNDLED_NAME
    from ..train.heldout import predict_benchmark

    models = load_models(args.weights or BUNDLED_NAME)
    settings = Settings.resolve(models.recommended, args.preset)
    print(f"settings: {settings.describe()}")
    predict_benchmark(args.bench, args.out, models, settings)
    print(f"wrote predictions to {args.out}; score them with `actionmesh train score --bench {args.bench} "
          f"--preds {args.out}` (CD-4D, CD-M) or `actionmesh eval` (all metrics, slow on a CPU)")
    return 0


def run_score(args: argparse.Namespace) -> int:
    from ..train.heldout import score_benchmark

    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    unknown = sorted(set(kinds) - set(PREDICTIONS))
    if unknown or not kinds:
        raise InputError(f"--kinds takes some of {', '.join(PREDICTIONS)}, got {args.kinds!r}")
    results = score_benchmark(args.bench, args.preds, kinds=kinds)
    uids = list(next(iter(results.values()))["clips"])
    groups = {"all": uids} | {c: [u for u in uids if u.rsplit("_", 1)[0] == c]
                               for c in sorted({u.rsplit("_", 1)[0] for u in uids})}
    print(f"{'clips':<16} {'prediction':<16} {'CD-4D':>8} {'CD-M':>8}")
    for group, members in groups.items():
        for kind, result in results.items():
            means = [float(np.mean([result["clips"][u][key] for u in members])) for key in ("cd_4d", "cd_m")]
            print(f"{group + f' ({len(members)})':<16} {kind:<16} {means[0]:>8.4f} {means[1]:>8.4f}")
    print(f"per clip: {args.preds / ('scores-' + '-'.join(kinds) + '.json')}")
    return 0
