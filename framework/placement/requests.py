"""Placement requests for what a cluster still lacks: the dry run's input (``halyard plan``,
``POST /v1/plan``). Pure: specs and agents in, requests out."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from ..cluster.agents import AgentInfo
from ..spec.app import StrategyRef
from .pipeline import PlacementRequest
from .workload import Workload


class HasWorkload(Protocol):
    """Anything the planner can place: an :class:`~halyard.spec.app.AppSpec`, for one."""

    def workload(self) -> Workload: ...


def requests_for(specs: Iterable[Workload | HasWorkload], agents: Sequence[AgentInfo],
                 strategy: str | None) -> list[PlacementRequest]:
    """One request per spec for the instances it still lacks on ``agents`` (never fewer than 0);
    ``strategy``, when given, overrides every spec's own."""
    ref = StrategyRef(name=strategy) if strategy else None
    running: dict[str, int] = {}
    for agent in agents:
        for key, n in agent.app_tasks.items():
            running[key] = running.get(key, 0) + n
    workloads = [s if isinstance(s, Workload) else s.workload() for s in specs]
    return [PlacementRequest(w, max(0, w.instances - running.get(w.id, 0)), ref) for w in workloads]
