"""The cluster as a rebalance plan sees it, kept current as moves are planned; and the scores.

Pure. :class:`WorkingCluster` holds one :class:`~halyard.cluster.agents.AgentInfo` per agent (what is free,
what it is) with each rebalanced app's tasks counted from the scheduler's own task records; a
planned move takes the target's resources (as the placement allocated them) and gives the
task's back on its old agent.

Scores (lower is better, 0 is the goal):

* :func:`imbalance`: instances off their fair share. With ``n`` instances over ``k`` groups,
  every group should hold ``floor(n/k)`` or ``ceil(n/k)``; the score sums how far each group is
  outside that band. It is 0 exactly when max - min <= 1, and moving one instance from a fullest
  to an emptiest group whose counts differ by 2 or more lowers it by at least 1: a greedy run
  ends, and never undoes its own moves.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..cluster import ranges as rng
from ..cluster.agents import UNRESERVED, AgentInfo, Resources
from ..placement.state import field_values


@dataclass(frozen=True)
class RunningTask:
    """One running instance of an app: where it runs and since when (None: not started)."""

    task_id: str
    agent_id: str
    started_at: float | None
    resources: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


def imbalance(counts: Sequence[int]) -> int:
    """Instances outside the fair band ``[floor(n/k), ceil(n/k)]`` of ``k`` groups (0: max - min <= 1)."""
    if not counts:
        return 0
    total, k = sum(counts), len(counts)
    low, high = total // k, -(-total // k)
    return sum(max(0, c - high) + max(0, low - c) for c in counts)


def total_imbalance(groups: Sequence[Mapping[str, int]]) -> int:
    """The :func:`imbalance` of each group's counts (instances per value), summed."""
    return sum(imbalance(list(g.values())) for g in groups)


class WorkingCluster:
    """Agents by id, changed as moves are planned (frozen AgentInfos replaced, never mutated)."""

    def __init__(self, agents: Iterable[AgentInfo], tasks: Mapping[str, Sequence[RunningTask]]):
        self.agents: dict[str, AgentInfo] = {a.id: a for a in agents}
        self.tasks: dict[str, dict[str, RunningTask]] = {}
        for app_id, running in tasks.items():
            self.tasks[app_id] = {t.task_id: t for t in running if t.agent_id in self.agents}
            self._recount(app_id)

    def infos(self) -> list[AgentInfo]:
        """Every agent, by hostname then id."""
        return sorted(self.agents.values(), key=lambda a: (a.hostname, a.id))

    def count(self, app_id: str, agent_id: str) -> int:
        return self.agents[agent_id].app_tasks.get(app_id, 0)

    def on(self, app_id: str, agent_id: str) -> list[RunningTask]:
        """The app's tasks on an agent, oldest first."""
        found = [t for t in self.tasks.get(app_id, {}).values() if t.agent_id == agent_id]
        return sorted(found, key=lambda t: (t.started_at if t.started_at is not None else float("inf"), t.task_id))

    def values(self, agent_id: str) -> dict[str, str]:
        a = self.agents[agent_id]
        return field_values(a.hostname, a.attributes, a.region, a.zone)

    def without(self, app_id: str, agent_id: str, n: int = 1) -> AgentInfo:
        """The agent with ``n`` fewer tasks of the app counted (as if they had left)."""
        a = self.agents[agent_id]
        counts = dict(a.app_tasks)
        counts[app_id] = max(0, counts.get(app_id, 0) - n)
        return replace(a, app_tasks=counts)

    def move(self, app_id: str, task: RunningTask, to_agent: str, allocation: Sequence[tuple[str, str, float]],
             ports: Sequence[int]) -> None:
        """Plan ``task`` onto ``to_agent``: it takes what the placement allocated there, and gives
        its resources back (unreserved) where it was."""
        dst = self.agents[to_agent]
        free = {role: list(res.as_tuple()) for role, res in dst.available.items()}
        index = {"cpus": 0, "mem": 1, "disk": 2, "gpus": 3}
        for name, role, amount in allocation:
            if role in free and name in index:
                free[role][index[name]] = max(0.0, free[role][index[name]] - amount)
        taken = tuple((p, p) for p in ports if p)
        dst_ports = {role: rng.subtract(r, taken) for role, r in dst.ports.items()} if taken else dst.ports
        self.agents[to_agent] = replace(dst, available={r: Resources(*v) for r, v in free.items()}, ports=dst_ports)
        src = self.agents[task.agent_id]
        available = dict(src.available)
        available[UNRESERVED] = available.get(UNRESERVED, Resources()) + Resources(*task.resources)
        self.agents[task.agent_id] = replace(src, available=available)
        self.tasks[app_id][task.task_id] = replace(task, agent_id=to_agent)
        self._recount(app_id)

    def _recount(self, app_id: str) -> None:
        """Count the app's tasks per agent from its task records (what the master said is replaced)."""
        per: dict[str, int] = {}
        for t in self.tasks.get(app_id, {}).values():
            per[t.agent_id] = per.get(t.agent_id, 0) + 1
        for agent_id, a in self.agents.items():
            if a.app_tasks.get(app_id, 0) != per.get(agent_id, 0):
                counts = {k: v for k, v in a.app_tasks.items() if k != app_id}
                if per.get(agent_id):
                    counts[app_id] = per[agent_id]
                self.agents[agent_id] = replace(a, app_tasks=counts)
