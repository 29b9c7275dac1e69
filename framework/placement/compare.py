"""Weigh strategies against each other: the same apps planned under each on the same cluster state
(``halyard plan --compare``, ``POST /v1/plan?compare=``). Pure: agents and requests in, figures out.

Each strategy replaces every app's own. Per strategy:

* ``placed`` / ``unplaced``: new instances placed, and those no agent could take;
* ``agents_used``: agents that run at least one instance of the apps afterwards (running ones
  included), against ``lower_bound``: the fewest agents whose capacities add up, for every
  resource, to what all the apps' instances need (the largest agents first; other apps ignored);
* ``max_min_per_agent`` / ``max_min_per_zone``: the worst app's max - min instances per agent
  and per zone, over the agents (zones) its static constraints allow (0 when zones are unknown);
* ``largest_fit``: the largest task that still fits on some agent afterwards, of the cluster's
  shape: on the agent that keeps the most free of its scarcer resource (as a share of the largest
  agent's), that agent's free CPUs and memory (unreserved and reserved together). Fragmentation
  shows as a small figure;
* ``seconds``: planning time.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..cluster.agents import SCALARS, AgentInfo
from ..spec.app import StrategyRef
from .constraints import constraint_filter
from .pipeline import PlacementRequest, Plan, Planner
from .state import AgentState, Demand


@dataclass(frozen=True)
class Comparison:
    """One strategy's figures (the JSON keys are a contract: see :meth:`to_json`)."""

    strategy: str
    placed: int
    unplaced: int
    agents_used: int
    lower_bound: int
    max_min_per_agent: int
    max_min_per_zone: int
    largest_fit: tuple[float, float]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "placed": self.placed, "unplaced": self.unplaced,
                "agents_used": self.agents_used, "lower_bound": self.lower_bound,
                "max_min_per_agent": self.max_min_per_agent, "max_min_per_zone": self.max_min_per_zone,
                "largest_fit": {"cpus": round(self.largest_fit[0], 3), "mem": round(self.largest_fit[1], 3)},
                "seconds": round(self.seconds, 6)}


def compare(planner: Planner, agents: Sequence[AgentInfo], requests: Sequence[PlacementRequest],
            strategies: Sequence[tuple[str, StrategyRef]]) -> list[Comparison]:
    """Plan ``requests`` once per ``(label, strategy)`` on ``agents``; the figures of each, in order."""
    bound = lower_bound(agents, requests)
    out = []
    for label, ref in strategies:
        reqs = [PlacementRequest(r.workload, r.count, ref) for r in requests]
        started = time.perf_counter()
        plan = planner.plan(agents, reqs)
        seconds = time.perf_counter() - started
        out.append(figures(label, agents, reqs, plan, bound, seconds))
    return out


def to_json(comparisons: Sequence[Comparison]) -> dict[str, Any]:
    """``{"strategies": [...]}``, one entry per strategy."""
    return {"strategies": [c.to_json() for c in comparisons]}


def lower_bound(agents: Sequence[AgentInfo], requests: Sequence[PlacementRequest]) -> int:
    """The fewest agents (largest first) whose capacities cover, for each resource, what every
    instance of the requested workloads needs (those running and those requested)."""
    running: Counter[str] = Counter()
    for agent in agents:
        running.update(agent.app_tasks)
    need = [0.0] * len(SCALARS)
    for r in requests:
        w = r.workload
        count = r.count + running.get(w.id, 0)
        for k, amount in enumerate(Demand.of(w).vector):
            need[k] += amount * count
    bound = 0
    for k, total in enumerate(need):
        if total <= 0:
            continue
        caps = sorted((a.capacity.as_tuple()[k] for a in agents), reverse=True)
        covered, n = 0.0, 0
        while n < len(caps) and covered + 1e-9 < total:
            covered += caps[n]
            n += 1
        bound = max(bound, n if covered + 1e-9 >= total else len(caps) + 1)  # more than there are: never fits
    return bound


def figures(label: str, agents: Sequence[AgentInfo], requests: Sequence[PlacementRequest], plan: Plan,
            bound: int, seconds: float) -> Comparison:
    """The figures of one plan (see the module's description)."""
    ids = {r.workload.id for r in requests}
    counts: dict[str, Counter[str]] = defaultdict(Counter)  # app -> agent id -> instances
    for agent in agents:
        for app_id, n in agent.app_tasks.items():
            if app_id in ids and n:
                counts[app_id][agent.id] += n
    used: dict[str, list[float]] = {}
    for p in plan.placements:
        counts[p.app_id][p.agent_id] += 1
        taken = used.setdefault(p.agent_id, [0.0] * len(SCALARS))
        for k, amount in enumerate(p.resources):
            taken[k] += amount
    agents_used = len({agent_id for per_agent in counts.values() for agent_id in per_agent})
    per_agent = per_zone = 0
    for r in requests:
        eligible = _eligible(agents, r)
        on = counts.get(r.workload.id, Counter())
        if eligible:
            per_agent = max(per_agent, _gap([on.get(a.id, 0) for a in eligible]))
        zones: Counter[str] = Counter({a.zone: 0 for a in eligible if a.zone is not None})
        for a in eligible:
            if a.zone is not None:
                zones[a.zone] += on.get(a.id, 0)
        per_zone = max(per_zone, _gap(list(zones.values())))
    unplaced = sum(u.count for u in plan.unplaced)
    return Comparison(label, len(plan.placements), unplaced, agents_used, bound, per_agent, per_zone,
                      largest_fit(agents, used), seconds)


def largest_fit(agents: Sequence[AgentInfo], used: Mapping[str, Sequence[float]]) -> tuple[float, float]:
    """Free (CPUs, memory) of the agent that keeps the most of its scarcer one, as a share of
    the largest agent's capacity; (0, 0) for no agents."""
    if not agents:
        return (0.0, 0.0)
    top_cpus = max(a.capacity.cpus for a in agents) or 1.0
    top_mem = max(a.capacity.mem for a in agents) or 1.0
    best: tuple[float, float, float] | None = None
    for a in agents:
        taken = used.get(a.id, (0.0, 0.0))
        cpus = max(0.0, sum(r.cpus for r in a.available.values()) - taken[0])
        mem = max(0.0, sum(r.mem for r in a.available.values()) - taken[1])
        share = min(cpus / top_cpus, mem / top_mem)
        if best is None or share > best[0]:
            best = (share, cpus, mem)
    return (best[1], best[2]) if best is not None else (0.0, 0.0)


def _eligible(agents: Sequence[AgentInfo], request: PlacementRequest) -> list[AgentInfo]:
    """The agents the workload's static constraints (IS, LIKE, UNLIKE, CLUSTER with a value) allow."""
    static = [f for f in map(constraint_filter, request.workload.constraints) if f.static]
    if not static:
        return list(agents)
    out = []
    for i, info in enumerate(agents):
        state = AgentState(info, i)
        if all(f.filter(None, state).reason is None for f in static):  # type: ignore[arg-type]  # static filters read no context
            out.append(info)
    return out


def _gap(values: list[int]) -> int:
    return max(values) - min(values) if values else 0


def parse_names(text: str) -> list[str]:
    """``binpack,spread,random`` -> the names, in order, without blanks; duplicates refused."""
    from ..errors import Problem, ValidationError

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValidationError([Problem("compare", "expected strategy names separated by commas")])
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationError([Problem("compare", f"strategy {d!r} is listed twice") for d in dupes])
    return names

