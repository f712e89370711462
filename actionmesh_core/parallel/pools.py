"""Pools of workers on this machine: the worker in this process (one worker, progress bars shown), or one
plain process per worker (one per GPU), fed one task at a time through multiprocessing queues."""

from __future__ import annotations

import multiprocessing
import queue
import signal
from typing import Any

from ..errors import ActionMeshError
from .dispatch import Died, WorkerFactory


class WorkerStartError(ActionMeshError):
    """A worker could not start (its models failed to load, ...)."""


class InlinePool:
    """One worker in this process: a task runs when `wait` is called. A crash here is the caller's crash."""

    size = 1

    def __init__(self, make_worker: WorkerFactory):
        self._make_worker, self._worker, self._task = make_worker, None, None

    def start(self) -> None:
        self._worker = self._make_worker(0)

    def submit(self, slot: int, task: Any) -> None:
        self._task = task

    def wait(self) -> tuple[int, Any]:
        task, self._task = self._task, None
        return 0, self._worker.run(task)

    def restart(self, slot: int) -> None:  # an inline worker never dies alone
        self._worker = self._make_worker(0)

    def close(self, abort: bool = False) -> None:
        self._worker = None


def _process_main(make_worker: WorkerFactory, slot: int, tasks, results) -> None:
    """A worker process: build the worker once, then run tasks until None. Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        worker = make_worker(slot)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        results.put((slot, "failed", f"{type(exc).__name__}: {exc}" if not isinstance(exc, ActionMeshError)
                     else str(exc)))
        return
    results.put((slot, "ready", None))
    while (task := tasks.get()) is not None:
        results.put((slot, "done", worker.run(task)))


class ProcessPool:
    """`size` worker processes (spawned: safe with CUDA), each built once by make_worker(slot)."""

    def __init__(self, make_worker: WorkerFactory, size: int, poll_seconds: float = 0.5):
        self.size, self._make_worker, self._poll = size, make_worker, poll_seconds
        self._context = multiprocessing.get_context("spawn")
        self._results = self._context.Queue()
        self._tasks: list = [None] * size
        self._processes: list = [None] * size
        self._busy: set[int] = set()
        self._done: list[tuple[int, Any]] = []  # results that arrived while a restarted worker was awaited

    def _spawn(self, slot: int) -> None:
        self._tasks[slot] = self._context.Queue()
        self._processes[slot] = self._context.Process(
            target=_process_main, args=(self._make_worker, slot, self._tasks[slot], self._results), daemon=True,
            name=f"actionmesh-worker-{slot}")
        self._processes[slot].start()

    def _await_ready(self, slots: set[int]) -> None:
        waiting = set(slots)
        while waiting:
            try:
                slot, kind, message = self._results.get(timeout=self._poll)
            except queue.Empty:
                dead = [s for s in waiting if not self._processes[s].is_alive()]
                if dead:
                    raise WorkerStartError(f"worker process {dead[0]} exited with code "
                                           f"{self._processes[dead[0]].exitcode} while starting") from None
                continue
            if kind == "failed":
                raise WorkerStartError(f"worker {slot} could not start: {message}")
            if kind == "done":  # another worker finished meanwhile: keep its result for `wait`
                self._done.append((slot, message))
                continue
            waiting.discard(slot)

    def start(self) -> None:
        for slot in range(self.size):
            self._spawn(slot)
        self._await_ready(set(range(self.size)))

    def submit(self, slot: int, task: Any) -> None:
        self._busy.add(slot)
        self._tasks[slot].put(task)

    def wait(self) -> tuple[int, Any]:
        if self._done:
            slot, result = self._done.pop(0)
            self._busy.discard(slot)
            return slot, result
        while True:
            try:
                slot, kind, result = self._results.get(timeout=self._poll)
            except queue.Empty:
                for slot in sorted(self._busy):
                    process = self._processes[slot]
                    if not process.is_alive():
                        self._busy.discard(slot)
                        return slot, Died(f"worker process {slot} died (exit code {process.exitcode})")
                continue
            self._busy.discard(slot)
            return slot, result

    def restart(self, slot: int) -> None:
        self._processes[slot].join(timeout=5)
        self._spawn(slot)
        self._await_ready({slot})

    def close(self, abort: bool = False) -> None:
        for slot, process in enumerate(self._processes):
            if process is not None and process.is_alive() and not abort:
                self._tasks[slot].put(None)
        for process in self._processes:
            if process is None:
                continue
            process.join(timeout=None if not abort else 0)
            if process.is_alive():
                process.terminate()
                process.join()
