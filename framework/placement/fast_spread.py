"""The built-in ``spread`` strategy's heap, for :mod:`fast_heap`: the least work per stale entry.

Spread's total for an agent is ``0.0 + w0 * spread + w1 * least-allocated``. The first part
changes only when this workload places a task on the agent, so it is kept per agent (``own``) and
renewed after each of its placements; the second is the plan's shared table
(:class:`~halyard.placement.fast_shared.SharedScores`), renewed once per task landed whatever the
workload. An entry is ``(-total, agent index)``; it is current exactly when the total computed
now is the same, so the heap's top is checked by two list reads and a sum, and re-sifted only
when its total fell (totals only fall: a stale one is an upper bound). Same totals, summed in the
same order, as the generic path: the same choices. Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .base import MAX_SCORE
from .state import AgentState

SpreadEntry = tuple[float, int]  # (-total, agent index)


def spread_forms(agents: Sequence[AgentState], app_id: str, w0: float, w1: float, table: list[float],
                 checks: tuple[Callable[[AgentState], bool], ...], names: tuple[tuple[str, Any], tuple[str, Any]],
                 heappop: Callable[..., Any], heapreplace: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
    """``entries(agents)``: their heap entries now; ``top(heap)``: the best current entry that
    passes ``checks`` (every refusal final), or None; ``placed(index)``: this workload placed a
    task there; ``scores_on(agent)``: each scorer's ``(name, weight, score)``; ``best_of(heap)``:
    for a workload with one heap, its whole ``best(agents)``: the last choice, which the planner
    placed, is re-scored and re-sifted at once (its entry is still the top), then ``top``."""
    # -(0.0 + w0 * spread score): negation is exact, and -(a + b) rounds as (-a) - b does
    minus_own: list[float] = [0.0] * len(agents)
    raw: list[float] = [0.0] * len(agents)  # the spread score
    (name0, weight0), (name1, weight1) = names

    def placed(index: int) -> None:
        n = agents[index].app_counts.get(app_id, 0)
        raw[index] = score = MAX_SCORE - n if n < MAX_SCORE else 0.0
        minus_own[index] = -(0.0 + w0 * score)

    def entries(group: list[AgentState]) -> list[SpreadEntry]:
        out = []
        for agent in group:
            index = agent.index
            placed(index)
            out.append((minus_own[index] - w1 * table[index], index))
        return out

    def scores_on(agent: AgentState) -> tuple[tuple[str, Any, float], ...]:
        index = agent.index
        return ((name0, weight0, raw[index]), (name1, weight1, table[index]))

    def top(heap: list[SpreadEntry]) -> SpreadEntry | None:
        while heap:
            stored, index = heap[0]
            key = minus_own[index] - w1 * table[index]  # -(own + w1 * table), bit for bit
            if key != stored:  # the total fell since: sift it down and look again
                heapreplace(heap, (key, index))
                continue
            agent = agents[index]
            for check in checks:
                if not check(agent):
                    heappop(heap)
                    break
            else:
                return heap[0]
        return None

    def best_of(heap: list[SpreadEntry]) -> Callable[[Sequence[AgentState]], AgentState | None]:
        last = -1

        def best(_agents: Sequence[AgentState]) -> AgentState | None:
            nonlocal last
            if last >= 0:  # placed(last), inline; its entry is still the heap's top: re-sift it now
                n = agents[last].app_counts.get(app_id, 0)
                raw[last] = score = MAX_SCORE - n if n < MAX_SCORE else 0.0
                minus_own[last] = own = -(0.0 + w0 * score)
                heapreplace(heap, (own - w1 * table[last], last))
            entry = top(heap)
            if entry is None:
                last = -1
                return None
            last = entry[1]
            return agents[last]
        return best

    return {"entries": entries, "top": top, "placed": placed, "scores_on": scores_on, "best_of": best_of}
