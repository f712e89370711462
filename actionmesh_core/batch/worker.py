"""A batch worker: one model set, loaded once, that runs items one after the other (in this process, in a
local worker process, or in a Ray actor)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ActionMeshError
from .job import Job, run_job
from ..pipeline.model_set import BUNDLED_NAME, ModelSet, load_models, release_memory
from ..pipeline.progress import ProgressFn, RunReport, TqdmProgress, no_progress
from .results import failed_row, ok_row


@dataclass(frozen=True)
class ModelSource:
    """Where a worker gets its models. weights: a weights root, or "bundled" (the small model of this package);
    device: None for the best available (each Ray actor sees only its own GPU); threads: torch CPU threads
    (None: torch's choice)."""

    weights: str | Path = BUNDLED_NAME
    device: str | None = None
    dtype: str | None = None
    low_vram: bool = False
    attention: str = "auto"
    threads: int | None = None

    def __post_init__(self):
        if str(self.weights) != BUNDLED_NAME:
            object.__setattr__(self, "weights", Path(self.weights).expanduser())

    def load(self, device: str | None = None) -> ModelSet:
        """The model set (lazy: each model is read when its stage first runs, then kept for the next items)."""
        return load_models(self.weights, device=device or self.device, dtype=self.dtype, attention=self.attention,
                           offload="free" if self.low_vram else "cpu")

    @property
    def key(self) -> str:
        """What identifies the weights and precision in an item's fingerprint."""
        weights = self.weights.resolve() if isinstance(self.weights, Path) else self.weights
        return f"{weights}|{self.dtype or 'default'}"


@dataclass(frozen=True)
class BatchTask:
    """One item to run: its name (the folder under --out) and its Job."""

    name: str
    job: Job


class BatchWorker:
    """Loads the models once (slot picks the device from `devices`), then `run(task)` -> a results row.

    An item that fails (bad input, out of memory, any error) gives a "failed" row and the worker goes on;
    only KeyboardInterrupt escapes. show_progress: per-stage tqdm bars (for the worker in the driver's
    process)."""

    def __init__(self, slot: int, source: ModelSource, devices: tuple[str, ...] = (), show_progress: bool = False):
        if source.threads:
            torch.set_num_threads(source.threads)
        self.models = source.load(devices[slot % len(devices)] if devices else None)
        self._show_progress = show_progress

    def progress_for(self, task: BatchTask) -> ProgressFn:
        """The progress callback of one item's run (per-stage bars when shown)."""
        return TqdmProgress(leave=False) if self._show_progress else no_progress

    def run(self, task: BatchTask) -> dict:
        progress = self.progress_for(task)
        report, start = RunReport(names=task.job.settings.names), time.perf_counter()
        try:
            return ok_row(task.name, task.job, run_job(task.job, self.models, progress, report))
        except ActionMeshError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one item's failure is recorded; the batch goes on
            error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            getattr(progress, "close", lambda: None)()
        release_memory(self.models.device)
        return failed_row(task.name, task.job, error, time.perf_counter() - start)
