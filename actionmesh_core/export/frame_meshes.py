"""Per-frame meshes: `mesh_00.glb`, `mesh_01.glb`, ... (the layout ActionBench's evaluator reads).

Each file is frame k as a static mesh in the model frame (+Y up, unchanged vertices, no mirror): the
same positions as frame k of the animated GLB. GLB files are written by the animated GLB's writer
without targets, so they have the same primitives and materials. OBJ and PLY files are written by
trimesh: OBJ files hold one object per material (`AnimatedMesh.material_parts`, as the GLB's primitives)
and share one `material.mtl` with its textures; PLY files keep vertex colours.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from ..base.atomic import staged_files
from .gltf import frame_glbs

FRAME_FORMATS = ("glb", "obj", "ply")


def frame_file_name(index: int, num_frames: int, fmt: str = "glb") -> str:
    """`mesh_07.glb`: two digits, more when there are over 100 frames."""
    width = max(2, len(str(num_frames - 1)))
    return f"mesh_{index:0{width}d}.{fmt}"


def write_frame_meshes(anim: AnimatedMesh, out_dir: str | os.PathLike, *, fmt: str = "glb") -> list[Path]:
    """Write one mesh file per frame into the folder `out_dir`. Returns the paths, in frame order.

    Every file is first written to a temporary folder beside `out_dir`; only when all frames are
    written do they replace the old ones, so a failed export leaves the folder as it was. Other
    files in the folder are kept, except `mesh_*.<fmt>` files left by an earlier, longer export,
    which are removed so that the folder holds one clip.
    """
    if fmt not in FRAME_FORMATS:
        raise InputError(f"per-frame mesh format must be one of {FRAME_FORMATS}, got {fmt!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is a file; per-frame meshes need a folder path")
    paths = [out_dir / frame_file_name(k, anim.num_frames, fmt) for k in range(anim.num_frames)]
    with staged_files(out_dir) as staging:
        for files in _frame_files(anim, [path.name for path in paths], fmt):
            for name, data in files.items():
                (staging / name).write_bytes(data)
    remove_stale_frames(out_dir, {path.name for path in paths}, fmt)
    return paths


def remove_stale_frames(folder: Path, keep: set[str], fmt: str = "glb") -> None:
    """Delete the `mesh_NN.<fmt>` files in `folder` not named in `keep` (left by an earlier, longer export)."""
    stale = re.compile(rf"mesh_\d+\.{fmt}")
    for path in folder.iterdir():
        if stale.fullmatch(path.name) and path.name not in keep:
            path.unlink()


def _frame_files(anim: AnimatedMesh, names: list[str], fmt: str) -> Iterator[dict[str, bytes]]:
    """The files of each frame, in order: {file name: bytes}; frame 0 of an OBJ export adds the shared
    material."""
    import trimesh
    from trimesh.exchange.obj import export_obj

    if fmt == "glb":  # the animated GLB's writer, so that primitives and materials match that file
        yield from ({name: data} for name, data in zip(names, frame_glbs(anim)))
        return
    for k, name in enumerate(names):
        if fmt == "ply":
            yield {name: anim.frame(k).export(file_type=fmt)}
            continue
        # one OBJ object per material, sharing one .mtl
        text, material_files = export_obj(trimesh.Scene(anim.frame_by_material(k)), return_texture=True,
                                          mtl_name="material.mtl")
        yield {name: text.encode()} | (material_files if k == 0 else {})
