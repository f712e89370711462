"""Peak memory of {video + mesh} -> 4D on a huge user mesh: a subdivided sphere (icosphere level 8 = 1.3 M faces,
level 9 = 5.2 M faces) animated by the bundled small model over the example clip, then exported (animated GLB
and .npz). Each size runs in a fresh process, so its peak resident memory (ru_maxrss) is its own.

    python scripts/bench_memory.py                      # levels 8 and 9 (1.3 M and 5.2 M faces), 16 frames
    python scripts/bench_memory.py --levels 8 --frames 4
    PYTHONPATH=/path/to/other/checkout python scripts/bench_memory.py   # the same run on other code

It prints, per size, the pipeline's own per-stage table (time, peak RSS so far) and one summary line. Uses only
APIs that older versions of the package have too, so it measures "before" and "after" alike. --rss-cap-mb
stops a run whose resident memory passes the cap (to protect a shared machine) and reports it as "> cap".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _watch(cap_mb: float) -> None:
    """Stop the process (exit code 3) as soon as its resident memory passes cap_mb."""
    def loop():
        while True:
            if _rss_mb() > cap_mb:
                print(json.dumps({"capped_mb": cap_mb}), flush=True)
                os._exit(3)
            time.sleep(0.05)

    threading.Thread(target=loop, daemon=True).start()


def run_one(level: int, frames: int, steps: int) -> dict:
    """One run in this process; returns its numbers."""
    import numpy as np
    import torch
    import trimesh

    from actionmesh_core.cli.demo import EXAMPLE_CLIP
    from actionmesh_core.pipeline import RunReport, Settings, animate, bundled_models

    try:  # the package's layout since the layers were split
        from actionmesh_core.export.formats import export_animated_mesh
        from actionmesh_core.inputs.load import load_clip
        from actionmesh_core.io.mesh_file import UserMesh
    except ImportError:  # older checkouts, for "before" numbers
        from actionmesh_core.geometry import UserMesh
        from actionmesh_core.io.export import export_animated_mesh
        from actionmesh_core.io.video_input import load_clip

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    sphere = trimesh.creation.icosphere(subdivisions=level)
    mesh = UserMesh(np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces), name=f"sphere{level}")
    del sphere
    models = bundled_models(device="cpu", dtype="fp32")
    clip = load_clip(EXAMPLE_CLIP, max_frames=frames)
    report = RunReport()
    start = time.perf_counter()
    anim = animate(clip, models, Settings(prior_steps=steps, steps=steps, guidance=2.0, prior_guidance=2.0),
                   mesh=mesh, report=report)
    with tempfile.TemporaryDirectory() as folder, report.stage("export glb + npz"):
        export_animated_mesh(anim, "glb", Path(folder) / "anim.glb")
        export_animated_mesh(anim, "npz", Path(folder) / "anim.npz")
    print(report.table(), flush=True)
    return {"level": level, "faces": int(len(mesh.faces)), "vertices": int(len(mesh.vertices)),
            "frames": anim.num_frames, "seconds": round(time.perf_counter() - start, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "stages": {s.name: round(s.peak_rss_mb) for s in report.stages}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="8,9", help="icosphere levels (8: 1.3 M faces, 9: 5.2 M faces)")
    parser.add_argument("--frames", type=int, default=16, help="frames of the example clip (16)")
    parser.add_argument("--steps", type=int, default=2, help="diffusion steps (memory does not depend on them)")
    parser.add_argument("--rss-cap-mb", type=float, default=0, help="stop a run above this resident memory")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        if args.rss_cap_mb:
            _watch(args.rss_cap_mb)
        print(json.dumps(run_one(args.child, args.frames, args.steps)), flush=True)
        return
    for level in (int(v) for v in args.levels.split(",")):
        done = subprocess.run([sys.executable, __file__, "--child", str(level), "--frames", str(args.frames),
                               "--steps", str(args.steps), "--rss-cap-mb", str(args.rss_cap_mb)],
                              capture_output=True, text=True)
        lines = done.stdout.strip().splitlines()
        print("\n".join(lines[:-1]))
        result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {"error": done.stderr[-2000:]}
        if "capped_mb" in result:
            print(f"icosphere level {level}: peak RSS > {result['capped_mb']:.0f} MB (stopped at the cap)")
        elif "error" in result:
            print(f"icosphere level {level}: failed\n{result['error']}")
        else:
            print(f"icosphere level {level}: {result['faces']:,} faces, {result['vertices']:,} vertices, "
                  f"{result['frames']} frames: peak RSS {result['peak_rss_mb']:,} MB, {result['seconds']} s")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
