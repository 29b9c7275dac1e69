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
from typing import Any, Optional, Sequence

from ..cluster import AgentInfo
from ..errors import HalyardError, PluginError, Problem, ValidationError
from ..model import DEFAULT_STRATEGY, StrategyRef
from .base import MAX_SCORE, Filter, Scope, Scorer, Strategy, plugin_name
from .compiled import PARK, CompiledPipeline, compile_pipeline
from .constraints import constraint_filter
from .context import PlacementContext
from .fast_heap import HeapKernel, heap_kernel
from .fast_shared import SharedScores
from .filters import PortsFilter, ResourcesFilter
from .outcome import (Placement, PlacementRequest, Plan, ScoreContribution, Unplaced,  # noqa: F401 (re-exported)
                      new_placement)
from .registry import StrategyRegistry
from .state import AgentState, Demand
from .workload import Workload

DEFAULT_WINDOW = 32

def build_pipeline(workload: Workload, strategy: Strategy) -> tuple[list[Filter], list[tuple[Scorer, float]]]:
    """The filters and scorers that place one workload, in evaluation order."""
    by_constraint = [constraint_filter(c) for c in workload.constraints]
    filters: list[Filter] = [f for f in by_constraint if f.static]  # what the agent is: cheap, fails early
    filters.append(ResourcesFilter())  # roles, CPUs, memory, disk, GPUs
    if workload.host_ports:
        filters.append(PortsFilter())  # fixed host ports free, enough ports for the rest
    filters += [f for f in by_constraint if not f.static]  # UNIQUE, MAX_PER, CLUSTER, GROUP_BY
    filters += strategy.filters  # the strategy's own
    return filters, list(strategy.scorers)


class _AppPlacer:
    """Places the tasks of one workload: its pipeline, its candidate heap, why agents were refused."""

    def __init__(self, order: int, request: PlacementRequest, strategy_name: str, strategy: Strategy,
                 kernels: bool = True):
        self.order = order
        self.kernels = kernels and not strategy.filters
        self.strategy_name = strategy_name
        self.workload = request.workload
        self.total = self.remaining = request.count
        self.filters, self.scorers = build_pipeline(request.workload, strategy)
        # The same as bound methods (evaluate() is the planner's innermost loop), scorers named.
        self.checks = [f.filter for f in self.filters]
        self.rates = [(s.score, w, plugin_name(s)) for s, w in self.scorers]
        # A refusal by an AGENT or MONOTONE filter is final for the rest of this plan; by a
        # REVERSIBLE one, until that filter's epoch changes: the agent is parked until then.
        final_refusals = all(f.scope is not Scope.GLOBAL for f in self.filters)
        self.reversible = [f for f in self.filters if f.scope is Scope.REVERSIBLE]
        self.judged = [(f.filter, f.scope is Scope.REVERSIBLE) for f in self.filters]
        # Agents refused only by REVERSIBLE filters, with their last heap entry if they had one.
        self.parked: dict[int, Optional[tuple[float, int, int]]] = {}
        self.epochs: object = None
        self.random_mode = strategy.select == "random" and final_refusals and not self.reversible
        self.heap_mode = (final_refusals and not self.random_mode and strategy.select == "best"
                          and all(s.scope is Scope.AGENT for s, _ in self.scorers))
        # Scores that only fall: a changed agent is re-scored when it reaches the top (its stale
        # score is an upper bound), not eagerly after every placement.
        self.lazy = self.heap_mode and all(s.falls_with_use for s, _ in self.scorers)
        # Otherwise an agent that just received a task (of any workload) is re-evaluated before
        # this workload's next turn: the planner adds it to ``dirty``.
        self.eager = self.heap_mode and not self.lazy
        self.recheck = [f for f in self.filters if f.scope in (Scope.MONOTONE, Scope.REVERSIBLE)]
        self.heap: list[tuple[float, int, int]] = []
        self.dirty: set[int] = set()
        self.candidates: list[int] = []
        self.select = strategy.select
        self.next_instance = 0
        self.ctx: Optional[PlacementContext] = None
        self.fast: Optional[CompiledPipeline] = None
        self.kernel: Optional[HeapKernel] = None

    def activate(self, agents: list[AgentState], rng: random.Random, context: Sequence[AgentState] = (),
                 shared: Optional[SharedScores] = None) -> None:
        """Ready to place on ``agents``; ``context``: the rest of the cluster, whose tasks count for
        constraints (UNIQUE, MAX_PER, CLUSTER, GROUP_BY) but which takes no task now; ``shared``:
        the plan's scores that every workload shares (the planner keeps them current)."""
        key = self.workload.id
        cluster = [*agents, *context] if context else agents
        existing = sum(a.app_counts.get(key, 0) for a in cluster)
        self.next_instance = existing
        static = [f for f in self.filters if f.static]
        ctx = PlacementContext(self.workload, Demand.of(self.workload), cluster, existing + self.total, rng,
                               lambda: [a for a in cluster if self._passes(static, a)])
        self.ctx = ctx
        for f in sorted(self.filters, key=lambda f: not f.static):
            try:
                f.prepare(ctx)
            except Exception as exc:
                raise _plugin_error("filter", plugin_name(f), exc) from exc
        for s, _ in self.scorers:
            try:
                s.prepare(ctx)
            except Exception as exc:
                raise _plugin_error("scorer", plugin_name(s), exc) from exc
        try:
            self.fast = compile_pipeline(ctx, self.filters, self.scorers)
        except Exception as exc:
            raise _plugin_error("plugin", "compile", exc) from exc
        if self.fast is not None:  # the built-ins' fused forms: same verdicts, no guards needed
            self.evaluate = self.fast.evaluate  # type: ignore[method-assign]
        self.candidates = list(range(len(agents)))
        if self.heap_mode and self.remaining and self.fast is not None and self.kernels and shared is not None:
            try:
                self.kernel = heap_kernel(ctx, agents, self.filters, self.scorers, self.lazy, shared)
            except Exception as exc:
                raise _plugin_error("plugin", "compile", exc) from exc
            if self.kernel is not None:  # the built-ins' heaps: same choices, less work per placement
                self.eager = False  # the kernel reads the plan's landed list itself
                self.best = self.kernel.best  # type: ignore[method-assign]
                self.scores_on = self.kernel.scores_on  # type: ignore[method-assign]
                return
        if self.heap_mode and self.remaining:
            entries = []
            for agent in agents:
                score = self._judge(agent, None)
                if score is not None:
                    entries.append((-score, agent.index, agent.stamp))
            heapq.heapify(entries)
            self.heap = entries
            self.epochs = self._epochs()

    def evaluate(self, agent: AgentState) -> Optional[float]:
        """The agent's score, or None if a filter refuses it. A plugin that raises or scores
        outside 0..100 raises PluginError naming it."""
        ctx = self.ctx
        try:
            for check in self.checks:
                if check(ctx, agent).reason is not None:  # type: ignore[arg-type]
                    return None
        except Exception as exc:
            raise _plugin_error("filter", plugin_name(getattr(check, "__self__", check)), exc) from exc
        return self._total(agent)

    def _total(self, agent: AgentState) -> float:
        """The weighted sum of the scorers (the agent passed every filter); PluginError naming a
        scorer that raises or scores outside 0..100."""
        ctx = self.ctx
        total = 0.0
        try:
            for rate, weight, name in self.rates:
                value = rate(ctx, agent)  # type: ignore[arg-type]
                if not 0.0 <= value <= MAX_SCORE:
                    raise _out_of_range(name, value)
                total += weight * value
        except Exception as exc:
            raise _plugin_error("scorer", name, exc) from exc
        return total

    def _epochs(self) -> object:
        return tuple([f.epoch(self.ctx) for f in self.reversible])  # type: ignore[arg-type]

    def _judge(self, agent: AgentState, entry: Optional[tuple[float, int, int]]) -> Optional[float]:
        """:meth:`evaluate`, parking the agent (with ``entry``, its last heap entry) when the first
        filter to refuse it is REVERSIBLE."""
        if not self.reversible:
            return self.evaluate(agent)
        if self.fast is not None:
            score = self.fast.judge(agent)
            if score == PARK:
                self.parked[agent.index] = entry
                return None
            return score
        ctx = self.ctx
        try:
            for check, reversible in self.judged:
                if check(ctx, agent).reason is not None:  # type: ignore[arg-type]
                    if reversible:
                        self.parked[agent.index] = entry
                    return None
        except Exception as exc:
            raise _plugin_error("filter", plugin_name(getattr(check, "__self__", check)), exc) from exc
        return self._total(agent)

    def _push(self, heap: list, agent: AgentState, entry: Optional[tuple[float, int, int]] = None) -> None:
        score = self._judge(agent, entry)
        if score is not None:
            heapq.heappush(heap, (-score, agent.index, agent.stamp))

    def _unpark(self, heap: list, agents: list[AgentState]) -> None:
        """Parked agents back into the heap: with their last entry when it is still good (its score
        is current, or an upper bound that a lazy placer re-scores at the top), else re-evaluated."""
        parked, self.parked = self.parked, {}
        for index, entry in parked.items():
            if entry is not None and (self.lazy or entry[2] == agents[index].stamp):
                heapq.heappush(heap, entry)
            else:
                self._push(heap, agents[index])

    def scores_on(self, agent: AgentState) -> tuple[ScoreContribution, ...]:
        """What each scorer gives ``agent`` now: asked once, for the agent just chosen (and
        checked as :meth:`evaluate` checks it)."""
        if self.fast is not None:
            return tuple([(name, weight, rate(agent)) for rate, weight, name in self.fast.rates])
        ctx, scores = self.ctx, []
        try:
            for rate, weight, name in self.rates:
                value = rate(ctx, agent)  # type: ignore[arg-type]
                if not 0.0 <= value <= MAX_SCORE:
                    raise _out_of_range(name, value)
                scores.append((name, weight, value))
        except Exception as exc:
            raise _plugin_error("scorer", name, exc) from exc
        return tuple(scores)

    def _passes(self, filters: list[Filter], agent: AgentState) -> bool:
        """Whether ``agent`` passes every one of ``filters`` (outside the hot path: each call guarded)."""
        for f in filters:
            try:
                if f.filter(self.ctx, agent).reason is not None:  # type: ignore[arg-type]
                    return False
            except Exception as exc:
                raise _plugin_error("filter", plugin_name(f), exc) from exc
        return True

    def failure(self, exc: Exception) -> Unplaced:
        """The workload's remaining tasks, unplaced because its strategy failed with ``exc``."""
        return strategy_failed(self.workload, self.remaining, self.strategy_name, exc)

    def best(self, agents: list[AgentState]) -> Optional[AgentState]:
        """The agent the next task should go to, or None when no agent can take it."""
        if self.random_mode:
            return self._random(agents)
        if not self.heap_mode:
            return self._scan(agents)
        heap, ctx = self.heap, self.ctx
        if self.dirty:
            for index in self.dirty:
                self._push(heap, agents[index])
            self.dirty.clear()
        if self.parked:
            epochs = self._epochs()
            if epochs != self.epochs:  # refusals may have lifted: examine the parked agents again
                self.epochs = epochs
                self._unpark(heap, agents)
        while heap:
            _, index, stamp = heap[0]
            agent = agents[index]
            if stamp != agent.stamp:  # stale
                if self.lazy:  # re-score now; eager apps pushed a fresh entry when it changed
                    score = self._judge(agent, heap[0])
                    if score is not None:  # one sift instead of a pop and a push
                        heapq.heapreplace(heap, (-score, index, agent.stamp))
                        continue
                heapq.heappop(heap)
                continue
            if self.fast is not None:
                for check, reversible in self.fast.recheck:
                    if not check(agent):
                        entry = heapq.heappop(heap)
                        if reversible:
                            self.parked[index] = entry
                        break
                else:
                    return agent
                continue
            try:
                for f in self.recheck:
                    if f.filter(ctx, agent).reason is not None:  # type: ignore[arg-type]
                        entry = heapq.heappop(heap)
                        if f.scope is Scope.REVERSIBLE:  # a later MONOTONE refusal shows when it comes back
                            self.parked[index] = entry
                        break
                else:
                    return agent
            except Exception as exc:
                raise _plugin_error("filter", plugin_name(f), exc) from exc
        return None

    def _scan(self, agents: list[AgentState]) -> Optional[AgentState]:
        """Evaluate every agent; the first with the highest score wins (random: any that passes)."""
        passing = []
        best, best_score = None, -1.0
        for agent in agents:
            score = self.evaluate(agent)
            if score is None:
                continue
            passing.append(agent)
            if score > best_score:
                best, best_score = agent, score
        if self.select == "random" and passing:
            return self.ctx.rng.choice(passing)  # type: ignore[union-attr]
        return best

    def _random(self, agents: list[AgentState]) -> Optional[AgentState]:
        """Uniform among agents that pass: draw, check, and drop refused agents for good."""
        candidates, rng = self.candidates, self.ctx.rng  # type: ignore[union-attr]
        while candidates:
            i = rng.randrange(len(candidates))
            agent = agents[candidates[i]]
            if self.evaluate(agent) is not None:
                return agent
            candidates[i] = candidates[-1]
            candidates.pop()
        return None

    def explain(self, agents: list[AgentState]) -> tuple[str, ...]:
        """Why no agent can take another task: every filter's refusals, counted over agents."""
        if not agents:
            return ("no agents in the cluster",)
        counts: Counter[str] = Counter()
        try:
            for agent in agents:
                for f in self.filters:
                    reason = f.filter(self.ctx, agent).reason  # type: ignore[arg-type]
                    if reason is not None:
                        counts[reason] += 1
        except Exception as exc:
            raise _plugin_error("filter", plugin_name(f), exc) from exc
        return tuple(f"{reason} on {n} of {len(agents)} agents" for reason, n in counts.most_common())


def strategy_failed(workload: Workload, count: int, strategy: str, exc: Exception) -> Unplaced:
    """``count`` tasks of ``workload`` wait because its strategy (by name) failed with ``exc``."""
    if isinstance(exc, ValidationError):
        detail = "; ".join(str(p) for p in exc.problems)
    elif isinstance(exc, HalyardError):
        detail = str(exc)
    else:
        detail = repr(exc)
    return Unplaced(workload.id, count, (f"strategy {strategy!r} failed: {detail}",), workload.kind, failed=True)


def _plugin_error(role: str, name: str, exc: Exception) -> PluginError:
    """``exc``, raised by the plugin ``name`` (a filter or scorer), as a PluginError naming it."""
    if isinstance(exc, PluginError):  # already says which plugin and why
        return exc
    return PluginError(f"{role} {name!r} raised {exc!r}")


def _out_of_range(name: str, value: Any) -> PluginError:
    return PluginError(f"scorer {name!r} returned {value!r}, outside 0..{MAX_SCORE:g}")


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

    def __init__(self, registry: Optional[StrategyRegistry] = None, seed: int = 0,
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
        waiting: list[_AppPlacer] = []
        for i, request in enumerate(requests):
            if not request.count:
                continue
            ref = self.strategy_ref(request)
            try:
                waiting.append(_AppPlacer(i, request, ref.name, self.registry.create(ref), self.fast))
            except Exception as exc:  # unknown (uninstalled since), bad args, a factory that crashed
                unplaced.append(strategy_failed(request.workload, request.count, ref.name, exc))
        waiting.reverse()
        # The active workloads, the one furthest behind (largest share still to place) on top,
        # ties to the one requested first: (-remaining / total, order, placer).
        active: list[tuple[float, int, _AppPlacer]] = []
        # The ``dirty`` sets of the active eager placers: each placement adds its agent to them.
        dirty_sets: list[set[int]] = []
        shared = SharedScores(agents)
        landed = shared.landed
        while waiting or active:
            if waiting and len(active) < self.window:
                while waiting and len(active) < self.window:
                    placer = waiting.pop()
                    try:
                        placer.activate(agents, rng, others, shared)
                    except Exception as exc:  # a plugin's prepare, filter or scorer
                        unplaced.append(placer.failure(exc))
                        continue
                    heapq.heappush(active, (-placer.remaining / placer.total, placer.order, placer))
                dirty_sets = [other.dirty for _, _, other in active if other.eager]
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
                dirty_sets = [other.dirty for _, _, other in active if other.eager]
                unplaced.append(placer.failure(exc))
                continue
            if agent is None:
                heapq.heappop(active)
                dirty_sets = [other.dirty for _, _, other in active if other.eager]
                unplaced.append(Unplaced(workload.id, placer.remaining, reasons, workload.kind))
                continue
            ctx = placer.ctx
            demand = ctx.demand  # type: ignore[union-attr]
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
            ctx.record(agent)  # type: ignore[union-attr]
            if remaining:
                heapq.heapreplace(active, (-remaining / placer.total, placer.order, placer))
            else:
                heapq.heappop(active)
                dirty_sets = [other.dirty for _, _, other in active if other.eager]
            for dirty in dirty_sets:
                dirty.add(index)
        unplaced.sort(key=lambda u: ids.index(u.app_id))
        return Plan(tuple(placements), tuple(unplaced))


def plan(agents: Sequence[AgentInfo], requests: Sequence[PlacementRequest], *, seed: int = 0,
         registry: Optional[StrategyRegistry] = None) -> Plan:
    """Convenience wrapper: ``Planner(registry, seed).plan(agents, requests)``."""
    return Planner(registry, seed).plan(agents, requests)
