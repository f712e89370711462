"""`actionmesh weights check DIR`: which models a weights root holds, complete and compatible or not (reads
safetensors headers only). `actionmesh weights download [--only ...] [--root DIR]`: the official weights from the
Hugging Face hub into a root's layout, then the same check."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import InputError, WeightsError
from ..models.hub import COMPONENT_NAMES, DEFAULT_FOLDER, download_weights
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
    download = actions.add_parser(
        "download", help="download the official weights from the Hugging Face hub into a weights root",
        description="Fetches each model from its pinned hub revision into huggingface_hub's cache (HF_HUB_CACHE; "
                    "an interrupted download continues where it stopped) and hard-links the files into the "
                    "root's layout (copies them when the cache is on another disk), then checks the root. Only "
                    "config.json and safetensors files are fetched: never pickles, never code. Gated "
                    "repositories need `hf auth login` (or HF_TOKEN) and their licence accepted on the model "
                    "page. With HF_HUB_OFFLINE=1 the files come from the cache alone. About 16 GB in all.")
    download.add_argument("--only", help=f"comma-separated components (default: all): {','.join(COMPONENT_NAMES)}"
                                         " (rmbg is optional: skipped with a note when it cannot be had, unless "
                                         "named here)")
    download.add_argument("--root", type=Path, help="weights root (default: $ACTIONMESH_WEIGHTS, else "
                                                    f"ComfyUI/models/actionmesh/{DEFAULT_FOLDER} when this package "
                                                    "sits in ComfyUI/custom_nodes)")
    download.add_argument("--revision", action="append", default=[], metavar="REPO=REV",
                          help="download a repository (or component) at another revision than the pinned one, "
                               "e.g. --revision facebook/ActionMesh=main; repeatable")
    download.add_argument("--cache-dir", type=Path, help="huggingface_hub's cache (default: HF_HUB_CACHE); put "
                                                         "it on the root's disk so that files are hard-linked")
    download.set_defaults(func=run_download)


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
    return 0 if not print_check(root) else 1


def print_check(root: Path) -> int:
    """Print every model's state under root; returns the number of required models missing or broken."""
    print(f"weights root: {root}")
    failures = sum(_check_model(name, root) for name in MODEL_NAMES)
    print("all required models are complete" if not failures else f"{failures} required model(s) missing or broken")
    return failures


def comfyui_weights_root() -> Path | None:
    """ComfyUI/models/actionmesh/official when this package sits in ComfyUI/custom_nodes/<pack>/, else None."""
    package = Path(__file__).resolve().parents[1]
    comfyui = package.parents[2]
    if package.parents[1].name == "custom_nodes" and (comfyui / "models").is_dir():
        return comfyui / "models" / "actionmesh" / DEFAULT_FOLDER
    return None


def run_download(args: argparse.Namespace) -> int:
    root = args.root or (Path(os.environ["ACTIONMESH_WEIGHTS"]) if os.environ.get("ACTIONMESH_WEIGHTS") else None) \
        or comfyui_weights_root()
    if root is None:
        raise InputError("give the folder to download into (--root DIR) or set ACTIONMESH_WEIGHTS; for ComfyUI use "
                         f"ComfyUI/models/actionmesh/{DEFAULT_FOLDER}")
    revisions = {}
    for entry in args.revision:
        key, _, value = entry.partition("=")
        revisions[key.strip()] = value.strip()
    components = args.only.split(",") if args.only else None
    print(f"downloading into {root}; licences are printed per repository: by downloading you accept them")
    try:
        fetched = download_weights(root, components, revisions=revisions, cache_dir=args.cache_dir)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to continue (finished files are kept)")
        raise
    copied = sum(f.copied for f in fetched)
    if copied:
        print(f"{copied} files were copied, not hard-linked, because the hub cache is on another disk: "
              "`hf cache delete` frees the cache's copy, or set HF_HUB_CACHE (--cache-dir) on the root's disk")
    print()
    print_check(Path(root))
    skipped = [f.component for f in fetched if f.skipped]
    if skipped:
        print(f"skipped {', '.join(skipped)} (optional, see above); once you have access, "
              f"`actionmesh weights download --only {','.join(skipped)}` adds it")
    return 0
