"""Scorers the built-in strategies share; a platform team's plugin may reuse them."""
from __future__ import annotations

from ..base import MAX_SCORE, Scope, Scorer
from ..context import PlacementContext
from ..state import AgentState


class _UsageScorer(Scorer):
    scope = Scope.AGENT

    def prepare(self, ctx: PlacementContext) -> None:
        d = ctx.demand.vector
        # CPU and memory always count; disk and GPUs only for apps that ask for them.
        self._dims = [(k, d[k]) for k in range(4) if k < 2 or d[k] > 0]
        self._scale = MAX_SCORE / len(self._dims)

    def _mean_share(self, agent: AgentState, placed: bool) -> float:
        """100 x the mean over resources of the share in use (with the task if ``placed``)."""
        total = 0.0
        cap, free = agent.capacity, agent.free_total
        if placed:
            for k, need in self._dims:
                c = cap[k]
                if c > 0:
                    share = (c - free[k] + need) / c
                    total += share if share < 1.0 else 1.0
        else:
            for k, _ in self._dims:
                c = cap[k]
                if c > 0:
                    share = (c - free[k]) / c
                    total += share if share < 1.0 else 1.0
        return self._scale * total


class BinpackScorer(_UsageScorer):
    """Fuller agents score higher: mean share of each resource in use once the task is placed."""

    name = "binpack"

    def score(self, ctx: PlacementContext, agent: AgentState) -> float:
        return self._mean_share(agent, placed=True)


class LeastAllocatedScorer(_UsageScorer):
    """Emptier agents score higher: mean share of each resource still free."""

    name = "least-allocated"
    falls_with_use = True

    def score(self, ctx: PlacementContext, agent: AgentState) -> float:
        return MAX_SCORE - self._mean_share(agent, placed=False)


class SpreadScorer(Scorer):
    """Agents with fewer tasks of this app score higher (100 minus the count, floored at 0)."""

    name = "spread"
    scope = Scope.AGENT
    falls_with_use = True

    def score(self, ctx: PlacementContext, agent: AgentState) -> float:
        return max(0.0, MAX_SCORE - agent.app_counts.get(ctx.app_id, 0))
