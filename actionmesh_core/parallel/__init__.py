"""Run many independent tasks (batch items, evaluation samples) on workers that each hold their state (models)
for their whole life: in this process, in local worker processes (one per GPU), or as Ray actors.

One loop (`run_tasks`) feeds a pool of workers from a queue of tasks, retries a task whose worker died on
a restarted worker, and stops feeding on a first Ctrl-C (`GracefulStop`). A pool only starts workers,
hands a task to a worker and reports what came back; Ray places the actors on a cluster.
"""

from .dispatch import Died, GracefulStop, Pool, run_tasks
from .pools import InlinePool, ProcessPool

__all__ = ["Died", "GracefulStop", "InlinePool", "Pool", "ProcessPool", "run_tasks"]
