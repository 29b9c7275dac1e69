"""Scorers the built-in strategies share; a platform team's plugin may reuse them."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ...cluster.agents import SCALARS
from ..base import MAX_SCORE, Scope, Scorer
from ..context import PlacementContext
from ..state import AgentState


class _UsageScorer(Scorer):
    scope = Scope.AGENT

    def __init__(self, resources: Sequence[str] | None = None):
        """``resources``: the resources weighed (names from ``cpus, mem, disk, gpus``); by default
        CPUs and memory, and disk and GPUs for workloads that ask for them."""
        self.resources = tuple(resources) if resources is not None else None

    def prepare(self, ctx: PlacementContext) -> None:
        d = ctx.demand.vector
        if self.resources is not None:
            self._dims = [(k, d[k]) for k, name in enumerate(SCALARS) if name in self.resources]
        else:  # CPU and memory always count; disk and GPUs only for apps that ask for them.
            self._dims = [(k, d[k]) for k in range(4) if k < 2 or d[k] > 0]
        self._scale = MAX_SCORE / len(self._dims)

    @property
    def dims(self) -> tuple[tuple[int, float], ...]:
        """After :meth:`prepare`: the resources weighed, as ``(index in SCALARS, the task's need)``."""
        return tuple(self._dims)

    @property
    def scale(self) -> float:
        """After :meth:`prepare`: 100 / the number of resources weighed."""
        return self._scale
    def _mean_share(self, agent: AgentState, placed: bool) -> float:
        """100 x the mean over resources of the share in use (with the task if ``placed``)."""
        total = 0.0
        cap, free = agent.capacity, agent.free_total
        for k, need in self._dims:
            c = cap[k]
            if c > 0:
                share = (c - free[k] + (need if placed else 0.0)) / c
                total += share if share < 1.0 else 1.0
        return self._scale * total


    def _compiled_share(self, placed: bool, complement: bool = False) -> Callable[[AgentState], float]:
        """:meth:`_mean_share` as a function of the agent alone (same arithmetic, same order);
        ``complement``: ``MAX_SCORE`` minus that."""
        scale = self._scale
        dims = tuple((k, need if placed else 0.0) for k, need in self._dims)
        if len(dims) == 2:
            (k1, n1), (k2, n2) = dims
            base, sign = (MAX_SCORE, -scale) if complement else (0.0, scale)

            def two(agent: AgentState) -> float:
                cap, free = agent.capacity, agent.free_total
                total = 0.0
                c = cap[k1]
                if c > 0:
                    share = (c - free[k1] + n1) / c
                    total += share if share < 1.0 else 1.0
                c = cap[k2]
                if c > 0:
                    share = (c - free[k2] + n2) / c
                    total += share if share < 1.0 else 1.0
                return base + sign * total
            return two
        if complement:
            return lambda agent: MAX_SCORE - self._mean_share(agent, placed)
        return lambda agent: self._mean_share(agent, placed)


class BinpackScorer(_UsageScorer):
    """Fuller agents score higher: mean share of each resource in use once the task is placed."""

    name = "binpack"

    def score(self, ctx: PlacementContext, agent: AgentState) -> float:
        return self._mean_share(agent, placed=True)

    def compile(self, ctx: PlacementContext) -> Callable[[AgentState], float]:
        return self._compiled_share(placed=True)


class LeastAllocatedScorer(_UsageScorer):
    """Emptier agents score higher: mean share of each resource still free."""

    name = "least-allocated"
    falls_with_use = True

    def score(self, ctx: PlacementContext, agent: AgentState) -> float:
        return MAX_SCORE - self._mean_share(agent, placed=False)

    def compile(self, ctx: PlacementContext) -> Callable[[AgentState], float]:
        return self._compiled_share(placed=False, complement=True)


class SpreadScorer(Scorer):
    """Agents with fewer tasks of this app score higher (100 minus the count, floored at 0).

    ``by``: count per value of a constraint field instead of per agent (``hostname``, ``@zone``,
    ``@region`` or any attribute); an agent without the field scores 0. A placement then changes
    the score of every agent with the same value, so the scorer is ``GLOBAL`` (every agent is
    re-scored for every placement: slower on big clusters).
    """

    name = "spread"
    scope = Scope.AGENT
    falls_with_use = True

    def __init__(self, by: str | None = None):
        self.by = by
        if by is not None:
            self.scope = Scope.GLOBAL

    def score(self, ctx: PlacementContext, agent: AgentState) -> float:
        if self.by is not None:
            value = agent.values.get(self.by)
            if value is None:
                return 0.0
            return max(0.0, MAX_SCORE - ctx.value_counts(self.by).get(value, 0))
        return max(0.0, MAX_SCORE - agent.app_counts.get(ctx.app_id, 0))

    def compile(self, ctx: PlacementContext) -> Callable[[AgentState], float]:
        if self.by is not None:
            field, counts = self.by, ctx.value_counts(self.by)  # kept current by ctx.record

            def by_value(agent: AgentState) -> float:
                value = agent.values.get(field)
                return 0.0 if value is None else max(0.0, MAX_SCORE - counts.get(value, 0))
            return by_value
        app_id = ctx.app_id

        def per_agent(agent: AgentState) -> float:
            n = agent.app_counts.get(app_id, 0)
            return MAX_SCORE - n if n < MAX_SCORE else 0.0  # max(0.0, MAX_SCORE - n) without the call
        return per_agent
