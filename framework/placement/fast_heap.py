"""The heap planner's fast form for the built-in plugins: heaps of candidates whose scores are
computed inline, and for GROUP_BY one heap per value of the field.

When a workload uses only built-in filters and the built-in ``binpack``, ``spread`` (per agent)
and ``least-allocated`` scorers, :func:`heap_kernel` gives the planner a :class:`HeapKernel`
that chooses exactly the agent the generic heap path chooses (the same scores, summed in the
same order, the same ties to the lowest agent index) with less work per placement:

* a stale heap entry is re-scored by arithmetic written into one generated function (the
  scorers' fast forms, inlined), not through the fused filter-and-score call; the filters run
  only on the entry that reaches the top, where every refusal is final (AGENT and MONOTONE
  filters), so the answer is the same;
* static constraints (IS, LIKE, UNLIKE, CLUSTER with a value) are applied once, when the heaps
  are built;
* a GROUP_BY constraint (the one REVERSIBLE built-in) splits the candidates into one heap per
  value of its field: the values the constraint accepts now (an unused one, or once enough are
  in use one with the fewest tasks) are read from the counts the context keeps, and the best top
  among their heaps wins. Nothing is parked and brought back.

Anything else (a plugin's filter or scorer, ``spread`` by a field, two GROUP_BYs, a GROUP_BY
over many values) keeps the generic path. Pure: no I/O.
"""
from __future__ import annotations

import heapq
from typing import Any, Callable, Optional, Sequence

from .base import MAX_SCORE, Filter, Scope, Scorer, plugin_name
from .constraints import ClusterFilter, GroupByFilter, IsFilter, LikeFilter, MaxPerFilter, UniqueFilter
from .context import PlacementContext
from .filters import PortsFilter, ResourcesFilter
from .state import AgentState
from .strategies.scorers import BinpackScorer, LeastAllocatedScorer, SpreadScorer

#: A GROUP_BY over more values than this keeps the generic path (each choice reads every value).
MAX_GROUPS = 32

_FILTERS = (ResourcesFilter, PortsFilter, IsFilter, LikeFilter, ClusterFilter, UniqueFilter, MaxPerFilter,
            GroupByFilter)

Entry = tuple[float, int, int]  # (-score, agent index, agent stamp when scored), as the generic heap


class HeapKernel:
    """The candidate heaps of one workload and the generated functions that keep them.

    ``best(agents)`` is the generic ``_AppPlacer.best`` for this workload, ``scores_on(agent)`` its
    ``scores_on`` (each scorer's ``(name, weight, score)``); ``dirty`` is the set
    the planner fills with agents that received a task (eager kernels: binpack's score rises with
    use, so a changed agent gets a fresh entry before the next choice).
    """

    def __init__(self, ctx: PlacementContext, agents: Sequence[AgentState], lazy: bool,
                 parts: list[tuple[str, float, tuple[Any, ...], str]], checks: list[Callable[[AgentState], bool]],
                 rechecks: list[Callable[[AgentState], bool]], static: list[Callable[[AgentState], bool]], group_by: Optional[GroupByFilter]):
        self.ctx = ctx
        self.lazy = lazy
        self.dirty: set[int] = set()
        self.group_by = group_by
        checks_t = tuple(checks)
        score, self.scores_on, self._top, self._push = _kernel_functions(parts, lazy, agents, checks_t, tuple(rechecks))
        field = group_by.field if group_by is not None else None
        heaps: dict[Optional[str], list[Entry]] = {}
        self._heap_of: dict[int, list[Entry]] = {}
        for agent in agents:
            if not all(check(agent) for check in static):
                continue
            value = agent.values.get(field) if field is not None else None
            if field is not None and value is None:
                continue  # GROUP_BY refuses an agent without the field, for good
            if not all(check(agent) for check in checks_t):
                continue  # AGENT and MONOTONE refusals are final
            heap = heaps.get(value)
            if heap is None:
                heap = heaps[value] = []
            heap.append((-score(agent), agent.index, agent.stamp))
            self._heap_of[agent.index] = heap
        for heap in heaps.values():
            heapq.heapify(heap)
        self._groups = list(heaps.items())
        self._single = heaps.get(None) if field is None else None

    def best(self, agents: list[AgentState]) -> Optional[AgentState]:
        """The agent the next task should go to, or None when no agent can take it."""
        if self.dirty:
            self._push(self.dirty, self._heap_of)
        if self.group_by is None:
            heap = self._single
            entry = self._top(heap) if heap else None
            return None if entry is None else agents[entry[1]]
        best: Optional[Entry] = None
        top = self._top
        for heap in self._allowed():
            if heap:
                entry = top(heap)
                if entry is not None and (best is None or entry < best):
                    best = entry
        return None if best is None else agents[best[1]]

    def _allowed(self) -> list[list[Entry]]:
        """The heaps of the values GROUP_BY accepts now (as :meth:`GroupByFilter.filter` decides)."""
        gb, ctx = self.group_by, self.ctx
        counts = ctx.value_counts(gb.field)  # type: ignore[union-attr]
        if len(counts) < gb.minimum:  # type: ignore[union-attr]
            return [heap for value, heap in self._groups if not counts.get(value)]
        least = ctx.least_count(gb.field)  # type: ignore[union-attr]
        return [heap for value, heap in self._groups if counts.get(value, 0) <= least]


def heap_kernel(ctx: PlacementContext, agents: Sequence[AgentState], filters: Sequence[Filter],
                scorers: Sequence[tuple[Scorer, float]], lazy: bool) -> Optional[HeapKernel]:
    """The fast form of a heap-mode workload whose plugins are all built-ins this module knows,
    else None (the generic path). Call after every plugin's ``prepare``."""
    group_by: Optional[GroupByFilter] = None
    checks, rechecks, static = [], [], []
    for f in filters:
        if type(f) not in _FILTERS:
            return None
        if type(f) is GroupByFilter:
            if group_by is not None:
                return None
            group_by = f
            continue
        check = f.compile(ctx)
        if check is None:  # pragma: no cover (every built-in has one)
            return None
        (static if f.static else checks).append(check)
        if f.scope is Scope.MONOTONE:
            rechecks.append(check)
    parts = []
    for s, weight in scorers:
        kind = type(s)
        if kind is SpreadScorer and s.by is None:  # type: ignore[attr-defined]
            parts.append(("spread", weight, (ctx.app_id,), plugin_name(s)))
        elif kind in (BinpackScorer, LeastAllocatedScorer):
            dims = s.dims  # type: ignore[attr-defined]
            parts.append(("binpack" if kind is BinpackScorer else "least", weight,
                          (s.scale, *[x for k, need in dims for x in (k, need)]), plugin_name(s)))  # type: ignore[attr-defined]
        else:
            return None
    if group_by is not None:
        field = group_by.field
        if len({a.values.get(field) for a in agents}) > MAX_GROUPS:
            return None
    return HeapKernel(ctx, agents, lazy, parts, checks, rechecks, static, group_by)


def _kernel_functions(parts: list[tuple[str, float, tuple[Any, ...], str]], lazy: bool, agents: Sequence[AgentState],
                      checks: tuple[Callable[[AgentState], bool], ...],
                      rechecks: tuple[Callable[[AgentState], bool], ...]) -> tuple[Callable[..., Any], ...]:
    """``(score, scores_on, top, push)`` for one workload, generated once per shape (which scorers, how many
    resources each weighs, lazy or eager) from names only and kept: a plan creates closures.

    ``score(agent)``: the scorers' fast forms inlined, summed ``0.0 + w0 * s0 + w1 * s1 ...`` left
    to right as :mod:`compiled` sums them (bit for bit the generic total). ``top(heap)``: the
    heap's best entry that is current and passes the checks, or None; on the way, a stale entry is
    re-scored in place (lazy: scores only fall, so a stale score is an upper bound; the checks run
    when it reaches the top) or dropped (eager: a changed agent got a fresh entry from ``push``),
    a refused one dropped (every refusal here is final). ``push(dirty, heap_of)``: a fresh entry
    for each changed agent that passes the checks (eager)."""
    shape = (lazy, tuple((kind, len(args)) for kind, _, args, _ in parts))
    make = _MAKERS.get(shape)
    if make is None:
        make = _MAKERS[shape] = _generate(*shape)
    args: list[Any] = []
    for kind, weight, extra, _ in parts:
        weight = float(weight)
        if kind == "spread":
            args += [weight, *extra]
        else:  # least-allocated's ``needs`` are 0.0: its share is of what is in use before the task
            scale, *dims = extra
            if kind == "least":
                dims = [x if i % 2 == 0 else 0.0 for i, x in enumerate(dims)]
            args += [weight, scale, *dims]
    for kind, weight, extra, name in parts:
        args += [name, weight]
    return make(agents, checks, rechecks, heapq.heappop, heapq.heapreplace, heapq.heappush, *args)


_MAKERS: dict[Any, Callable[..., tuple[Callable[..., Any], ...]]] = {}


def _generate(lazy: bool, shape: tuple[tuple[str, int], ...]) -> Callable[..., tuple[Callable[..., Any], ...]]:
    params, body = [], []
    for i, (kind, n) in enumerate(shape):
        params.append(f"w{i}")
        if kind == "spread":
            params.append(f"app{i}")
            body += [f"n = agent.app_counts.get(app{i}, 0)", f"s{i} = MAX - n if n < MAX else 0.0"]
            continue
        params.append(f"scale{i}")
        body += ["cap = agent.capacity", "free = agent.free_total", "t = 0.0"]
        for d in range((n - 1) // 2):
            params += [f"k{i}_{d}", f"n{i}_{d}"]
            body += [f"c = cap[k{i}_{d}]", "if c > 0:", f"    share = (c - free[k{i}_{d}] + n{i}_{d}) / c",
                     "    t += share if share < 1.0 else 1.0"]
        body.append(f"s{i} = scale{i} * t" if kind == "binpack" else f"s{i} = MAX - scale{i} * t")
    body.append("total = " + " + ".join(["0.0"] + [f"w{i} * s{i}" for i in range(len(shape))]))

    def block(indent: int) -> list[str]:
        return [" " * indent + line for line in body]

    named = ", ".join(f"(name{i}, weight{i}, s{i})" for i in range(len(shape)))
    params += [f"{x}{i}" for i in range(len(shape)) for x in ("name", "weight")]
    src = [f"def make(agents, checks, rechecks, heappop, heapreplace, heappush, {', '.join(params)}):",
           "    def score(agent):", *block(8), "        return total",
           "    def parts(agent):", *block(8), f"        return ({named},)",
           "    def top(heap):",
           "        while heap:",
           "            entry = heap[0]",
           "            index = entry[1]",
           "            agent = agents[index]",
           "            stamp = agent.stamp",
           "            if entry[2] != stamp:"]
    if lazy:
        src += [*block(16), "                heapreplace(heap, (-total, index, stamp))"]
    else:
        src += ["                heappop(heap)"]
    src += ["                continue",
            f"            for check in {'checks' if lazy else 'rechecks'}:",
            "                if not check(agent):",
            "                    heappop(heap)",
            "                    break",
            "            else:",
            "                return entry",
            "        return None",
            "    def push(dirty, heap_of):",
            "        for index in dirty:",
            "            heap = heap_of.get(index)",
            "            if heap is None:",
            "                continue",
            "            agent = agents[index]",
            "            for check in checks:",
            "                if not check(agent):",
            "                    break",
            "            else:",
            *block(16),
            "                heappush(heap, (-total, index, agent.stamp))",
            "        dirty.clear()",
            "    return score, parts, top, push"]
    namespace: dict[str, Any] = {"MAX": MAX_SCORE}
    exec("\n".join(src), namespace)  # noqa: S102 (source built from the shape only, no input)
    return namespace["make"]
