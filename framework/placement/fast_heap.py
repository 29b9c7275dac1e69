"""The heap planner's fast form for the built-in plugins: heaps of candidates whose scores are
computed inline, and for GROUP_BY one heap per value of the field.

When a workload uses only built-in filters and the built-in ``binpack``, ``spread`` (per agent)
and ``least-allocated`` scorers, :func:`heap_kernel` gives the planner a :class:`HeapKernel`
that chooses exactly the agent the generic heap path chooses (the same scores, summed in the
same order, the same ties to the lowest agent index) with less work per placement:

* scores are computed by arithmetic written into one generated function (the scorers' fast
  forms, inlined), not through the fused filter-and-score call. Lazy (scores only fall: spread):
  a stale entry is re-scored when it reaches the top, and the filters run only on the current
  entry at the top, where every refusal is final (AGENT and MONOTONE filters), so the answer is
  the same; spread's own form is in :mod:`fast_spread`. Eager (binpack's score rises with use):
  each agent that received a task since the workload's last turn (the plan's ``landed`` list)
  gets a fresh entry if it passes the filters, and the MONOTONE ones are checked again at the
  top, as the generic path does;
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
from collections.abc import Callable, Sequence
from typing import Any

from .base import MAX_SCORE, Filter, Scope, Scorer, plugin_name
from .constraints import ClusterFilter, GroupByFilter, IsFilter, LikeFilter, MaxPerFilter, UniqueFilter
from .context import PlacementContext
from .fast_shared import SharedScores
from .fast_spread import spread_forms
from .filters import PortsFilter, ResourcesFilter
from .state import AgentState
from .strategies.scorers import BinpackScorer, LeastAllocatedScorer, SpreadScorer

#: A GROUP_BY over more values than this keeps the generic path (each choice reads every value).
MAX_GROUPS = 32

_FILTERS = (ResourcesFilter, PortsFilter, IsFilter, LikeFilter, ClusterFilter, UniqueFilter, MaxPerFilter,
            GroupByFilter)

Entry = tuple[float, int, int]  # (-score, agent index, agent stamp when scored), as the generic heap


class HeapKernel:
    """The candidate heaps of one workload and the functions that keep them.

    ``best(agents)`` is the generic ``WorkloadPlacer.best`` (:mod:`placer`) for this workload,
    ``scores_on(agent)`` its ``scores_on`` (each scorer's ``(name, weight, score)``). An eager
    kernel (binpack's score rises with use) gives each agent that received a task since its last
    turn (``landed``, the plan's list of them) a fresh entry before choosing.
    """

    def __init__(self, ctx: PlacementContext, agents: Sequence[AgentState], forms: dict[str, Callable[..., Any]],
                 checks: tuple[Callable[[AgentState], bool], ...], static: list[Callable[[AgentState], bool]],
                 group_by: GroupByFilter | None, landed: list[int]):
        self.ctx = ctx
        self.group_by = group_by
        self.scores_on = forms["scores_on"]
        self._top, self._push, self._placed = forms["top"], forms.get("push"), forms.get("placed")
        self._landed, self._seen = landed, len(landed)
        self._last: int | None = None
        entries = forms["entries"]
        # A lazy top() runs every check on the entry it returns: checking each agent here too
        # would only keep refused agents out of the heap sooner.
        build_checks = "push" in forms
        field = group_by.field if group_by is not None else None
        members: dict[str | None, list[AgentState]] = {}
        if not static and field is None and not build_checks:
            members[None] = list(agents)
        for agent in agents if not members else ():
            if static and not all(check(agent) for check in static):
                continue
            value = agent.values.get(field) if field is not None else None
            if field is not None and value is None:
                continue  # GROUP_BY refuses an agent without the field, for good
            if build_checks and not all(check(agent) for check in checks):
                continue  # AGENT and MONOTONE refusals are final
            group = members.get(value)
            if group is None:
                group = members[value] = []
            group.append(agent)
        heaps = {value: entries(group) for value, group in members.items()}
        self._heap_of: dict[int, list[Any]] = {}
        if build_checks:  # eager: push() finds an agent's heap
            for value, group in members.items():
                self._heap_of.update(dict.fromkeys([agent.index for agent in group], heaps[value]))
        for heap in heaps.values():
            heapq.heapify(heap)
        self._groups = [(value, heap) for value, heap in heaps.items() if value is not None]  # by GROUP_BY value
        self._single = heaps.get(None, []) if field is None else []
        if field is None and self._push is None and "best_of" in forms:
            self.best = forms["best_of"](self._single)  # type: ignore[method-assign]  # this instance's fast form

    def best(self, agents: list[AgentState]) -> AgentState | None:
        """The agent the next task should go to, or None when no agent can take it."""
        if self._last is not None and self._placed is not None:  # the planner placed our last choice
            self._placed(self._last)
        if self._push is not None and len(self._landed) > self._seen:
            self._push(set(self._landed[self._seen:]), self._heap_of)
            self._seen = len(self._landed)
        if self.group_by is None:
            heap = self._single
            entry = self._top(heap) if heap else None
        else:
            entry = None
            top = self._top
            for heap in self._allowed():
                if heap:
                    found = top(heap)
                    if found is not None and (entry is None or found < entry):
                        entry = found
        if entry is None:
            self._last = None
            return None
        self._last = entry[1]
        return agents[entry[1]]

    def _allowed(self) -> list[list[Entry]]:
        """The heaps of the values GROUP_BY accepts now (as :meth:`GroupByFilter.filter` decides)."""
        gb, ctx = self.group_by, self.ctx
        counts = ctx.value_counts(gb.field)  # type: ignore[union-attr]  # only GROUP_BY has groups
        if len(counts) < gb.minimum:  # type: ignore[union-attr]  # only GROUP_BY has groups
            return [heap for value, heap in self._groups if not counts.get(value)]
        least = ctx.least_count(gb.field)  # type: ignore[union-attr]  # only GROUP_BY has groups
        return [heap for value, heap in self._groups if counts.get(value, 0) <= least]


def heap_kernel(ctx: PlacementContext, agents: Sequence[AgentState], filters: Sequence[Filter],
                scorers: Sequence[tuple[Scorer, float]], lazy: bool,
                shared: SharedScores) -> HeapKernel | None:
    """The fast form of a heap-mode workload whose plugins are all built-ins this module knows,
    else None (the generic path). Call after every plugin's ``prepare``."""
    group_by: GroupByFilter | None = None
    checks: list[Callable[[AgentState], bool]] = []
    rechecks: list[Callable[[AgentState], bool]] = []
    static: list[Callable[[AgentState], bool]] = []
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
    parts: list[tuple[str, float, tuple[Any, ...], str]] = []  # (kind, weight, its arguments, plugin name)
    for s, weight in scorers:
        if type(s) is SpreadScorer and s.by is None:
            parts.append(("spread", weight, (ctx.app_id,), plugin_name(s)))
        elif type(s) is LeastAllocatedScorer:  # the plan's table, by agent index
            rate = s.compile(ctx)
            table = shared.least(tuple(k for k, _ in s.dims), rate)
            parts.append(("table", weight, (table,), plugin_name(s)))
        elif type(s) is BinpackScorer:
            dims = s.dims
            parts.append(("binpack", weight,
                          (s.scale, *[x for k, need in dims for x in (k, need)]), plugin_name(s)))
        else:
            return None
    if group_by is not None:
        field = group_by.field
        if len({a.values.get(field) for a in agents}) > MAX_GROUPS:
            return None
    checks_t = tuple(checks)
    if lazy and [kind for kind, *_ in parts] == ["spread", "table"]:
        (_, w0, _, name0), (_, w1, (table,), name1) = parts
        forms = spread_forms(agents, ctx.app_id, float(w0), float(w1), table, checks_t,
                             ((name0, w0), (name1, w1)), heapq.heappop, heapq.heapreplace)
    else:
        score, scores_on, top, push = _kernel_functions(parts, lazy, agents, checks_t, tuple(rechecks))
        forms = {"entries": lambda group: [(-score(agent), agent.index, agent.stamp) for agent in group],
                 "top": top, "scores_on": scores_on}
        if not lazy:
            forms["push"] = push
    return HeapKernel(ctx, agents, forms, checks_t, static, group_by, shared.landed)


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
    for _, weight, extra, _ in parts:  # spread: (app,), table: (table,), binpack: (scale, k0, n0, ...)
        args += [float(weight), *extra]
    for _, weight, _, name in parts:
        args += [name, weight]
    return make(agents, checks, rechecks, heapq.heappop, heapq.heapreplace, heapq.heappush, *args)


_MAKERS: dict[Any, Callable[..., tuple[Callable[..., Any], ...]]] = {}


def _generate(lazy: bool, shape: tuple[tuple[str, int], ...]) -> Callable[..., tuple[Callable[..., Any], ...]]:
    params, body = [], []
    for i, (kind, n) in enumerate(shape):
        params.append(f"w{i}")
        if kind == "table":
            params.append(f"table{i}")
            body.append(f"s{i} = table{i}[index]")
            continue
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
        body.append(f"s{i} = scale{i} * t")
    body.append("total = " + " + ".join(["0.0"] + [f"w{i} * s{i}" for i in range(len(shape))]))

    def block(indent: int) -> list[str]:
        return [" " * indent + line for line in body]

    named = ", ".join(f"(name{i}, weight{i}, s{i})" for i in range(len(shape)))
    params += [f"{x}{i}" for i in range(len(shape)) for x in ("name", "weight")]
    src = [f"def make(agents, checks, rechecks, heappop, heapreplace, heappush, {', '.join(params)}):",
           "    def score(agent):", "        index = agent.index", *block(8), "        return total",
           "    def parts(agent):", "        index = agent.index", *block(8), f"        return ({named},)",
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
            "    return score, parts, top, push"]
    namespace: dict[str, Any] = {"MAX": MAX_SCORE}
    exec("\n".join(src), namespace)  # noqa: S102 (source built from the shape only, no input)
    return namespace["make"]
