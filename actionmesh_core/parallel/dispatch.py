"""The loop that feeds tasks to a pool of workers, and a clean stop on Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

Task = TypeVar("Task")
WorkerFactory = Callable[[int], Any]
"""make_worker(slot) -> an object whose `run(task)` returns the task's result (it must not raise for a bad
task: it returns a result that says so). Called once in each worker, so a worker loads its models once."""


@dataclass(frozen=True)
class Died:
    """What a pool reports for a task whose worker died (killed, out of memory, lost node)."""

    message: str


class Pool(Protocol):
    size: int  # the number of workers, known once started

    def start(self) -> None:
        """Start every worker; raise an ActionMeshError naming the cause when a worker cannot start."""

    def submit(self, slot: int, task: Any) -> None:
        """Hand `task` to the idle worker `slot`."""

    def wait(self) -> tuple[int, Any]:
        """Block until a busy worker is done: (slot, its result), or (slot, Died(...)) when it died."""

    def restart(self, slot: int) -> None:
        """Replace the dead worker `slot` with a fresh one."""

    def close(self, abort: bool = False) -> None:
        """Stop every worker (abort: without waiting for them)."""


def run_tasks(pool: Pool, tasks: Iterable[Task], on_result: Callable[[Task, Any, int], None], *,
              max_retries: int = 2, should_stop: Callable[[], bool] = lambda: False,
              on_died: Callable[[Task, Died, bool], None] = lambda task, died, retried: None) -> list[Task]:
    """Run every task on the pool, at most one at a time per worker; returns the tasks never started.

    on_result(task, result, attempts) is called in this thread as each task finishes (attempts: 1 + the
    number of times its worker died under it). A task whose worker dies is handed to the next idle worker
    (the dead one is restarted) up to `max_retries` more times; after that on_result gets
    Died(...) as its result. on_died(task, died, retried) reports each death. Once `should_stop()` is true
    no task is started; running ones finish. The pool is closed on the way out (aborted on an exception,
    such as a second Ctrl-C).
    """
    queue = deque(enumerate(tasks))
    deaths: dict[int, int] = {}  # task index -> times its worker died under it
    running: dict[int, tuple[int, Task]] = {}  # slot -> (task index, task)
    try:
        pool.start()
        idle = list(range(pool.size))[::-1]
        while True:
            while idle and queue and not should_stop():
                slot = idle.pop()
                running[slot] = queue.popleft()
                pool.submit(slot, running[slot][1])
            if not running:
                break
            slot, result = pool.wait()
            index, task = running.pop(slot)
            if isinstance(result, Died):
                deaths[index] = deaths.get(index, 0) + 1
                retry = deaths[index] <= max_retries
                pool.restart(slot)  # first, so that the dead worker is gone when on_died cleans up after it
                on_died(task, result, retry)
                if retry:
                    queue.appendleft((index, task))
                    idle.append(slot)
                    continue
            on_result(task, result, deaths.get(index, 0) + (0 if isinstance(result, Died) else 1))
            idle.append(slot)
    except BaseException:
        pool.close(abort=True)
        raise
    pool.close()
    return [task for _, task in queue]


class GracefulStop:
    """`with GracefulStop() as stop:` a first Ctrl-C (SIGINT) sets `stop.requested` and says that the work
    stops after the running task(s); a second one raises KeyboardInterrupt at once. Outside the main thread
    (where signals cannot be caught) it only holds the flag. The previous handler is restored on exit."""

    def __init__(self, message: str = "stopping after the running item(s); press Ctrl-C again to stop now",
                 echo: Callable[[str], None] = lambda line: print(line, file=sys.stderr)):
        self.requested = False
        self._message, self._echo, self._previous = message, echo, None

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self._echo(self._message)

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
