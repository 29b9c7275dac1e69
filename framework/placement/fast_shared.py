"""Scores every workload of a plan shares, kept once per plan instead of once per workload.

``least-allocated`` (spread's tie-break) gives an agent the same score whatever the workload, for
the same resources weighed: :class:`SharedScores` keeps one table of it per set of resources,
updated for the one agent that received each task. The heap kernels read it instead of computing
the score again for every workload that finds the agent changed. Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from .state import AgentState


class SharedScores:
    """Per plan: for each set of resources weighed, every agent's least-allocated score, current."""

    def __init__(self, agents: Sequence[AgentState]):
        self.agents = agents
        self._tables: dict[tuple[int, ...], tuple[list[float], Callable[[AgentState], float]]] = {}
        #: The tables to update when a task lands (empty: nothing to do).
        self.tables: list[tuple[list[float], Callable[[AgentState], float]]] = []
        #: The index of the agent each task of the plan landed on, in order (the planner appends).
        self.landed: list[int] = []

    def least(self, resources: tuple[int, ...], rate: Callable[[AgentState], float]) -> list[float]:
        """The table for ``resources`` (indices into SCALARS), by agent index; ``rate`` is a
        least-allocated scorer's fast form for those resources (it computes the table, and keeps it
        current from then on)."""
        entry = self._tables.get(resources)
        if entry is None:
            entry = self._tables[resources] = ([rate(agent) for agent in self.agents], rate)
            self.tables.append(entry)
        return entry[0]

    def placed(self, agent: AgentState) -> None:
        """A task landed on ``agent``: its scores in every table, again."""
        if len(self.tables) == 1:  # the usual plan: one set of resources weighed
            table, rate = self.tables[0]
            table[agent.index] = rate(agent)
            return
        index = agent.index
        for table, rate in self.tables:
            table[index] = rate(agent)
