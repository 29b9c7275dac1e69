"""What planning takes and gives: requests, placements, unplaced tasks and the plan.

Pure data, shared by the planner (:mod:`~halyard.placement.pipeline`), the comparison of
strategies and the API's renderings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..cluster.agents import SCALARS
from ..spec.app import StrategyRef
from .workload import Workload, WorkloadKind

#: What one scorer gave the chosen agent: ``(scorer name, weight, raw score 0..100)``.
ScoreContribution = tuple[str, float, float]


@dataclass(frozen=True)
class PlacementRequest:
    """Place ``count`` more tasks of ``workload``; ``strategy`` overrides the workload's own choice."""

    workload: Workload
    count: int
    strategy: StrategyRef | None = None


@dataclass(frozen=True, slots=True)  # one per task placed: no per-instance dict
class Placement:
    """One task on one agent, with the resources (by role) and host ports it takes.

    ``app_id`` is the workload's id and ``kind`` whether it is an app or a job run. ``scores``
    says why this agent: what each of the strategy's scorers gave it when it was chosen (empty
    for ``select="random"``); ``sum(weight * score)`` is the total the planner maximised.
    """

    app_id: str
    instance: int
    agent_id: str
    hostname: str
    resources: tuple[float, float, float, float]
    ports: tuple[int, ...]
    allocation: tuple[tuple[str, str, float], ...] = field(default=(), compare=False)
    kind: WorkloadKind = "app"
    scores: tuple[ScoreContribution, ...] = field(default=(), compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app_id, "instance": self.instance, "agent_id": self.agent_id,
                "hostname": self.hostname, "resources": dict(zip(SCALARS, self.resources)),
                "ports": list(self.ports),
                "scores": [{"scorer": name, "weight": weight, "score": score} for name, weight, score in self.scores]}


def _placement_factory() -> Any:
    """``Placement(*fields)`` for the planner's loop: the same object, each slot set through its
    descriptor once (a frozen dataclass's ``__init__`` looks up ``object.__setattr__`` per field:
    twice the cost, at one Placement per task placed)."""
    sets = [getattr(Placement, name).__set__ for name in Placement.__dataclass_fields__]
    assert len(sets) == 9
    s0, s1, s2, s3, s4, s5, s6, s7, s8 = sets
    new = object.__new__

    def make(app_id: str, instance: int, agent_id: str, hostname: str, resources: tuple[float, ...],
             ports: tuple[int, ...], allocation: tuple[tuple[str, str, float], ...], kind: WorkloadKind,
             scores: tuple[ScoreContribution, ...]) -> Placement:
        p = new(Placement)
        s0(p, app_id), s1(p, instance), s2(p, agent_id), s3(p, hostname), s4(p, resources)
        s5(p, ports), s6(p, allocation), s7(p, kind), s8(p, scores)
        return p
    return make


new_placement = _placement_factory()


@dataclass(frozen=True)
class Unplaced:
    """Tasks of a workload that no agent could take, with reasons aggregated over agents.

    ``failed``: the workload's strategy failed (``reasons`` is then its one reason,
    ``strategy 'x' failed: <error>``); otherwise no agent fits.
    """

    app_id: str
    count: int
    reasons: tuple[str, ...]
    kind: WorkloadKind = "app"
    failed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app_id, "count": self.count, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Plan:
    """The outcome of planning: placements, and what could not be placed and why."""

    placements: tuple[Placement, ...]
    unplaced: tuple[Unplaced, ...]

    def to_json(self) -> dict[str, Any]:
        return {"placements": [p.to_json() for p in self.placements],
                "unplaced": [u.to_json() for u in self.unplaced]}
