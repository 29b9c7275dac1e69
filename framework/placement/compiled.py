"""A workload's pipeline fused into one function per question, for the planner's innermost loop.

When every filter and scorer of a workload offers a fast form (:meth:`Filter.compile`,
:meth:`Scorer.compile`: the built-ins all do), the planner asks one generated function per agent
instead of walking the filter and scorer objects: the same verdicts and the same total, summed in
the same order, without the per-plugin calls, ``Status`` objects and range checks. Reasons (for
``explain``) and per-scorer scores (for ``Placement.scores``) still come from the plugins' own
methods. A workload with any plugin lacking a fast form keeps the guarded generic path.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .base import Filter, Scope, Scorer, plugin_name
from .context import PlacementContext
from .state import AgentState

#: What a fused judge returns for an agent refused first by a REVERSIBLE filter (scores are >= 0).
PARK = -1.0


@dataclass(frozen=True)
class CompiledPipeline:
    """The fused forms of one workload's pipeline.

    ``evaluate(agent)``: the weighted total, or None when a filter refuses. ``judge(agent)``: the
    same, but :data:`PARK` when the first filter to refuse is REVERSIBLE. ``recheck``: the fast
    forms of the MONOTONE and REVERSIBLE filters, each with whether it is REVERSIBLE. ``rates``:
    each scorer's fast form as ``(fast form, weight, name)``.
    """

    evaluate: Callable[[AgentState], float | None]
    judge: Callable[[AgentState], float | None]
    recheck: tuple[tuple[Callable[[AgentState], bool], bool], ...]
    rates: tuple[tuple[Callable[[AgentState], float], float, str], ...]


def compile_pipeline(ctx: PlacementContext, filters: Sequence[Filter],
                     scorers: Sequence[tuple[Scorer, float]]) -> CompiledPipeline | None:
    """The fused pipeline, or None when a filter or scorer has no fast form. A plugin's
    ``compile`` that raises propagates (the planner reports it as that plugin's failure)."""
    checks = []
    for f in filters:
        compile_ = getattr(f, "compile", None)  # a duck-typed plugin may have none
        check = compile_(ctx) if compile_ is not None else None
        if check is None:
            return None
        checks.append((check, f.scope))
    rates, named = [], []
    for s, weight in scorers:
        compile_ = getattr(s, "compile", None)
        rate = compile_(ctx) if compile_ is not None else None
        if rate is None:
            return None
        rates.append((rate, float(weight)))
        named.append((rate, weight, plugin_name(s)))
    evaluate = _fuse(checks, rates, park=False)
    judge = _fuse(checks, rates, park=True) if any(scope is Scope.REVERSIBLE for _, scope in checks) else evaluate
    recheck = tuple((check, scope is Scope.REVERSIBLE) for check, scope in checks
                    if scope in (Scope.MONOTONE, Scope.REVERSIBLE))
    return CompiledPipeline(evaluate, judge, recheck, tuple(named))


def _fuse(checks: list[tuple[Callable[[AgentState], bool], Scope]],
          rates: list[tuple[Callable[[AgentState], float], float]], park: bool) -> Callable[[AgentState], Any]:
    """One function: each check in order (the first refusal ends it), then ``0.0 + w0 * r0(a) +
    w1 * r1(a) ...``, summed left to right as the generic path sums."""
    refusals = tuple(park and scope is Scope.REVERSIBLE for _, scope in checks)
    make = _maker(refusals, len(rates))
    args: list[Any] = [check for check, _ in checks]
    for rate, weight in rates:
        args += [rate, weight]
    return make(*args)


_MAKERS: dict[tuple[tuple[bool, ...], int], Callable[..., Callable[[AgentState], Any]]] = {}


def _maker(refusals: tuple[bool, ...], rates: int) -> Callable[..., Callable[[AgentState], Any]]:
    """A factory of fused functions of one shape (which checks park, how many scorers), generated
    once per shape from indices only and kept: a plan creates closures, never compiles."""
    key = (refusals, rates)
    make = _MAKERS.get(key)
    if make is None:
        params = [f"c{i}" for i in range(len(refusals))] + [f"{x}{i}" for i in range(rates) for x in ("r", "w")]
        lines = [f"def make({', '.join(params)}):", "    def fused(agent):"]
        for i, parks in enumerate(refusals):
            lines.append(f"        if not c{i}(agent): return {'PARK' if parks else 'None'}")
        lines.append("        return " + " + ".join(["0.0"] + [f"w{i} * r{i}(agent)" for i in range(rates)]))
        lines.append("    return fused")
        namespace: dict[str, Any] = {"PARK": PARK}
        exec("\n".join(lines), namespace)  # noqa: S102 (source built from indices, no input)
        make = _MAKERS[key] = namespace["make"]
    return make
