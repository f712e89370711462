"""`export_animated_mesh`: one entry point for every output format of an `AnimatedMesh`.

| format            | writes                                               | options                          |
|-------------------|------------------------------------------------------|----------------------------------|
| glb               | one animated GLB (morph targets + weights animation) | interpolation, normals           |
| frames, obj, ply  | a folder of per-frame meshes `mesh_00.<ext>`, ...    | -                                |
| usd               | a USD layer (.usd/.usdc/.usda), time-sampled points  | normals                          |
| usdz              | the same, packed with its texture                    | normals                          |
| npz               | raw arrays: vertices (T, V, 3), faces, fps, ...      | -                                |
| mp4               | a preview video (renders, optionally beside input)   | see MP4_OPTIONS                  |

A file path without a suffix gets the format's suffix (a folder is refused where a file is expected); every file
is written atomically.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from ..animated_mesh import AnimatedMesh
from ..errors import InputError, OutputError
from .frame_meshes import write_frame_meshes
from .gltf import write_animated_glb
from .mp4 import write_preview_mp4
from .usd import write_usd

MP4_OPTIONS = frozenset({"input_frames", "azimuths", "fps", "size", "mode", "elevation_deg", "distance", "fit"})


class _Format(NamedTuple):
    write: Callable[..., object]
    suffixes: tuple[str, ...]  # empty for a folder
    options: frozenset[str]


FORMATS: dict[str, _Format] = {
    "glb": _Format(write_animated_glb, (".glb",), frozenset({"interpolation", "normals"})),
    "frames": _Format(functools.partial(write_frame_meshes, fmt="glb"), (), frozenset()),
    "obj": _Format(functools.partial(write_frame_meshes, fmt="obj"), (), frozenset()),
    "ply": _Format(functools.partial(write_frame_meshes, fmt="ply"), (), frozenset()),
    "usd": _Format(write_usd, (".usd", ".usdc", ".usda"), frozenset({"normals"})),
    "usdz": _Format(write_usd, (".usdz",), frozenset({"normals"})),
    "npz": _Format(AnimatedMesh.save, (".npz",), frozenset()),
    "mp4": _Format(write_preview_mp4, (".mp4",), MP4_OPTIONS),
}


def export_animated_mesh(anim: AnimatedMesh, fmt: str, out_path: str | os.PathLike, **options) -> Path:
    """Write `anim` in format `fmt` (a key of FORMATS) to `out_path`; returns the file or folder written.

    options: the format's keyword options (see the table above); any other option is an InputError.
    """
    if not isinstance(anim, AnimatedMesh):
        raise InputError(f"export needs an AnimatedMesh, got {type(anim).__name__}")
    spec = FORMATS.get(str(fmt).lower())
    if spec is None:
        raise InputError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    unknown = sorted(set(options) - spec.options)
    if unknown:
        accepted = ", ".join(sorted(spec.options)) or "none"
        raise InputError(f"option(s) {', '.join(unknown)} do not apply to format {fmt!r} (it takes: {accepted})")
    out_path = Path(out_path)
    if spec.suffixes:
        if out_path.is_dir():
            raise OutputError(f"{out_path} is a folder, but format {fmt!r} writes one file: give a file name, e.g. "
                              f"{out_path / ('animated_mesh' + spec.suffixes[0])}")
        if not out_path.suffix:
            out_path = out_path.with_name(out_path.name + spec.suffixes[0])
        elif out_path.suffix.lower() not in spec.suffixes:
            raise InputError(f"format {fmt!r} writes {' or '.join(spec.suffixes)} files; got {out_path.name!r}")
    spec.write(anim, out_path, **options)
    return out_path
