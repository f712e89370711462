"""`run_batch`: every item of a batch on a pool of workers, the results table written after each item, a
rerun resuming where the last one stopped."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ActionMeshError, InputError
from ..io.mesh_file import load_user_mesh
from ..base.atomic import check_output_folder, make_folder, remove_staging_leftovers
from ..parallel import Died, GracefulStop, InlinePool, Pool, ProcessPool, run_tasks
from ..pipeline.settings import Settings
from ..video_fit import VideoFit, default_colour
from .items import BatchItem
from .results import ResultsTable, failed_row, fingerprint
from .worker import BatchTask, BatchWorker, ModelSource

Echo = Callable[[str], None]


@dataclass(frozen=True)
class BatchOptions:
    """The run options every item starts from (an item's manifest columns change them), and how to run.

    video:       the video stage of every item (cameras, colours; None: none); colour_given: the colour mode was
                 asked for (else an item whose mesh has a texture or vertex colours keeps them, as in video2mesh).
    workers:     local worker processes (default: one per visible CUDA GPU, else 1 in this process).
    ray:         None: run on this machine; "auto" or a cluster address: run as Ray actors.
    ray_workers: Ray actors (default: one per GPU of the cluster, else CPUs / ray_cpus_per_worker).
    """

    settings: Settings = field(default_factory=Settings)
    video: VideoFit | None = field(default_factory=VideoFit)
    colour_given: bool = False  # False: an item with a textured or vertex-coloured mesh keeps its look
    outputs: tuple[str, ...] = ("glb", "frames", "npz")
    selection: dict = field(default_factory=dict)
    retry_failed: bool = False
    max_retries: int = 2
    workers: int | None = None
    ray: str | None = None
    ray_workers: int | None = None
    ray_cpus_per_worker: float = 1


@dataclass
class BatchSummary:
    items: int
    ok: int = 0
    failed: int = 0
    skipped_ok: int = 0
    skipped_failed: int = 0
    not_run: int = 0  # stopped by Ctrl-C before they started

    @property
    def exit_code(self) -> int:
        return 130 if self.not_run else (1 if self.failed or self.skipped_failed else 0)

    def line(self, table: Path) -> str:
        parts = [f"{self.ok} ok", f"{self.failed} failed"]
        if self.skipped_ok:
            parts.append(f"{self.skipped_ok} already done")
        if self.skipped_failed:
            parts.append(f"{self.skipped_failed} failed earlier and skipped (--retry-failed runs them again)")
        if self.not_run:
            parts.append(f"{self.not_run} not run (stopped; run the same command again to resume)")
        return f"{self.items} item(s): " + ", ".join(parts) + f"; results in {table}"


def run_batch(items: list[BatchItem], out_root: str | os.PathLike, source: ModelSource, options: BatchOptions,
              echo: Echo = print, worker: Callable[..., BatchWorker] = BatchWorker) -> BatchSummary:
    """Run every item not already finished in `out_root/batch.jsonl`; outputs go to `out_root/<item>/`.

    Every item's settings are checked before any model loads. One line per finished item goes to stdout, the
    bars to stderr, the closing summary to `echo`. A first Ctrl-C stops after the running item(s), a second
    one at once; either way a rerun resumes. worker: the worker class (or a partial of it) that each worker
    process / actor builds, BatchWorker unless an embedder wraps it."""
    out_root = Path(out_root)
    check_output_folder(out_root)  # a file, a read-only or a full folder fails now
    table = ResultsTable(out_root)
    tasks, keys, summary = _plan(items, out_root, source, options, table)
    make_folder(out_root)
    if not tasks:
        echo(summary.line(table.path))
        return summary
    pool = _pool(worker, source, options, len(tasks))
    remove_staging_leftovers(task.job.out_dir for task in tasks)  # of a run killed while writing its outputs
    bar = _items_bar(len(tasks))

    def on_result(task: BatchTask, row: dict | Died, attempts: int) -> None:
        if isinstance(row, Died):
            row = failed_row(task.name, task.job, f"{row.message} ({attempts} attempt(s))", 0.0)
        row |= dict(attempts=attempts, fingerprint=keys[task.name])
        table.record(row)
        summary.ok += row["status"] == "ok"
        summary.failed += row["status"] != "ok"
        bar.write(_item_line(row), file=sys.stdout)
        bar.update(1)

    def on_died(task: BatchTask, died: Died, retried: bool) -> None:
        remove_staging_leftovers([task.job.out_dir])
        bar.write(f"{task.name}: {died.message}; " + ("running it again" if retried else "giving up"),
                  file=sys.stdout)

    with GracefulStop(echo=functools.partial(bar.write, file=sys.stderr)) as stop:
        try:
            left = run_tasks(pool, tasks, on_result, max_retries=options.max_retries, should_stop=stop,
                             on_died=on_died)
        finally:
            bar.close()
    summary.not_run = len(left)
    echo(summary.line(table.path))
    return summary


def _plan(items: list[BatchItem], out_root: Path, source: ModelSource, options: BatchOptions,
          table: ResultsTable) -> tuple[list[BatchTask], dict[str, str], BatchSummary]:
    """The tasks to run, each item's fingerprint, and what is skipped. Every item's run is built (and so
    checked) here, before any model loads; problems are named together."""
    tasks, keys, problems = [], {}, []
    summary = BatchSummary(items=len(items))
    for item in items:
        try:
            video = options.video
            if video is not None and item.mesh is not None and not options.colour_given:
                video = dataclasses.replace(video, colour=default_colour(load_user_mesh(item.mesh)))
            job = item.job(out_root, options.settings, options.outputs, options.selection, video)
        except ActionMeshError as exc:  # a bad setting or mesh
            problems.append(f"{item.where}: {exc}")
            continue
        keys[item.name] = key = fingerprint(job, source.key)
        if table.finished(item.name, key):
            summary.skipped_ok += 1
        elif table.failed(item.name, key) and not options.retry_failed:
            summary.skipped_failed += 1
        else:
            tasks.append(BatchTask(item.name, job))
    if problems:
        raise InputError(f"{len(problems)} item(s) cannot run; nothing was run:\n  " + "\n  ".join(problems))
    return tasks, keys, summary


def _pool(worker: Callable[..., BatchWorker], source: ModelSource, options: BatchOptions, tasks: int) -> Pool:
    """Ray actors, local worker processes (one per GPU, or --workers), or the worker in this process."""
    if options.ray is not None:
        from ..parallel.ray_pool import RayPool

        return RayPool(functools.partial(worker, source=source), options.ray, options.ray_workers,
                       options.ray_cpus_per_worker)
    if options.workers is not None and options.workers < 1:
        raise InputError(f"--workers must be at least 1, got {options.workers}")
    devices = _local_devices(source)
    workers = min(options.workers or max(1, len(devices)), tasks)
    if workers == 1:
        return InlinePool(functools.partial(worker, source=source, devices=devices[:1], show_progress=True))
    if not devices and source.threads is None:  # CPU workers share the cores
        source = ModelSource(**{**source.__dict__, "threads": max(1, (os.cpu_count() or 1) // workers)})
    return ProcessPool(functools.partial(worker, source=source, devices=devices), workers)


def _local_devices(source: ModelSource) -> tuple[str, ...]:
    """One device per local worker: every visible CUDA GPU when the device is unset or plain "cuda"."""
    import torch

    if source.device not in (None, "cuda") or not torch.cuda.is_available():
        return (source.device,) if source.device else ()
    return tuple(f"cuda:{k}" for k in range(torch.cuda.device_count()))


def _items_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="items", unit="item", file=sys.stderr, position=0, leave=True)


def _item_line(row: dict) -> str:
    if row["status"] == "ok":
        return (f"{row['item']}: ok, {row['frames']} frames, {row['vertices']:,} vertices in {row['seconds']:.1f} s"
                + (f" ({row['attempts']} attempts)" if row["attempts"] > 1 else ""))
    return f"{row['item']}: FAILED: {str(row['error']).splitlines()[0]}"
