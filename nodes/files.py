"""Files the nodes read and write: combos of input files, paths that cannot leave their folder, ComfyUI-style
numbered output names, and change signatures for IS_CHANGED."""

from __future__ import annotations

import re
from pathlib import Path

from ..actionmesh_core.base.atomic import make_folder
from ..actionmesh_core.base.safe_paths import contained_path


def list_files(root: Path, subfolder: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files under root/subfolder (recursively) with one of `suffixes`, as sorted '/'-separated names relative
    to `root` (the values of a ComfyUI file combo)."""
    folder = root / subfolder
    if not folder.is_dir():
        return []
    return sorted(path.relative_to(root).as_posix() for path in folder.rglob("*")
                  if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith("."))


NUMBER_WIDTH = 5
LONGEST_SUFFIX = ".usdz"


def output_stem(root: Path, prefix: str, suffix: str = LONGEST_SUFFIX) -> Path:
    """The checks of `numbered_path` without writing anything (for VALIDATE_INPUTS): root/<prefix> must name
    a file strictly inside `root` after resolution, and so must the numbered name made from it."""
    stem = contained_path(root, prefix, what="file name prefix")
    contained_path(root, f"{prefix}_{0:0{NUMBER_WIDTH}}_{suffix}", what="file name prefix")
    return stem


def numbered_path(root: Path, prefix: str, suffix: str) -> Path:
    """The next free root/<prefix>_<counter:05>_<suffix>, numbered like ComfyUI's own savers. The prefix may
    name subfolders (created) but must name a file strictly inside `root` (checked before anything is
    created); `suffix` is e.g. ".glb", or "" for a folder."""
    stem = output_stem(root, prefix, suffix)
    make_folder(stem.parent)
    used = re.compile(rf"{re.escape(stem.name)}_(\d+)_")
    counters = [int(m.group(1)) for p in stem.parent.iterdir() if (m := used.match(p.name))]
    name = f"{stem.name}_{max(counters, default=0) + 1:0{NUMBER_WIDTH}}_{suffix}"
    return contained_path(root, (stem.parent / name).relative_to(root.resolve()).as_posix(), what="file name prefix")


def signature(path: Path) -> str:
    """What changes when a file or folder tree is replaced: every file's name, size and modification time."""
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    return ";".join(f"{f}:{s.st_size}:{s.st_mtime_ns}" for f in files if f.is_file() for s in [f.stat()])
