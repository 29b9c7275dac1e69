"""Placing one workload's tasks: its pipeline (filters, then weighted scorers), its candidates,
and why agents were refused. The :class:`~.pipeline.Planner` interleaves several workloads and
asks each :class:`WorkloadPlacer` for the best agent of its next task.

A workload whose plugins declare no ``GLOBAL`` scope keeps its candidates in a heap (``heap_mode``;
scores that only fall are re-scored lazily, others eagerly for the agents that received a task);
one whose plugins are all built-ins uses a :mod:`~.fast_heap` kernel with the same choices;
otherwise every agent is evaluated for every task (``_scan``), or drawn at random. A plugin that
raises or scores outside 0..100 is a :class:`~halyard.errors.PluginError` naming it; the planner
turns it into the workload's ``strategy 'x' failed`` reason (:func:`strategy_failed`). Pure.
"""
from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import HalyardError, PluginError, ValidationError
from .base import MAX_SCORE, Filter, Scope, Scorer, Status, Strategy, plugin_name
from .compiled import PARK, CompiledPipeline, compile_pipeline
from .constraints import constraint_filter
from .context import PlacementContext
from .fast_heap import HeapKernel, heap_kernel
from .fast_shared import SharedScores
from .filters import PortsFilter, ResourcesFilter
from .outcome import PlacementRequest, ScoreContribution, Unplaced
from .state import AgentState, Demand
from .workload import Workload


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


class WorkloadPlacer:
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
        self.checks: list[Callable[[PlacementContext, AgentState], Status]] = [f.filter for f in self.filters]
        self.rates = [(s.score, w, plugin_name(s)) for s, w in self.scorers]
        # A refusal by an AGENT or MONOTONE filter is final for the rest of this plan; by a
        # REVERSIBLE one, until that filter's epoch changes: the agent is parked until then.
        final_refusals = all(f.scope is not Scope.GLOBAL for f in self.filters)
        self.reversible = [f for f in self.filters if f.scope is Scope.REVERSIBLE]
        self.judged = [(f.filter, f.scope is Scope.REVERSIBLE) for f in self.filters]
        # Agents refused only by REVERSIBLE filters, with their last heap entry if they had one.
        self.parked: dict[int, tuple[float, int, int] | None] = {}
        self.epochs: object = None
        self.random_mode = strategy.select == "random" and final_refusals and not self.reversible
        self.heap_mode = (final_refusals and not self.random_mode and strategy.select == "best"
                          and all(s.scope is Scope.AGENT for s, _ in self.scorers))
        # Scores that only fall: a changed agent is re-scored when it reaches the top (its stale
        # score is an upper bound), not eagerly after every placement.
        self.lazy = self.heap_mode and all(s.falls_with_use for s, _ in self.scorers)
        # Otherwise an agent that just received a task (of any workload) is re-evaluated before
        # this workload's next turn: those since its last turn are the tail of the plan's
        # ``landed`` list (SharedScores.landed) from ``_seen`` on.
        self.eager = self.heap_mode and not self.lazy
        self.recheck = [f for f in self.filters if f.scope in (Scope.MONOTONE, Scope.REVERSIBLE)]
        self.heap: list[tuple[float, int, int]] = []
        self._landed: list[int] = []
        self._seen = 0
        self.candidates: list[int] = []
        self.select = strategy.select
        self.next_instance = 0
        self.ctx: PlacementContext | None = None
        self.fast: CompiledPipeline | None = None
        self.kernel: HeapKernel | None = None

    def activate(self, agents: list[AgentState], rng: random.Random, context: Sequence[AgentState] = (),
                 shared: SharedScores | None = None) -> None:
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
            self.evaluate = self.fast.evaluate  # type: ignore[method-assign,assignment]  # mypy compares with the unbound def
        self.candidates = list(range(len(agents)))
        if shared is not None:
            self._landed, self._seen = shared.landed, len(shared.landed)
        if self.heap_mode and self.remaining and self.fast is not None and self.kernels and shared is not None:
            try:
                self.kernel = heap_kernel(ctx, agents, self.filters, self.scorers, self.lazy, shared)
            except Exception as exc:
                raise _plugin_error("plugin", "compile", exc) from exc
            if self.kernel is not None:  # the built-ins' heaps: same choices, less work per placement
                self.best = self.kernel.best  # type: ignore[method-assign]  # this instance's fast form
                self.scores_on = self.kernel.scores_on  # type: ignore[method-assign]  # this instance's fast form
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

    def evaluate(self, agent: AgentState) -> float | None:
        """The agent's score, or None if a filter refuses it. A plugin that raises or scores
        outside 0..100 raises PluginError naming it."""
        ctx = self.ctx
        try:
            for check in self.checks:
                if check(ctx, agent).reason is not None:  # type: ignore[arg-type]  # activated: ctx is set
                    return None
        except Exception as exc:
            raise _plugin_error("filter", self._filter_name(check), exc) from exc
        return self._total(agent)

    def _filter_name(self, check: Callable[[PlacementContext, AgentState], Status]) -> str:
        """The name of the filter whose ``filter`` is ``check`` (a bound method compares equal to
        its filter's; a static one has no ``__self__`` to find the filter by)."""
        return plugin_name(self.filters[self.checks.index(check)])

    def _total(self, agent: AgentState) -> float:
        """The weighted sum of the scorers (the agent passed every filter); PluginError naming a
        scorer that raises or scores outside 0..100."""
        ctx = self.ctx
        total = 0.0
        try:
            for rate, weight, name in self.rates:
                value = rate(ctx, agent)  # type: ignore[arg-type]  # activated: ctx is set
                if not 0.0 <= value <= MAX_SCORE:
                    raise _out_of_range(name, value)
                total += weight * value
        except Exception as exc:
            raise _plugin_error("scorer", name, exc) from exc
        return total

    def _epochs(self) -> object:
        return tuple([f.epoch(self.ctx) for f in self.reversible])  # type: ignore[arg-type]  # activated: ctx is set

    def _judge(self, agent: AgentState, entry: tuple[float, int, int] | None) -> float | None:
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
                if check(ctx, agent).reason is not None:  # type: ignore[arg-type]  # activated: ctx is set
                    if reversible:
                        self.parked[agent.index] = entry
                    return None
        except Exception as exc:
            raise _plugin_error("filter", self._filter_name(check), exc) from exc
        return self._total(agent)

    def _push(self, heap: list, agent: AgentState, entry: tuple[float, int, int] | None = None) -> None:
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
                value = rate(ctx, agent)  # type: ignore[arg-type]  # activated: ctx is set
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
                if f.filter(self.ctx, agent).reason is not None:  # type: ignore[arg-type]  # activated: ctx is set
                    return False
            except Exception as exc:
                raise _plugin_error("filter", plugin_name(f), exc) from exc
        return True

    def failure(self, exc: Exception) -> Unplaced:
        """The workload's remaining tasks, unplaced because its strategy failed with ``exc``."""
        return strategy_failed(self.workload, self.remaining, self.strategy_name, exc)

    def best(self, agents: list[AgentState]) -> AgentState | None:
        """The agent the next task should go to, or None when no agent can take it."""
        if self.random_mode:
            return self._random(agents)
        if not self.heap_mode:
            return self._scan(agents)
        heap, ctx = self.heap, self.ctx
        if self.eager and len(self._landed) > self._seen:  # agents that received a task since our last turn
            for index in set(self._landed[self._seen:]):
                self._push(heap, agents[index])
            self._seen = len(self._landed)
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
                    if f.filter(ctx, agent).reason is not None:  # type: ignore[arg-type]  # activated: ctx is set
                        entry = heapq.heappop(heap)
                        if f.scope is Scope.REVERSIBLE:  # a later MONOTONE refusal shows when it comes back
                            self.parked[index] = entry
                        break
                else:
                    return agent
            except Exception as exc:
                raise _plugin_error("filter", plugin_name(f), exc) from exc
        return None

    def _scan(self, agents: list[AgentState]) -> AgentState | None:
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
            return self.ctx.rng.choice(passing)  # type: ignore[union-attr]  # activated: ctx is set
        return best

    def _random(self, agents: list[AgentState]) -> AgentState | None:
        """Uniform among agents that pass: draw, check, and drop refused agents for good."""
        candidates, rng = self.candidates, self.ctx.rng  # type: ignore[union-attr]  # activated: ctx is set
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
                    reason = f.filter(self.ctx, agent).reason  # type: ignore[arg-type]  # activated: ctx is set
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
