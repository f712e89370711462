"""The output folder of one run: which formats go to which names, written all or nothing.

`video2mesh`, `extend`, `demo` and every item of `batch` write their results through `write_outputs`, so a
batch item's folder holds exactly what a single run writes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from ..base.atomic import staged_files
from .formats import FORMATS, export_animated_mesh, export_skinned_mesh, log_skin_report
from .mp4 import write_overlay_mp4
from .frame_meshes import remove_stale_frames

DEFAULT_OUTPUTS = ("glb", "frames", "npz")

OUTPUT_NAMES = {"glb": "animated_mesh.glb", "npz": "animated_mesh.npz", "usd": "animated_mesh.usd",
                "usdz": "animated_mesh.usdz", "mp4": "preview.mp4", "frames": "", "obj": "obj", "ply": "ply",
                "overlay": "overlay.mp4", "skinned_glb": "skinned_mesh.glb", "usdskel": "skinned_mesh.usd"}
"""Where each output goes inside the output folder ("": the folder itself, for mesh_00.glb, ...)."""
OUTPUT_FORMATS = {"skinned_glb": "skinned-glb"}
"""The export format of each output whose name is not the format's."""


def parse_outputs(outputs: str | Sequence[str]) -> tuple[str, ...]:
    """"glb,frames,npz" (commas, semicolons or spaces) or a sequence of names -> the validated names, in
    order, without repeats. An unknown name or an empty list is an InputError."""
    names = outputs.replace(";", ",").replace(" ", ",").split(",") if isinstance(outputs, str) else list(outputs)
    formats = tuple(dict.fromkeys(str(name).strip().lower() for name in names if str(name).strip()))
    unknown = [fmt for fmt in formats if fmt not in OUTPUT_NAMES]
    if unknown:
        raise InputError(f"unknown output {unknown[0]!r}; choose from {', '.join(OUTPUT_NAMES)}")
    if not formats:
        raise InputError(f"no outputs asked for; choose from {', '.join(OUTPUT_NAMES)}")
    return formats


def write_outputs(anim: AnimatedMesh, out_dir: str | os.PathLike, outputs: str | Sequence[str],
                  frames: np.ndarray | None = None, skin_options: dict | None = None) -> list[Path]:
    """Write the requested formats into out_dir, all or none: animated_mesh.glb, mesh_XX.glb, ...

    frames: the video frames (T, H, W, 3), for the overlay (which also needs `anim.cameras`).
    skin_options: `export_skinned_mesh`'s options for the skinned outputs (skinned_glb, usdskel), which log their
    report (bones, error, size) through the pack's logger.
    Everything is written into a hidden staging folder inside out_dir (`staged_files`: the same file system, so
    also a mount point works) and moved in only once every format is written, so a failing format leaves
    out_dir as it was. Other files in out_dir are kept, except per-frame meshes of an earlier, longer run when
    this run writes per-frame meshes."""
    formats = parse_outputs(outputs)
    if "overlay" in formats and (frames is None or anim.cameras is None):
        raise InputError("the overlay output needs the video and a result registered to it (video2mesh, colour)")
    out_dir = Path(out_dir)
    with staged_files(out_dir) as staging:
        written = [write_overlay_mp4(anim, frames, staging / OUTPUT_NAMES[fmt]) if fmt == "overlay"
                   else _write_output(anim, OUTPUT_FORMATS.get(fmt, fmt), staging / OUTPUT_NAMES[fmt], skin_options)
                   for fmt in formats]
        names = {entry.name for entry in staging.iterdir()}
    if "frames" in formats:  # per-frame meshes of an earlier, longer run
        remove_stale_frames(out_dir, names)
    return [out_dir / path.relative_to(staging) for path in written]


def _write_output(anim: AnimatedMesh, fmt: str, path: Path, skin_options: dict | None) -> Path:
    if not FORMATS[fmt].skinned:
        return export_animated_mesh(anim, fmt, path)
    report = export_skinned_mesh(anim, fmt, path, **(skin_options or {}))
    log_skin_report(report)
    return report.path
