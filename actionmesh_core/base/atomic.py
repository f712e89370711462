"""Write files so that a reader never sees half of one: write to a temporary name on the same file system,
then rename (one atomic step). OS errors while writing (a full disk, no permission, a read-only mount, a file
where a folder is expected...) become one `OutputError` that says what to do, and nothing half-written is
left behind: temporary files, staging folders and the folders made for them are removed."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import OutputError

STAGING_PREFIX = ".actionmesh-staging-"
PROBE_BYTES = 4096

_WRITE_ERRORS = {
    errno.ENOSPC: "the disk holding {path} is full; free some space or write somewhere else",
    errno.EDQUOT: "the disk quota for {path} is used up; free some space or write somewhere else",
    errno.EACCES: "no permission to write to {path}; choose a folder you can write to, or change its permissions",
    errno.EPERM: "no permission to write to {path}; choose a folder you can write to, or change its permissions",
    errno.EROFS: "{path} is on a read-only file system; choose a writable folder",
    errno.EXDEV: "cannot move the finished files into {path} from another file system; write to a folder on one "
                 "file system",
    errno.ENOTDIR: "{path}, or a folder above it, is a file where a folder is expected; give a folder path",
    errno.EISDIR: "{path} is a folder where a file is expected; give a file name",
    errno.EEXIST: "{path} already exists and is not a folder; give another path",
    errno.ENAMETOOLONG: "a name in {path} is too long for the file system; give a shorter one",
    errno.EFBIG: "a file is too large for the file system holding {path}; write somewhere else",
    errno.EBUSY: "{path} is busy (a mount point or a file in use); write to a folder inside it",
}


def output_error(exc: OSError, path: str | os.PathLike) -> OutputError:
    """`exc`, raised while writing `path`, as one line that says what to do."""
    template = _WRITE_ERRORS.get(exc.errno)
    if template is None:
        return OutputError(f"cannot write {path}: {exc.strerror or exc}")
    return OutputError(template.format(path=path))


@contextlib.contextmanager
def output_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn an OSError raised inside the block into `output_error(exc, path)`."""
    try:
        yield
    except OSError as exc:
        raise output_error(exc, path) from None


def make_folder(folder: str | os.PathLike) -> list[Path]:
    """Create `folder` and its missing parents. Returns the folders created, deepest first (for
    `remove_folders`). A file in the way is an OutputError."""
    folder = Path(folder)
    missing, above = [], folder
    while not above.exists() and not above.is_symlink() and above != above.parent:
        missing.append(above)
        above = above.parent
    if not above.is_dir():
        raise OutputError(f"{above} is a file where a folder is expected; give a folder path")
    with output_errors(folder):
        folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_folders(folders: list[Path]) -> None:
    """Remove the (empty) folders that `make_folder` created, deepest first."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def check_output_folder(folder: str | os.PathLike) -> None:
    """Fail now, before any expensive work, when `folder` cannot take outputs: it is a file, or it cannot be
    written to (no permission, read-only, full). A probe file is written and removed inside it, and the
    folders made for the probe are removed again."""
    folder = Path(folder)
    created = make_folder(folder)
    try:
        with output_errors(folder):
            fd, probe = tempfile.mkstemp(prefix=".actionmesh-probe-", dir=folder)
            try:
                os.write(fd, b"\0" * PROBE_BYTES)
            finally:
                os.close(fd)
                os.unlink(probe)
    finally:
        remove_folders(created)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Scratch:
    """The temporary file or folder of one write (`path`), removed unless the write clears `path` once it has
    moved it into place."""

    path: Path | None = None


@contextlib.contextmanager
def _guarded_write(target: Path, created: list[Path]) -> Iterator[_Scratch]:
    """Around one write to `target`: an OSError becomes an OutputError naming it; the scratch left over is
    removed whatever happens, and on failure the folders made for the write (`created`) too."""
    scratch = _Scratch()
    try:
        with output_errors(target):
            yield scratch
    except BaseException:
        _remove(scratch.path)
        scratch.path = None
        remove_folders(created)
        raise
    finally:
        _remove(scratch.path)


def _remove(path: Path | None) -> None:
    if path is not None and path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path is not None:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    On any exception the temporary file (and any folder made for it) is removed and `path` is left as it was.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder where a file is expected; give a file name")
    with _guarded_write(path, make_folder(path.parent)) as scratch:
        fd, name = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp" + path.suffix, dir=path.parent)
        os.close(fd)
        scratch.path = Path(name)
        scratch.path.chmod(0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        yield scratch.path
        os.replace(scratch.path, path)
        scratch.path = None


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces the folder `path`.

    An existing folder at `path` is removed only after everything new was written. A mount point cannot be
    renamed: its entries are replaced instead (each one atomically, see `staged_files`), and entries the
    block did not write are removed."""
    path = Path(path)
    if path.is_dir() and os.path.ismount(path):
        with staged_files(path, keep_others=False) as tmp:
            yield tmp
        return
    with _guarded_write(path, make_folder(path.parent)) as scratch:
        scratch.path = Path(tempfile.mkdtemp(prefix=f".{path.name[:200]}.", suffix=".tmp", dir=path.parent))
        scratch.path.chmod(0o777 & ~_umask())
        yield scratch.path
        if path.exists():
            old = path.with_name(f".{path.name[:200]}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(scratch.path, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(scratch.path, path)
        scratch.path = None


@contextlib.contextmanager
def staged_files(folder: str | os.PathLike, *, keep_others: bool = True) -> Iterator[Path]:
    """Yield a hidden staging folder INSIDE `folder`; on success move every entry in it into `folder`.

    The staging folder sits on the same file system as its target, so every final rename is atomic and
    always possible, also when `folder` is a mount point (a Docker volume). Entries of the same name are
    replaced, one rename each (a sub-folder as a whole); other entries of `folder` are kept (keep_others)
    or removed. If the block raises, `folder` is left as it was (not even created) and the staging folder is
    removed.
    """
    folder = Path(folder)
    with _guarded_write(folder, make_folder(folder)) as scratch:
        scratch.path = tmp = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
        yield tmp
        staged = sorted(tmp.iterdir())
        names = {entry.name for entry in staged} | {tmp.name}
        for entry in staged:
            target = folder / entry.name
            if target.is_dir() or (entry.is_dir() and target.exists()):
                os.replace(target, tmp / f".old.{entry.name}")  # removed with the staging folder
            os.replace(entry, target)
        if not keep_others:
            for other in folder.iterdir():
                if other.name not in names:
                    os.replace(other, tmp / f".old.{other.name}")


def remove_staging_leftovers(folders: Iterable[str | os.PathLike]) -> list[Path]:
    """Remove the staging folders that `staged_files` left inside any of `folders` when its process was killed
    before it could clean up (a folder left empty by that goes too); returns what it removed.

    Call it only while no process writes into these folders."""
    removed = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue
        leftovers = list(folder.glob(f"{STAGING_PREFIX}*"))
        for entry in leftovers:
            shutil.rmtree(entry, ignore_errors=True)
        if leftovers and not any(folder.iterdir()):
            folder.rmdir()
        removed += leftovers
    return removed
