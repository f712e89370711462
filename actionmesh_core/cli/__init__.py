"""The `actionmesh` command. Each subcommand lives in its own module with a `register(subparsers)`
function that adds its parser and sets `func` (called with the parsed args, returns an exit code) and, for
the optional parts, `extra` (the PyPI extra it needs: checked before `func` runs).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Iterator

from ..base.extras import require_extra
from ..base.log import LOGGER_NAME
from ..errors import ActionMeshError

SUBCOMMAND_MODULES = ("video2mesh", "batch", "extend", "colour", "demo", "export", "weights", "bench", "eval",
                      "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actionmesh", description="ActionMesh: video -> animated 3D mesh with one fixed topology."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


class _Console(logging.Handler):
    """The pack's log messages on the stderr of the moment (INFO and up: e.g. a skinned export's report)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


@contextlib.contextmanager
def pack_log_on_console() -> Iterator[None]:
    """While a command runs, the pack logger's INFO messages (and warnings) go to the console; the logger is left
    as it was after."""
    logger, handler = logging.getLogger(LOGGER_NAME), _Console(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    if level == logging.NOTSET or level > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Run one command. Every failure a user can cause ends in one line on stderr: exit code 2 for bad input
    (ActionMeshError) or an OS error, 130 for Ctrl-C, also while the command's modules (torch...) load."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with pack_log_on_console():
        return _run(argv)


def _run(argv: list[str]) -> int:
    name = " ".join(["actionmesh", *[arg for arg in argv if not arg.startswith("-")][:1]])  # until args are parsed
    try:
        args = build_parser().parse_args(argv)
        name = f"actionmesh {args.command}"
        if getattr(args, "extra", None):
            require_extra(args.extra, name)
        return int(args.func(args) or 0)
    except ActionMeshError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine's, not the program's: a file that cannot be read, a device that failed
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"{name}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
