"""What a plugin may ask about the workload being placed and the cluster, during one plan."""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from .state import AgentState, Demand
from .workload import Workload


class PlacementContext:
    """The workload being placed (an app or a job run), its demand, and counts of its tasks so
    far (existing + planned).

    One context per workload per plan. Counts per constraint field are built on first use and
    kept current as the planner records placements. ``app_id`` is the workload's id.
    """

    def __init__(self, workload: Workload, demand: Demand, agents: Sequence[AgentState], target: int,
                 rng: random.Random, eligible: Callable[[], list[AgentState]]):
        self.workload = workload
        self.app_id = workload.id
        self.demand = demand
        self.agents = agents
        self.target = target
        self.rng = rng
        self._eligible = eligible
        self._eligible_cache: list[AgentState] | None = None
        self._value_counts: dict[str, dict[str, int]] = {}
        # For least_count: per field, how many values have each count, and the least count.
        self._levels: dict[str, dict[int, int]] = {}
        self._least: dict[str, int] = {}

    @property
    def app(self) -> Workload:
        """Deprecated alias of :attr:`workload` (which has the app definition's names for id,
        instances, resources, roles, constraints, strategy and labels)."""
        return self.workload

    def count_on(self, agent: AgentState) -> int:
        """Tasks of this workload on ``agent``."""
        return agent.app_counts.get(self.app_id, 0)

    def value_counts(self, field: str) -> dict[str, int]:
        """Tasks of this workload per value of a constraint field (only values with tasks appear)."""
        counts = self._value_counts.get(field)
        if counts is None:
            counts = {}
            for agent in self.agents:
                n = agent.app_counts.get(self.app_id, 0)
                value = agent.values.get(field)
                if n and value is not None:
                    counts[value] = counts.get(value, 0) + n
            self._value_counts[field] = counts
        return counts

    def least_count(self, field: str) -> int:
        """The fewest tasks of this workload on any value of ``field`` that has some (0 if none has).

        Kept current as placements are recorded, so asking costs O(1) however many values there are.
        """
        levels = self._levels.get(field)
        if levels is None:
            levels = {}
            for n in self.value_counts(field).values():
                levels[n] = levels.get(n, 0) + 1
            self._levels[field] = levels
            self._least[field] = min(levels, default=0)
        return self._least[field]

    def least_counts(self, field: str) -> dict[str, int]:
        """The mapping whose ``[field]`` is :meth:`least_count` of ``field``, kept current as
        placements are recorded: for a filter's fast form, one lookup instead of a call."""
        self.least_count(field)
        return self._least

    def eligible_agents(self) -> list[AgentState]:
        """Agents that pass every static filter (attributes only): where the workload could ever run."""
        if self._eligible_cache is None:
            self._eligible_cache = self._eligible()
        return self._eligible_cache

    def record(self, agent: AgentState) -> None:
        """The planner placed one task of this workload on ``agent``."""
        if not self._value_counts:
            return
        for field, counts in self._value_counts.items():
            value = agent.values.get(field)
            if value is None:
                continue
            before = counts.get(value, 0)
            counts[value] = before + 1
            levels = self._levels.get(field)
            if levels is None:
                continue
            levels[before + 1] = levels.get(before + 1, 0) + 1
            if before == 0:  # a value used for the first time has the least count there is
                self._least[field] = 1
                continue
            levels[before] -= 1
            if not levels[before]:
                del levels[before]
                if before == self._least[field]:  # the last value at the least count moved up
                    self._least[field] = before + 1
