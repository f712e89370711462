"""Write files so that a reader never sees half of one: write to a temporary name, then rename."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    On any exception the temporary file is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    tmp.chmod(0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces the folder `path`.

    An existing folder at `path` is removed only after everything new was written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def staged_files(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `folder`; on success move every entry in it into `folder`.

    Entries of the same name are replaced, one rename each (a sub-folder as a whole); other entries of
    `folder` are kept. If the block raises, `folder` is left as it was (not even created) and the
    temporary folder is removed.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        yield tmp
        folder.mkdir(exist_ok=True)
        for staged in sorted(tmp.iterdir()):
            target = folder / staged.name
            if target.is_dir() or (staged.is_dir() and target.exists()):
                os.replace(target, tmp / f".old.{staged.name}")  # removed with the temporary folder
            os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_LEFTOVER = re.compile(r"\.(?P<nested>\.)?(?P<name>.+)\.[a-z0-9_]{8}\.tmp(?(nested)\.[a-z0-9_]{8}\.tmp)")
"""The temporary folder of `staged_files(folder)`: ".<folder name>.<8 random characters>.tmp", and of a nested
`staged_files` of that folder (per-frame meshes staged inside it): "." + that name + ".<8 characters>.tmp"."""


def remove_staging_leftovers(folders: Iterable[str | os.PathLike]) -> list[Path]:
    """Remove the temporary folders that `staged_files` left beside any of `folders` when its process was
    killed before it could clean up (one listing per parent folder); returns what it removed.

    Only names of exactly that form are touched. Call it only while no process writes into these folders."""
    by_parent: dict[Path, set[str]] = {}
    for folder in map(Path, folders):
        by_parent.setdefault(folder.parent, set()).add(folder.name)
    removed = []
    for parent, names in by_parent.items():
        if not parent.is_dir():
            continue
        for entry in parent.iterdir():
            match = _LEFTOVER.fullmatch(entry.name)
            if match and match["name"] in names and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed
