"""One video -> animated mesh run and the folder its outputs go to: what `actionmesh video2mesh` runs, and what
`actionmesh batch` runs for each of its items (the same function, so a batch item's files are the files a
single run writes)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..animated_mesh import AnimatedMesh
from ..export.outputs import DEFAULT_OUTPUTS, parse_outputs, write_outputs
from ..pipeline.model_set import ModelSet
from ..pipeline.progress import ProgressFn, RunReport, no_progress
from ..pipeline.run import animate
from ..pipeline.settings import Settings


@dataclass(frozen=True)
class Job:
    """Everything one run needs besides the models.

    source:    video file, folder of frames or glob (see `load_clip`).
    out_dir:   the folder that receives the outputs (written all or nothing, see `write_outputs`).
    outputs:   output names ("glb", "frames", "npz", ...), validated when the Job is made.
    mesh:      animate this mesh instead of making one from the anchor frame ({video + mesh} -> 4D).
    masks:     folder or glob of subject masks, one per source frame.
    selection: frame selection for `load_clip` (start, end, stride, max_frames, target_fps, max_side).
    """

    source: str | os.PathLike
    out_dir: Path
    settings: Settings = field(default_factory=Settings)
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    mesh: str | os.PathLike | None = None
    masks: str | os.PathLike | None = None
    selection: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        object.__setattr__(self, "outputs", parse_outputs(self.outputs))


@dataclass
class JobResult:
    """A finished run: the animation, the files and folders written (in `Job.outputs` order), and the per-stage
    time and memory."""

    anim: AnimatedMesh
    written: list[Path]
    report: RunReport


def run_job(job: Job, models: ModelSet, progress: ProgressFn = no_progress,
            report: RunReport | None = None) -> JobResult:
    """Animate `job.source` with `models` and write the outputs into `job.out_dir` (all or nothing)."""
    report = report if report is not None else RunReport()
    anim = animate(job.source, models, job.settings, mesh=job.mesh, selection=job.selection or None,
                   masks=job.masks, progress=progress, report=report)
    with report.stage("writing outputs"):
        written = write_outputs(anim, job.out_dir, job.outputs)
    return JobResult(anim, written, report)
