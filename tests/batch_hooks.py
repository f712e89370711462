"""Inputs for the batch tests, and a batch worker that dies once (importable by worker processes and Ray
actors, which load this module by name)."""

import os
import shutil
from pathlib import Path

from actionmesh_core.batch import BatchWorker
from actionmesh_core.cli.demo import EXAMPLE_CLIP

FAST = ["--steps", "2", "--prior-steps", "5", "--guidance", "2", "--face-budget", "800"]
"""Run options small enough for tests that still give the bundled model a surface."""


def example_clips(folder: Path, count: int = 4, frames: int = 3) -> list[Path]:
    """`count` clips of `frames` frames each (frame folders), cut from the bundled example clip."""
    clips = []
    for k in range(count):
        clip = folder / f"clip{k}"
        clip.mkdir(parents=True, exist_ok=True)
        for t in range(frames):
            shutil.copy(EXAMPLE_CLIP / f"frame_{4 * k + t:02d}.png", clip / f"frame_{t:02d}.png")
        clips.append(clip)
    return clips


class DiesOnce(BatchWorker):
    """Exits its process (as an out-of-memory kill would) in the middle of decoding `item`, once: the first
    worker to get there writes `marker` and dies; later attempts find the marker and finish."""

    def __init__(self, slot, *, item: str, marker: str, **kwargs):
        super().__init__(slot, **kwargs)
        self._item, self._marker = item, Path(marker)

    def progress_for(self, task):
        inner = super().progress_for(task)
        if task.name != self._item:
            return inner

        def progress(stage, done, total):
            if stage == "temporal decoding" and not self._marker.exists():
                self._marker.write_text(str(os.getpid()))
                os._exit(1)
            inner(stage, done, total)

        return progress
