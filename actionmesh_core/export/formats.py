"""`export_animated_mesh`: one entry point for every output format of an `AnimatedMesh`.

| format            | writes                                               | options                          |
|-------------------|------------------------------------------------------|----------------------------------|
| glb               | one animated GLB (morph targets + weights animation) | interpolation, normals           |
| frames, obj, ply  | a folder of per-frame meshes `mesh_00.<ext>`, ...    | -                                |
| usd               | a USD layer (.usd/.usdc/.usda), time-sampled points  | normals                          |
| usdz              | the same, packed with its texture                    | normals                          |
| npz               | raw arrays: vertices (T, V, 3), faces, fps, ...      | -                                |
| mp4               | a preview video (renders, optionally beside input)   | see MP4_OPTIONS                  |
| skinned-glb       | a GLB with a skeleton and joint animation (skinned)  | SKIN_OPTIONS, normals            |
| usdskel           | a USD layer or .usdz with a UsdSkel skeleton         | SKIN_OPTIONS, normals            |

A file path without a suffix gets the format's suffix (a folder is refused where a file is expected); every file
is written atomically. The skinned formats first fit a skin to the animation (`actionmesh_core.skinning`):
`export_skinned_mesh` returns the path with the fit's report (bones, error, size); `export_animated_mesh` logs
that report.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..animated_mesh import AnimatedMesh
from ..base.log import log
from ..errors import InputError, OutputError
from ..skinning import AUTO, DEFAULT_MAX_ERROR, DEFAULT_WORST_ERROR, SkinFit, SkinningConfig, decompose
from .frame_meshes import write_frame_meshes
from .gltf import write_animated_glb
from .gltf_skinned import write_skinned_glb
from .mp4 import write_preview_mp4
from .usd import write_usd, write_usdskel

MP4_OPTIONS = frozenset({"input_frames", "azimuths", "fps", "size", "mode", "elevation_deg", "distance", "fit"})
SKIN_OPTIONS = frozenset({"bones", "max_error", "worst_error", "max_bones", "seed", "device", "progress"})
"""The skin fit's options (see `export_skinned_mesh`)."""


class _Format(NamedTuple):
    write: Callable[..., object]  # write(anim, path, **options); skinned formats: write(anim, rig, path, **options)
    suffixes: tuple[str, ...]  # empty for a folder
    options: frozenset[str]
    skinned: bool = False


FORMATS: dict[str, _Format] = {
    "glb": _Format(write_animated_glb, (".glb",), frozenset({"interpolation", "normals"})),
    "frames": _Format(functools.partial(write_frame_meshes, fmt="glb"), (), frozenset()),
    "obj": _Format(functools.partial(write_frame_meshes, fmt="obj"), (), frozenset()),
    "ply": _Format(functools.partial(write_frame_meshes, fmt="ply"), (), frozenset()),
    "usd": _Format(write_usd, (".usd", ".usdc", ".usda"), frozenset({"normals"})),
    "usdz": _Format(write_usd, (".usdz",), frozenset({"normals"})),
    "npz": _Format(AnimatedMesh.save, (".npz",), frozenset()),
    "mp4": _Format(write_preview_mp4, (".mp4",), MP4_OPTIONS),
    "skinned-glb": _Format(write_skinned_glb, (".glb",), SKIN_OPTIONS | {"normals"}, skinned=True),
    "usdskel": _Format(write_usdskel, (".usd", ".usdc", ".usda", ".usdz"), SKIN_OPTIONS | {"normals"}, skinned=True),
}


@dataclass
class SkinnedExport:
    """What a skinned export wrote: the file, the skin fitted to the animation, and the file's size."""

    path: Path
    fit: SkinFit
    file_bytes: int

    def summary(self) -> str:
        """One line for users: file, size, bones and reconstruction error (and a missed target)."""
        return f"{self.path.name}: {self.file_bytes / 1e6:.2f} MB, {self.fit.summary()}"


def export_animated_mesh(anim: AnimatedMesh, fmt: str, out_path: str | os.PathLike, **options) -> Path:
    """Write `anim` in format `fmt` (a key of FORMATS) to `out_path`; returns the file or folder written.

    options: the format's keyword options (see the table above); any other option is an InputError.
    A skinned format logs its report (INFO; WARNING when "auto" missed the error target).
    """
    spec, out_path = _checked(anim, fmt, out_path, options)
    if spec.skinned:
        return log_skin_report(export_skinned_mesh(anim, fmt, out_path, **options)).path
    spec.write(anim, out_path, **options)
    return out_path


def export_skinned_mesh(anim: AnimatedMesh, fmt: str, out_path: str | os.PathLike, *, bones: int | str = AUTO,
                        max_error: float = DEFAULT_MAX_ERROR, worst_error: float | None = DEFAULT_WORST_ERROR,
                        max_bones: int = 64, seed: int = 0, device: str | None = None, progress=None,
                        **writer_options) -> SkinnedExport:
    """Fit a skin to `anim` (`actionmesh_core.skinning.decompose`) and write it as "skinned-glb" or "usdskel".

    bones: a bone count, or "auto": the fewest bones (up to `max_bones`) whose mean error is at most
    `max_error` % of the rest frame's bounding-box diagonal and whose worst vertex is at most `worst_error` % off
    (None: no bound on it); when none reaches it, the best skin found is written and the report says so.
    seed: the same seed gives the same skin. device: torch device of the fit (default cpu).
    progress: optional progress(stage, done, total). writer_options: `normals` (default on).
    Returns the report: path, fit (bones, mean and max error in %, time) and file size.
    """
    if str(fmt).lower() in FORMATS and not FORMATS[str(fmt).lower()].skinned:
        raise InputError(f"format {fmt!r} is not skinned; skinned formats: "
                         f"{', '.join(name for name, spec in FORMATS.items() if spec.skinned)}")
    options = dict(writer_options, bones=bones, max_error=max_error, worst_error=worst_error, max_bones=max_bones,
                   seed=seed, device=device, progress=progress)
    spec, out_path = _checked(anim, fmt, out_path, options)
    config = SkinningConfig(bones=bones, max_error=max_error, worst_error=worst_error, max_bones=max_bones, seed=seed,
                            device=device)
    fit = decompose(anim.vertices, config, progress=progress)
    spec.write(anim, fit.rig, out_path, **writer_options)
    return SkinnedExport(out_path, fit, out_path.stat().st_size)


def log_skin_report(report: SkinnedExport) -> SkinnedExport:
    """Log a skinned export's report through the pack's logger: INFO, or WARNING when "auto" missed its error
    target (the best skin found was written). Returns the report."""
    missed = report.fit.auto and not report.fit.target_met
    log.log(logging.WARNING if missed else logging.INFO, "%s", report.summary())
    return report


def _checked(anim: AnimatedMesh, fmt: str, out_path: str | os.PathLike, options: dict) -> tuple[_Format, Path]:
    """The format of `fmt` and the output path (the format's suffix added when it has none), after checking
    the animation, the options and the path's suffix (InputError otherwise)."""
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
    return spec, out_path
