"""Time the exporters and the preview renderer on a result of the bundled example's size.

Usage (from the repository root, package installed): .venv/bin/python scripts/bench_export.py
       [--frames 16] [--faces 40000] [--out DIR]
Prints one line per step: seconds, and for files the size and bytes per frame per vertex.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

from actionmesh_core.animated_mesh import AnimatedMesh
from actionmesh_core.export.formats import export_animated_mesh
from actionmesh_core.render import render_rgba, renderer_name


def twisting_sphere(num_frames: int, num_faces: int) -> AnimatedMesh:
    """A UV sphere with about `num_faces` faces (half as many vertices) that twists over the frames."""
    rings = round(np.sqrt(num_faces / 8))  # trimesh makes about 8 * rings^2 faces
    sphere = trimesh.creation.uv_sphere(count=[rings, 2 * rings])
    x, y, z = sphere.vertices.T
    frames = []
    for k in range(num_frames):
        angle = 0.05 * k * y
        frames.append(np.stack([x * np.cos(angle) + z * np.sin(angle), y, -x * np.sin(angle) + z * np.cos(angle)], 1))
    return AnimatedMesh(np.stack(frames), sphere.faces, fps=8.0)


def timed(label: str, step, anim: AnimatedMesh | None = None):
    start = time.perf_counter()
    result = step()
    line = f"{label:<40} {time.perf_counter() - start:7.3f} s"
    if isinstance(result, Path) and result.is_file():
        size = result.stat().st_size
        line += f"  {size / 1e6:7.2f} MB"
        if anim is not None:
            line += f"  {size / (anim.num_frames * anim.num_vertices):6.2f} bytes/frame/vertex"
    elif isinstance(result, Path):
        size = sum(p.stat().st_size for p in result.iterdir())
        line += f"  {size / 1e6:7.2f} MB in {len(list(result.iterdir()))} files"
    print(line, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--faces", type=int, default=40_000)
    parser.add_argument("--out", type=Path, help="keep the files here (default: a temporary folder)")
    args = parser.parse_args()
    anim = twisting_sphere(args.frames, args.faces)
    print(f"{anim.num_frames} frames, {anim.num_vertices} vertices, {anim.num_faces} faces")
    with tempfile.TemporaryDirectory() as temporary:
        out = args.out or Path(temporary)
        for fmt, name, options in [
            ("glb", "anim.glb", {}),
            ("glb", "anim_normals.glb", {"normals": True}),
            ("glb", "anim_hold.glb", {"interpolation": "hold"}),
            ("frames", "frames", {}),
            ("obj", "frames_obj", {}),
            ("usd", "anim.usdc", {}),
            ("usdz", "anim.usdz", {}),
            ("npz", "anim.npz", {}),
        ]:
            label = f"export {fmt} {options or ''}".strip()
            timed(label, functools.partial(export_animated_mesh, anim, fmt, out / name, **options), anim)
        timed("render: create GL context", renderer_name)
        print(f"renderer: {renderer_name()}")
        for size in (256, 512):
            for mode in ("shaded", "normals"):
                timed(
                    f"render {anim.num_frames} frames {size}px {mode}",
                    functools.partial(render_rgba, anim.vertices, anim.faces, size=size, mode=mode),
                )
        timed(
            "export mp4 (3 views, 256px)",
            lambda: export_animated_mesh(anim, "mp4", out / "preview.mp4", azimuths=(0, 90, 180)),
        )


if __name__ == "__main__":
    main()
