"""Workers as Ray actors: one per GPU of the cluster (or one per N CPUs on a CPU-only cluster), each built
once (its models loaded once) and fed one task at a time. Ray places the actors and moves the tasks and
results; a task whose actor died is reported as `Died`, and the actor is replaced by a fresh one.

Ray is optional (`pip install comfyui-actionmesh[ray]`); it is imported only when a RayPool starts.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ..base.extras import require_extra
from ..errors import ActionMeshError
from .dispatch import Died, WorkerFactory
from .pools import WorkerStartError


def import_ray():
    require_extra("ray", "--ray (on this machine and on every node of the cluster)")
    import ray

    return ray


class _ActorBody:
    """What each Ray actor runs: the worker built once by make_worker(slot), then one task per call."""

    def __init__(self, make_worker: WorkerFactory, slot: int):
        self._worker = make_worker(slot)

    def ready(self) -> bool:
        return True

    def run(self, task: Any) -> Any:
        return self._worker.run(task)


class RayPool:
    """make_worker(slot) built in `workers` Ray actors (default: one per GPU of the cluster, else one per
    `cpus_per_worker` CPUs).

    address: "auto" (the cluster in $RAY_ADDRESS or one started with `ray start` on this machine, else a new
             local Ray instance) or a cluster address ("HOST:6379", "ray://HOST:10001"). When Ray is already
             initialised in this process, that connection is used and kept.
    """

    def __init__(self, make_worker: WorkerFactory, address: str = "auto", workers: int | None = None,
                 cpus_per_worker: float = 1, echo=lambda line: print(line, file=sys.stderr)):
        if workers is not None and workers < 1:
            raise ActionMeshError(f"--ray-workers must be at least 1, got {workers}")
        if cpus_per_worker <= 0:
            raise ActionMeshError(f"--ray-cpus-per-worker must be more than 0, got {cpus_per_worker}")
        self._make_worker, self._address, self._cpus = make_worker, address, cpus_per_worker
        self._echo, self.size = echo, workers or 0
        self._ray, self._actor_class, self._owns_connection = import_ray(), None, False  # missing: say so now
        self._actors: list = []
        self._running: dict = {}  # object ref -> slot

    def start(self) -> None:
        ray = self._ray
        if not ray.is_initialized():
            ray.init(address=None if self._address == "auto" else self._address, include_dashboard=False)
            self._owns_connection = True
        cluster = ray.cluster_resources()
        gpus = int(cluster.get("GPU", 0))
        options = {"num_gpus": 1} if gpus else {"num_cpus": self._cpus}
        self.size = self.size or gpus or max(1, int(cluster.get("CPU", 1) // self._cpus))
        self._echo(f"Ray: {self.size} worker(s), each with {'1 GPU' if gpus else f'{self._cpus:g} CPU(s)'} "
                   f"(cluster: {cluster.get('CPU', 0):g} CPUs, {gpus} GPUs)")
        self._actor_class = ray.remote(_ActorBody).options(max_restarts=0, max_task_retries=0, **options)
        self._actors = [self._actor_class.remote(self._make_worker, slot) for slot in range(self.size)]
        pending = {actor.ready.remote(): slot for slot, actor in enumerate(self._actors)}
        started = time.monotonic()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=30)
            for ref in ready:
                slot = pending.pop(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayError as exc:
                    raise WorkerStartError(f"Ray worker {slot} could not start: {_cause(exc)}") from None
            if pending:
                self._echo(f"Ray: waiting for {len(pending)} worker(s) to be placed "
                           f"({time.monotonic() - started:.0f} s; each needs {options})")

    def submit(self, slot: int, task: Any) -> None:
        self._running[self._actors[slot].run.remote(task)] = slot

    def wait(self) -> tuple[int, Any]:
        ray = self._ray
        while True:  # a short timeout, so that Ctrl-C is handled while waiting
            ready, _ = ray.wait(list(self._running), num_returns=1, timeout=1.0)
            if ready:
                break
        slot = self._running.pop(ready[0])
        try:
            return slot, ray.get(ready[0])
        except ray.exceptions.RayError as exc:  # the actor died, its node was lost, or the call failed
            return slot, Died(f"Ray worker {slot} died: {_cause(exc)}")

    def restart(self, slot: int) -> None:
        self._ray.kill(self._actors[slot], no_restart=True)
        self._actors[slot] = self._actor_class.remote(self._make_worker, slot)

    def close(self, abort: bool = False) -> None:
        for actor in self._actors:
            self._ray.kill(actor, no_restart=True)
        self._actors, self._running = [], {}
        if self._owns_connection:
            self._ray.shutdown()


def _cause(exc: BaseException) -> str:
    """The last meaningful line of a Ray error (the original exception, when Ray carries its traceback)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "Error:" in line and not line.startswith(("File ", "Traceback"))]
    text = errors[-1] if errors else (lines[0] if lines else type(exc).__name__)
    return text[:500]
