"""Paths built from names that someone else controls, kept inside their folder. The one audited place.

Every name that comes from outside the program goes through `contained_path` before anything is read or
written with it: a ComfyUI widget value (an input file, an output prefix), a URI inside a glTF file, an OBJ's
`mtllib` / `map_Kd` or a PLY's `TextureFile` (`resource_path`). A ComfyUI server is often shared or exposed,
so every such name is treated as hostile:

- it must be a relative name: not empty, no NUL or other control character, no backslash (a Windows
  separator), no drive letter (`C:`), not absolute (`/etc`, `//server/share`);
- every component fits a file system (255 bytes), the whole name 4,096 bytes;
- after resolution (`..` segments and symbolic links followed) it names something strictly inside the
  folder: not the folder itself, nothing outside it.

`resource_path` also refuses URI schemes (`file:`, `http:` ...) and decodes a URI's percent-escapes exactly
once before the checks, so `%2e%2e%2f` is `../` and is refused, while a double-encoded `%252e` stays a
literal `%2e` inside the folder.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from ..errors import ActionMeshError, InputError, MeshError

MAX_NAME_BYTES = 255
"""The longest file or folder name most file systems take (ext4, APFS, NTFS)."""
MAX_PATH_BYTES = 4096
_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def check_relative_name(name: str, *, what: str = "name", error: type[ActionMeshError] = InputError) -> PurePosixPath:
    """The lexical checks of `contained_path` (see the module docstring), without touching the file system.
    Returns the name as a '/'-separated relative path."""
    if not isinstance(name, str) or not name.strip():
        raise error(f"the {what} is empty; give a file name")
    shown = ascii(name) if len(name) <= 120 else ascii(name[:117]) + "..."
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise error(f"the {what} {shown} holds a control character (NUL, newline...); give a plain file name")
    if "\\" in name:
        raise error(f"the {what} {shown} holds a backslash; separate folders with '/' and stay inside the folder")
    if _DRIVE.match(name) or name.startswith("/"):
        raise error(f"the {what} {shown} is an absolute path; give a name relative to its folder")
    encoded = name.encode("utf-8", "surrogateescape")
    longest = max(len(part.encode("utf-8", "surrogateescape")) for part in name.split("/"))
    if longest > MAX_NAME_BYTES or len(encoded) > MAX_PATH_BYTES:
        raise error(f"the {what} {shown} is too long ({longest} bytes in one name, {len(encoded)} in all; at most "
                    f"{MAX_NAME_BYTES} and {MAX_PATH_BYTES}); give a shorter name")
    return PurePosixPath(name)


def contained_path(root: str | os.PathLike, name: str, *, what: str = "name",
                   error: type[ActionMeshError] = InputError) -> Path:
    """root / name, resolved, when it lies strictly inside `root` (resolved too); else `error` saying why.

    name: a '/'-separated relative name from an untrusted source. Nothing is created or read; the path may
    not exist yet (its missing part is resolved lexically)."""
    relative = check_relative_name(name, what=what, error=error)
    base = Path(root).resolve()
    path = (base / relative).resolve()
    if path == base:
        raise error(f"the {what} {name!r} names the folder itself; give a file name inside it")
    if not path.is_relative_to(base):
        raise error(f"the {what} {name!r} leads outside its folder (through '..' or a link); give a name inside "
                    "that folder")
    return path


def resource_path(folder: str | os.PathLike, reference: str, *, what: str = "file reference",
                  percent_encoded: bool = True, error: type[ActionMeshError] = MeshError) -> Path:
    """A file that a mesh file refers to (a glTF buffer or image URI, an OBJ material or texture, a PLY
    texture), inside the mesh's own folder.

    percent_encoded: the reference is a URI (glTF): its %XX escapes are decoded once before the checks.
    Data URIs are not file references; decode them where they are read."""
    if not isinstance(reference, str):
        raise error(f"the {what} {reference!r} is not a file name")
    if _SCHEME.match(reference) and not _DRIVE.match(reference):
        raise error(f"the {what} {reference[:80]!r} is a URI with a scheme ({reference.split(':', 1)[0]}:); only "
                    "data: URIs and file names relative to the mesh's folder are read. Put the file beside the mesh "
                    "and refer to it by its relative name, or embed it (a .glb)")
    try:
        name = unquote(reference, errors="strict") if percent_encoded else reference.strip()
        return contained_path(folder, name, what=what, error=error)
    except UnicodeDecodeError:
        raise error(f"the {what} {reference[:80]!r} has %-escapes that are not UTF-8 text; fix the file") from None
    except ActionMeshError as exc:
        raise error(f"{exc}. A mesh file may only refer to files in its own folder (or below it)") from None
