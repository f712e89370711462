"""One video -> animated mesh run and the folder its outputs go to: what `actionmesh video2mesh` runs, and what
`actionmesh batch` runs for each of its items (the same function, so a batch item's files are the files a
single run writes)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..animated_mesh import AnimatedMesh
from ..export.outputs import DEFAULT_OUTPUTS, parse_outputs, write_outputs
from ..inputs import load_clip
from ..io.mesh_file import UserMesh, load_user_mesh
from ..pipeline.model_set import ModelSet
from ..pipeline.progress import ProgressFn, RunReport, no_progress
from ..pipeline.run import animate
from ..pipeline.settings import Settings
from ..video_fit import VideoFit


@dataclass(frozen=True)
class Job:
    """Everything one run needs besides the models.

    source:    video file, folder of frames or glob (see `load_clip`).
    out_dir:   the folder that receives the outputs (written all or nothing, see `write_outputs`).
    outputs:   output names ("glb", "frames", "npz", ...), validated when the Job is made.
    mesh:      animate this mesh instead of making one from the anchor frame ({video + mesh} -> 4D).
    masks:     folder or glob of subject masks, one per source frame.
    selection: frame selection for `load_clip` (start, end, stride, max_frames, target_fps, max_side).
    video:     register the result to the video and colour it (`VideoFit`); None: neither.
    skin:      `export_skinned_mesh`'s options (bones, max_error, ...) for the skinned outputs.
    """

    source: str | os.PathLike
    out_dir: Path
    settings: Settings = field(default_factory=Settings)
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    mesh: str | os.PathLike | UserMesh | None = None
    masks: str | os.PathLike | None = None
    selection: dict = field(default_factory=dict)
    video: VideoFit | None = None
    skin: dict = field(default_factory=dict)

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
    report = report if report is not None else RunReport(names=job.settings.names)
    mesh = load_user_mesh(job.mesh) if isinstance(job.mesh, (str, os.PathLike)) else job.mesh
    clip = load_clip(job.source, masks=job.masks, names=report.names, **job.selection)
    anim = animate(clip, models, job.settings, mesh=mesh, progress=progress, report=report, video=job.video)
    with report.stage("writing outputs"):
        written = write_outputs(anim, job.out_dir, job.outputs, frames=clip.frames, skin_options=job.skin)
    return JobResult(anim, written, report)
