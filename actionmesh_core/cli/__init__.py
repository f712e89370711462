"""The `actionmesh` command. Each subcommand lives in its own module with a `register(subparsers)`
function that adds its parser and sets `func` (called with the parsed args, returns an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import ActionMeshError

SUBCOMMAND_MODULES = ("video2mesh", "extend", "colour", "demo", "export", "weights", "bench", "eval", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actionmesh", description="ActionMesh: video -> animated 3D mesh with one fixed topology."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ActionMeshError as exc:
        print(f"actionmesh {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"actionmesh {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
