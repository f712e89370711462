"""Items per minute for 8 clips: `actionmesh batch` (models loaded once) against a shell loop of `video2mesh`
calls, and on Ray with 2 local workers.

The clips are 8 cuts of 4 frames from the bundled example clip, run with the bundled small model and its
recommended settings (`actionmesh.json`). Every mode runs as one or more `actionmesh` processes, so each time
includes Python and torch start-up as a user sees it (the loop pays it 8 times, batch once, Ray once plus
the Ray start and one process per actor).

Usage (from the repository root, package installed; Ray needed for the last mode):
    .venv/bin/python scripts/bench_batch.py [--clips 8] [--frames 4] [--modes loop,batch,workers2,ray2]
Prints seconds and items per minute for each mode, and checks that every mode wrote the same GLBs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "actionmesh_core" / "assets" / "example_clip"
WEIGHTS = REPO / "actionmesh_core" / "assets" / "tiny_model"
MODES = ("loop", "batch", "workers2", "ray2")


def make_clips(folder: Path, count: int, frames: int) -> list[Path]:
    clips = []
    for k in range(count):
        clip = folder / f"clip{k}"
        clip.mkdir(parents=True)
        for t in range(frames):
            shutil.copy(EXAMPLE / f"frame_{(2 * k + t) % 16:02d}.png", clip / f"frame_{t:02d}.png")
        clips.append(clip)
    return clips


def settings() -> list[str]:
    recommended = json.loads((WEIGHTS / "actionmesh.json").read_text())["settings"]
    return ["--weights", str(WEIGHTS), "--steps", str(recommended["steps"]), "--prior-steps",
            str(recommended["prior_steps"]), "--guidance", str(recommended["guidance"])]


def run(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, from {', '.join(MODES)}")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    actionmesh = [sys.executable, "-m", "actionmesh_core"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}  # every mode on one thread per worker: the same numbers, a fair count
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clips = make_clips(root / "clips", args.clips, args.frames)
        results = {}
        for mode in modes:
            out = root / mode
            if mode == "loop":
                seconds = sum(run([*actionmesh, "video2mesh", str(clip), "--out", str(out / clip.name), *settings()],
                                  env) for clip in clips)
            elif mode == "batch":
                seconds = run([*actionmesh, "batch", str(root / "clips"), "--out", str(out), *settings()], env)
            elif mode == "workers2":
                seconds = run([*actionmesh, "batch", str(root / "clips"), "--out", str(out), "--workers", "2",
                               *settings()], env)
            elif mode == "ray2":
                seconds = run([*actionmesh, "batch", str(root / "clips"), "--out", str(out), "--ray", "local",
                               "--ray-workers", "2", *settings()], env)
            else:
                raise SystemExit(f"unknown mode {mode!r}")
            results[mode] = seconds
            print(f"{mode:9s} {seconds:7.1f} s  {60 * len(clips) / seconds:6.1f} items/min", flush=True)
        glbs = {mode: [(root / mode / c.name / "animated_mesh.glb").read_bytes() for c in clips] for mode in results}
        same = all(g == next(iter(glbs.values())) for g in glbs.values())
        print(f"{len(clips)} clips x {args.frames} frames on {os.cpu_count()} CPU cores (load average "
              f"{os.getloadavg()[0]:.1f}); same GLBs in every mode: {same}")
        if "loop" in results and "batch" in results:
            print(f"batch / loop speed-up: {results['loop'] / results['batch']:.2f}x")


if __name__ == "__main__":
    main()
