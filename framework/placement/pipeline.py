"""Planning: which agent gets each new task, and, for what cannot be placed, why.

What is placed is a :class:`~halyard.placement.workload.Workload`: an app's tasks or a job run's
one task. For each workload the pipeline is: filters (static constraints -> resources -> ports ->
stateful constraints -> the strategy's own) then the strategy's weighted scorers; the
best-scoring agent that passes every filter gets the task, and the placement keeps what each
scorer gave that agent. Pure: agents in, a :class:`Plan` out.

Speed comes from the plugins' declared :class:`~halyard.placement.base.Scope`: when no plugin of
an app is ``GLOBAL``, its candidate agents sit in a heap keyed by score, and a placement only
re-evaluates the agent that received the task (stale entries are recognised by the agent's
``stamp``; ``MONOTONE`` filters are re-checked when an agent reaches the top). Otherwise every
agent is re-evaluated for every placement. When every plugin of such an app is a built-in,
:mod:`~halyard.placement.fast_heap` keeps its heaps instead, with the same choices.

Several apps are placed together, interleaved in proportion to what each still needs, so that a
binpacked agent fills with a mix of tasks in the proportions of the whole demand: CPU-heavy and
memory-heavy apps then strand little of either resource.

A broken strategy fails its own workload, not the plan: when the strategy cannot be created, or a
plugin raises or scores outside 0..100, that workload's remaining tasks are :class:`Unplaced`
with ``failed`` set and the one reason ``strategy 'x' failed: <error>``, and planning goes on for
the others. Plugin code runs only before a task lands (choosing the agent, asking its scores), so
the tasks of that workload placed before the failure stay placed, each on an agent that passed
every filter, and nothing is half-allocated.
"""
from __future__ import annotations

import gc
import heapq
import random
from collections import Counter
from collections.abc import Sequence

from ..cluster.agents import AgentInfo
from ..errors import Problem, ValidationError
from ..spec.app import DEFAULT_STRATEGY, StrategyRef
from .fast_shared import SharedScores
from .outcome import Placement, PlacementRequest, Plan, ScoreContribution, Unplaced, new_placement  # noqa: F401 (re-exported)
from .placer import WorkloadPlacer, build_pipeline, strategy_failed  # noqa: F401 (build_pipeline re-exported)
from .registry import StrategyRegistry
from .state import AgentState

DEFAULT_WINDOW = 32


#: The most tasks one plan places: a definition with tiny resources and a huge instance count
#: (``instances`` may be up to 2^31 - 1) would otherwise take time and memory without bound. The
#: rest is reported unplaced with the reason; the engine asks far fewer per offer batch.
MAX_PLACEMENTS = 100_000


def bounded(requests: Sequence[PlacementRequest]) -> tuple[list[PlacementRequest], tuple[Unplaced, ...]]:
    """``requests`` cut to :data:`MAX_PLACEMENTS` tasks in all, and what was cut as unplaced."""
    kept: list[PlacementRequest] = []
    over: list[Unplaced] = []
    room = MAX_PLACEMENTS
    for r in requests:
        take = max(0, min(r.count, room))
        room -= take
        kept.append(r if take == r.count else PlacementRequest(r.workload, take, r.strategy))
        if take < r.count:
            over.append(Unplaced(r.workload.id, r.count - take,
                                 (f"not planned: a plan places at most {MAX_PLACEMENTS} tasks",), r.workload.kind))
    return kept, tuple(over)


class Planner:
    """Plans placements with strategies from ``registry``; ``seed`` makes random choices reproducible."""

    def __init__(self, registry: StrategyRegistry | None = None, seed: int = 0,
                 window: int = DEFAULT_WINDOW, fast: bool = True):
        """``fast=False``: never the built-ins' heap kernels (:mod:`fast_heap`), only the generic
        path (the same choices; for tests that compare the two)."""
        self.registry = registry if registry is not None else StrategyRegistry.discover()
        self.seed = seed
        self.window = max(1, window)
        self.fast = fast

    def strategy_ref(self, request: PlacementRequest) -> StrategyRef:
        """The strategy that places ``request``: its override, else its workload's, else the default."""
        return request.strategy or request.workload.strategy or StrategyRef(name=DEFAULT_STRATEGY)

    def plan(self, agents_info: Sequence[AgentInfo], requests: Sequence[PlacementRequest],
             context: Sequence[AgentInfo] = ()) -> Plan:
        """Place every request on ``agents_info``; nothing is mutated outside this call.

        ``context``: the other agents of the cluster (not offered now): what runs there counts for
        the constraints, so a UNIQUE or GROUP_BY sees the whole cluster, not the offer batch.

        The cycle collector is paused while planning (and resumed after, if it ran before): a plan
        allocates a few small tuples per candidate it examines, and the collector, triggered every
        700 of them, spent about a fifth of a large plan walking the placements made so far."""
        requests, over = bounded(requests)
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            plan = self._plan(agents_info, requests, context)
        finally:
            if paused:
                gc.enable()
        return Plan(plan.placements, plan.unplaced + over) if over else plan

    def _plan(self, agents_info: Sequence[AgentInfo], requests: Sequence[PlacementRequest],
              context: Sequence[AgentInfo]) -> Plan:
        ids = [r.workload.id for r in requests]
        kinds = {r.workload.id: r.workload.kind for r in requests}
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
        if dupes:
            raise ValidationError([Problem("apps", f"{kinds[d]} {d} requested more than once") for d in dupes])
        rng = random.Random(self.seed)
        agents = [AgentState(info, i) for i, info in enumerate(agents_info)]
        others = [AgentState(info, len(agents) + i) for i, info in enumerate(context)]
        placements: list[Placement] = []
        unplaced: list[Unplaced] = []
        waiting: list[WorkloadPlacer] = []
        for i, request in enumerate(requests):
            if not request.count:
                continue
            ref = self.strategy_ref(request)
            try:
                waiting.append(WorkloadPlacer(i, request, ref.name, self.registry.create(ref), self.fast))
            except Exception as exc:  # unknown (uninstalled since), bad args, a factory that crashed
                unplaced.append(strategy_failed(request.workload, request.count, ref.name, exc))
        waiting.reverse()
        # The active workloads, the one furthest behind (largest share still to place) on top,
        # ties to the one requested first: (-remaining / total, order, placer).
        active: list[tuple[float, int, WorkloadPlacer]] = []
        shared = SharedScores(agents)
        landed = shared.landed
        while waiting or active:
            while waiting and len(active) < self.window:
                placer = waiting.pop()
                try:
                    placer.activate(agents, rng, others, shared)
                except Exception as exc:  # a plugin's prepare, filter or scorer
                    unplaced.append(placer.failure(exc))
                    continue
                heapq.heappush(active, (-placer.remaining / placer.total, placer.order, placer))
            if not active:
                break
            placer = active[0][2]
            workload = placer.workload
            try:  # plugin code runs here, before anything is allocated for this task
                agent = placer.best(agents)
                if agent is None:
                    reasons = placer.explain(agents)
                else:
                    scores = placer.scores_on(agent) if placer.rates else ()  # before the task lands
            except Exception as exc:
                heapq.heappop(active)
                unplaced.append(placer.failure(exc))
                continue
            if agent is None:
                heapq.heappop(active)
                unplaced.append(Unplaced(workload.id, placer.remaining, reasons, workload.kind))
                continue
            ctx = placer.ctx
            demand = ctx.demand  # type: ignore[union-attr]  # activated: ctx is set
            allocation, ports = agent.allocate(demand)
            index = agent.index
            landed.append(index)
            if shared.tables:
                shared.placed(agent)
            instance = placer.next_instance
            placements.append(new_placement(workload.id, instance, agent.id, agent.hostname,
                                            demand.vector, ports, allocation, workload.kind, scores))
            placer.next_instance = instance + 1
            placer.remaining = remaining = placer.remaining - 1
            ctx.record(agent)  # type: ignore[union-attr]  # activated: ctx is set
            if remaining:
                heapq.heapreplace(active, (-remaining / placer.total, placer.order, placer))
            else:
                heapq.heappop(active)
        unplaced.sort(key=lambda u: ids.index(u.app_id))
        return Plan(tuple(placements), tuple(unplaced))


def plan(agents: Sequence[AgentInfo], requests: Sequence[PlacementRequest], *, seed: int = 0,
         registry: StrategyRegistry | None = None) -> Plan:
    """Convenience wrapper: ``Planner(registry, seed).plan(agents, requests)``."""
    return Planner(registry, seed).plan(agents, requests)
