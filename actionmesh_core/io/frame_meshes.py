"""Per-frame meshes: `mesh_00.glb`, `mesh_01.glb`, ... (the layout ActionBench's evaluator reads).

Each file is frame k as a static mesh, written by trimesh in the model frame (+Y up, unchanged
vertices, no mirror): the same positions as frame k of the animated GLB. OBJ files share one
`material.mtl` (and its texture) when the mesh has a material; PLY files keep vertex colours.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from .atomic import atomic_path

FRAME_FORMATS = ("glb", "obj", "ply")


def frame_file_name(index: int, num_frames: int, fmt: str = "glb") -> str:
    """`mesh_07.glb`: two digits, more when there are over 100 frames."""
    width = max(2, len(str(num_frames - 1)))
    return f"mesh_{index:0{width}d}.{fmt}"


def write_frame_meshes(anim: AnimatedMesh, out_dir: str | os.PathLike, *, fmt: str = "glb") -> list[Path]:
    """Write one mesh file per frame into the folder `out_dir`. Returns the paths, in frame order.

    Each file is replaced atomically. Other files in the folder are kept, except `mesh_*.<fmt>`
    files left by an earlier, longer export, which are removed so that the folder holds one clip.
    """
    from trimesh.exchange.obj import export_obj

    if fmt not in FRAME_FORMATS:
        raise InputError(f"per-frame mesh format must be one of {FRAME_FORMATS}, got {fmt!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is a file; per-frame meshes need a folder path")
    paths = [out_dir / frame_file_name(k, anim.num_frames, fmt) for k in range(anim.num_frames)]
    for k, path in enumerate(paths):
        mesh = anim.frame(k)
        if fmt == "obj":
            text, material_files = export_obj(mesh, return_texture=True, mtl_name="material.mtl")
            files = {path.name: text.encode()} | (material_files if k == 0 else {})
        else:
            files = {path.name: mesh.export(file_type=fmt)}
        for name, data in files.items():
            with atomic_path(out_dir / name) as tmp:
                tmp.write_bytes(data)
    stale = re.compile(rf"mesh_\d+\.{fmt}")
    for old in set(out_dir.iterdir()) - set(paths):
        if stale.fullmatch(old.name):
            old.unlink()
    return paths
