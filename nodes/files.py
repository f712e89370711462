"""Files the nodes read and write: combos of input files, paths that cannot leave their folder, ComfyUI-style
numbered output names, and change signatures for IS_CHANGED."""

from __future__ import annotations

import re
from pathlib import Path

from ..actionmesh_core.errors import InputError


def inside(root: Path, relative: str) -> Path:
    """root / relative, refusing names that are empty, absolute, or lead outside `root` (.., links)."""
    if not relative or "\0" in relative or Path(relative).is_absolute():
        raise InputError(f"{relative!r} is not a file name relative to {root}")
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise InputError(f"{relative!r} leads outside {root}; give a name inside that folder")
    return path


def list_files(root: Path, subfolder: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files under root/subfolder (recursively) with one of `suffixes`, as sorted '/'-separated names relative
    to `root` (the values of a ComfyUI file combo)."""
    folder = root / subfolder
    if not folder.is_dir():
        return []
    return sorted(path.relative_to(root).as_posix() for path in folder.rglob("*")
                  if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith("."))


def numbered_path(root: Path, prefix: str, suffix: str) -> Path:
    """The next free root/<prefix>_<counter:05>_<suffix>, numbered like ComfyUI's own savers. The prefix may
    name subfolders (created) but must stay inside `root`; `suffix` is e.g. ".glb", or "" for a folder."""
    target = inside(root, prefix)
    used = re.compile(rf"{re.escape(target.name)}_(\d+)_")
    target.parent.mkdir(parents=True, exist_ok=True)
    counters = [int(m.group(1)) for p in target.parent.iterdir() if (m := used.match(p.name))]
    return target.parent / f"{target.name}_{max(counters, default=0) + 1:05}_{suffix}"


def signature(path: Path) -> str:
    """What changes when a file or folder tree is replaced: every file's name, size and modification time."""
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    return ";".join(f"{f}:{s.st_size}:{s.st_mtime_ns}" for f in files if f.is_file() for s in [f.stat()])
