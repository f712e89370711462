"""Progress reporting and per-stage timing / peak memory."""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch

from ..base.option_names import PYTHON_NAMES, OptionNames
from ..errors import StageOutOfMemoryError

ProgressFn = Callable[[str, int, int], None]
"""progress(stage, done, total): called after every denoising step and every decoded frame. It may raise
to cancel the run (ComfyUI's interrupt does)."""


def no_progress(stage: str, done: int, total: int) -> None:
    return None


class TqdmProgress:
    """One tqdm bar per stage, on stderr. leave=False clears each bar when its stage ends (a batch keeps only
    its bar over items)."""

    def __init__(self, leave: bool = True):
        self._bars: dict[str, object] = {}
        self._leave = leave

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None or bar.total != total:
            if bar is not None:
                bar.close()
            bar = self._bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr, leave=self._leave)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            del self._bars[stage]

    def close(self) -> None:
        """Close the bars of stages that did not finish (a failed or cancelled run)."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


@dataclass
class StageRecord:
    name: str
    seconds: float
    peak_gpu_mb: float | None
    peak_rss_mb: float


@dataclass
class RunReport:
    """Wall time and peak memory of each stage of a run; `names` words the out-of-memory advice in the user's
    option names (`--low-vram`, a node's `low_vram`)."""

    stages: list[StageRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    names: OptionNames = PYTHON_NAMES

    @contextlib.contextmanager
    def stage(self, name: str, device: torch.device | str = "cpu") -> Iterator[None]:
        """Time a stage; an out-of-memory error (CUDA's OutOfMemoryError, or MPS's RuntimeError "... out of
        memory ...") becomes a StageOutOfMemoryError naming the stage."""
        device = torch.device(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        try:
            yield
        except RuntimeError as exc:
            if not is_out_of_memory(exc):
                raise
            advice = self.names.advice(("", "low_vram"), ("a smaller", "window"), ("a smaller", "mesh_resolution"))
            raise StageOutOfMemoryError(f"out of {device.type.upper()} memory during {name}"
                                        + (f"; try {advice}" if advice else "")) from None
        peak_gpu = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
        self.stages.append(StageRecord(name, time.perf_counter() - start, peak_gpu, _peak_rss_mb()))

    def table(self) -> str:
        lines = [f"{'stage':24s} {'time':>9s} {'peak GPU':>10s} {'peak RSS':>10s}"]
        for s in self.stages:
            gpu = f"{s.peak_gpu_mb:8.0f}MB" if s.peak_gpu_mb is not None else "       -  "
            lines.append(f"{s.name:24s} {s.seconds:8.1f}s {gpu} {s.peak_rss_mb:8.0f}MB")
        lines.append(f"{'total':24s} {sum(s.seconds for s in self.stages):8.1f}s")
        return "\n".join(lines + self.notes)


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA raises torch.OutOfMemoryError; MPS (and older CUDA builds) a RuntimeError saying "out of memory"."""
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc)


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
