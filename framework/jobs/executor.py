"""Halyard's executor as the core sees it: how agents start it, its id per task, and its share of
a run's resources. (The TaskInfo itself is rendered in :mod:`halyard.mesos.job_tasks`.)"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExecutorSettings:
    """How agents start Halyard's executor.

    ``command`` runs in the sandbox after ``uris`` are fetched into it (by default the scheduler
    serves the executor as one zipapp file, run with the agent's ``python3``). ``cpus`` and ``mem``
    are the executor's own share, added to each run's resources.
    """

    command: str = "python3 -m halyard_executor"
    uris: tuple[str, ...] = ()
    cpus: float = 0.05
    mem: float = 32.0


def executor_id_for(task_id: str) -> str:
    return f"halyard-executor.{task_id}"


def split_allocation(allocation: tuple[tuple[str, str, float], ...], cpus: float,
                     mem: float) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, float]]]:
    """Split a planned allocation (job + executor) into the task's part and the executor's part."""
    want = {"cpus": cpus, "mem": mem}
    task: list[tuple[str, str, float]] = []
    execu: list[tuple[str, str, float]] = []
    for name, role, amount in allocation:
        take = min(amount, want.get(name, 0.0))
        if take > 0:
            execu.append((name, role, round(take, 6)))
            want[name] -= take
        if amount - take > 1e-9:
            task.append((name, role, round(amount - take, 6)))
    return task, execu
