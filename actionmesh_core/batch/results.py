"""`<out>/batch.jsonl`: one row per item, rewritten (atomically) by the driver after every item.

Row keys: item, status ("ok" or "failed"), input, error (None or the one-line message), attempts (1 + the
number of times a worker died under the item), seconds, stages ({stage: seconds}), peak_rss_mb (the worker
process's peak so far), peak_gpu_mb (the item's largest per-stage peak; None on CPU), iou (the silhouette
IoU of the registered result against the video's masks, mean over frames; None without registration), frames, vertices,
faces, outputs ({file relative to the item folder: bytes}), fingerprint (the item's inputs, settings and
weights), worker (host:pid), finished (UTC time).

An item is finished, and skipped by a rerun, when its row says ok, its fingerprint is the same (so a changed
setting, input path or weights root runs it again) and every output file it lists is there with its size.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..base.atomic import atomic_path
from ..export.frame_meshes import frame_file_name
from .job import Job, JobResult

TABLE_NAME = "batch.jsonl"


def fingerprint(job: Job, weights: str) -> str:
    """A short hash of everything that decides an item's outputs besides the code: its input and mesh paths,
    settings, frame selection, outputs and the weights."""
    settings = {k: v for k, v in asdict(job.settings).items() if k != "source"}  # "source" only describes them
    spec = dict(source=str(Path(job.source).resolve()), mesh=str(job.mesh and Path(job.mesh).resolve()),
                masks=str(job.masks and Path(job.masks).resolve()), settings=settings,
                video=job.video and asdict(job.video),
                selection=job.selection, outputs=job.outputs, weights=weights)
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def ok_row(name: str, job: Job, result: JobResult) -> dict:
    stages = result.report.stages
    anim = result.anim
    gpu = [s.peak_gpu_mb for s in stages if s.peak_gpu_mb is not None]
    return _row(name, job, "ok", None, sum(s.seconds for s in stages)) | dict(
        stages={s.name: round(s.seconds, 3) for s in stages},
        peak_rss_mb=round(max((s.peak_rss_mb for s in stages), default=0.0), 1),
        peak_gpu_mb=round(max(gpu), 1) if gpu else None,
        iou=_mean_iou(anim), frames=anim.num_frames, vertices=anim.num_vertices, faces=anim.num_faces,
        outputs=output_files(job, result))


def _mean_iou(anim) -> float | None:
    """The mean silhouette IoU of the registered result against the video's masks (None: not registered)."""
    iou = None if anim.cameras is None else anim.cameras.iou
    if iou is None or not np.isfinite(iou).any():
        return None
    return round(float(np.nanmean(iou)), 4)


def failed_row(name: str, job: Job, error: str, seconds: float) -> dict:
    return _row(name, job, "failed", error, seconds)


def _row(name: str, job: Job, status: str, error: str | None, seconds: float) -> dict:
    return dict(item=name, status=status, input=str(job.source), error=error, attempts=1, seconds=round(seconds, 3),
                stages={}, peak_rss_mb=None, peak_gpu_mb=None, iou=None, frames=None, vertices=None, faces=None,
                outputs={}, fingerprint=None, worker=f"{platform.node()}:{os.getpid()}",
                finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))


def output_files(job: Job, result: JobResult) -> dict[str, int]:
    """{path relative to the item folder: size} of every file the run wrote."""
    files = []
    for fmt, path in zip(job.outputs, result.written):
        if fmt == "frames":  # written straight into the item folder
            files += [job.out_dir / frame_file_name(k, result.anim.num_frames) for k in range(result.anim.num_frames)]
        elif path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file())
        else:
            files.append(path)
    return {p.relative_to(job.out_dir).as_posix(): p.stat().st_size for p in files}


class ResultsTable:
    """The rows of `<out_root>/batch.jsonl`, by item name, in the order they were first recorded."""

    def __init__(self, out_root: Path):
        self.out_root = Path(out_root)
        self.path = self.out_root / TABLE_NAME
        self.rows: dict[str, dict] = {}
        if self.path.is_file():
            self._read()

    def _read(self) -> None:
        for line, text in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError:
                row = None
            if not isinstance(row, dict) or not isinstance(row.get("item"), str):
                raise InputError(f"{self.path} line {line} is not a results row: fix or delete that line (its item "
                                 "then runs again)")
            self.rows[row["item"]] = row

    def finished(self, name: str, key: str) -> bool:
        """The item's row says ok with this fingerprint, and every file it lists is there with its size."""
        row = self.rows.get(name)
        if not row or row.get("status") != "ok" or row.get("fingerprint") != key or not row.get("outputs"):
            return False
        folder = self.out_root / name
        return all(_size(folder / rel) == size for rel, size in row["outputs"].items())

    def failed(self, name: str, key: str) -> bool:
        """The item failed last time with the same fingerprint (it runs again only when asked)."""
        row = self.rows.get(name)
        return bool(row) and row.get("status") == "failed" and row.get("fingerprint") == key

    def record(self, row: dict) -> None:
        """Add or replace the item's row and rewrite the file at once."""
        self.rows[row["item"]] = row
        with atomic_path(self.path) as tmp:
            tmp.write_text("".join(json.dumps(r, sort_keys=False) + "\n" for r in self.rows.values()),
                           encoding="utf-8")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
