"""`actionmesh weights check DIR`: which models a weights root holds, complete and compatible or not.
Reads safetensors headers only."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import InputError, WeightsError
from ..models.registry import (
    MODEL_NAMES,
    check_checkpoint,
    get_spec,
    resolve_model_folder,
)

OPTIONAL_MODELS = {"rmbg": "only needed for frames without alpha or masks"}
BYTES_PER_DTYPE = {"float32": 4, "float16": 2, "bfloat16": 2, "int64": 8}


def register(subparsers) -> None:
    weights = subparsers.add_parser("weights", help="inspect model weights")
    actions = weights.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="check every model under a weights root (headers only)")
    check.add_argument("root", nargs="?", help="weights root (default: $ACTIONMESH_WEIGHTS)")
    check.set_defaults(func=run_check)


def _describe(tensors) -> str:
    dtypes = sorted({t.dtype for t in tensors.values()})
    size = sum(BYTES_PER_DTYPE.get(t.dtype, 4) * _numel(t.shape) for t in tensors.values())
    return f"{len(tensors)} tensors, {'/'.join(dtypes)}, {size / 1e9:.2f} GB"


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _check_model(name: str, root: Path) -> bool:
    """Print one model's status line; True when it counts as a failure (required and absent, or broken)."""
    try:
        folder, _ = resolve_model_folder(name, root)
    except WeightsError as exc:
        optional = OPTIONAL_MODELS.get(name)
        status = f"not found (optional: {optional})" if optional else "MISSING"
        print(f"  {name:24s} {status}\n      {exc}")
        return optional is None
    try:
        _, _, _, tensors, report = check_checkpoint(name, folder)
    except WeightsError as exc:  # an unreadable safetensors header or config.json
        print(f"  {name:24s} BROKEN    {folder}\n      {exc}")
        return True
    if report.ok:
        print(f"  {name:24s} OK        {folder}  ({_describe(tensors)})")
        return False
    summary = report.summary().replace("\n", "\n      ")
    print(f"  {name:24s} BROKEN    {folder}\n      {summary}\n      expected files from {get_spec(name).source}")
    return True


def run_check(args: argparse.Namespace) -> int:
    root = args.root or os.environ.get("ACTIONMESH_WEIGHTS")
    if not root:
        raise InputError("give a weights root (actionmesh weights check DIR) or set ACTIONMESH_WEIGHTS")
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder")
    print(f"weights root: {root}")
    failures = sum(_check_model(name, root) for name in MODEL_NAMES)
    print("all required models are complete" if not failures else f"{failures} required model(s) missing or broken")
    return 0 if not failures else 1
