"""``weighted``: several goals at once, as a Kubernetes scheduler profile weighs its plugins.

::

    strategy: {name: weighted, args: {scorers: [{name: binpack, weight: 2},
                                                 {name: spread, weight: 1, by: "@zone"}]}}

Each entry names a registered strategy (a built-in or a plugin's) with a positive ``weight``; its
other keys are that strategy's own args. The result has every entry's scorers, each weight
multiplied by the entry's, and every entry's own filters. ``random`` (it has no scorers) and
``weighted`` itself cannot be entries.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...errors import Problem, ValidationError
from ...spec.app import StrategyRef
from ..args import check_args
from ..base import Filter, Scorer, Strategy

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import StrategyRegistry

NAME = "weighted"


def create(args: Mapping[str, Any], registry: StrategyRegistry) -> Strategy:
    """``scorers``: a non-empty list of ``{name, weight, ...args}`` (strategies by name from ``registry``)."""
    check_args(NAME, args, {"scorers": list})
    entries = args.get("scorers")
    if not entries:
        raise ValidationError([Problem("strategy.args.scorers", "expected a non-empty list of {name, weight}")])
    problems: list[Problem] = []
    scorers: list[tuple[Scorer, float]] = []
    filters: list[Filter] = []
    parts = []
    for i, entry in enumerate(entries):
        path = f"strategy.args.scorers[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(Problem(path, f"expected {{name, weight}}, got {entry!r}"))
            continue
        name, weight = entry.get("name"), entry.get("weight", 1)
        if not isinstance(name, str) or not name:
            problems.append(Problem(f"{path}.name", "expected a registered strategy's name"))
            continue
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            problems.append(Problem(f"{path}.weight", f"expected a number above 0, got {weight!r}"))
            continue
        if name == NAME:
            problems.append(Problem(f"{path}.name", "weighted strategies do not nest"))
            continue
        try:
            part = registry.create(StrategyRef(name=name, args={k: v for k, v in entry.items()
                                                                if k not in ("name", "weight")}))
        except ValidationError as exc:  # strategy.name / strategy.args.X -> this entry's path
            problems += [Problem(_reroot(p.path, path), p.message) for p in exc.problems]
            continue
        if not part.scorers:
            problems.append(Problem(f"{path}.name", f"{name} has no scorers to weigh (it picks at random)"))
            continue
        scorers += [(scorer, w * weight) for scorer, w in part.scorers]
        filters += part.filters
        parts.append(f"{name} x{weight:g}")
    if problems:
        raise ValidationError(problems)
    return Strategy(NAME, scorers=tuple(scorers), filters=tuple(filters), description=" + ".join(parts))


def _reroot(path: str, entry: str) -> str:
    if path == "strategy.name":
        return f"{entry}.name"
    if path.startswith("strategy.args."):
        return entry + "." + path[len("strategy.args."):]
    return entry
