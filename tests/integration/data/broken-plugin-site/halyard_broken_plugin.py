"""A placement plugin broken on purpose, for the integration tests: its strategy ``broken-test``
scores with a scorer that raises (``args: {fail: raise}``, the default) or that scores outside
0..100 (``args: {fail: range}``). Its factory works, so apps using it are accepted."""
from __future__ import annotations

from typing import Any, Mapping

from halyard.errors import Problem, ValidationError
from halyard.placement import Scope, Scorer, Strategy

MODES = ("raise", "range")


class ExplodingScorer(Scorer):
    name = "explode"
    scope = Scope.AGENT

    def __init__(self, fail: str):
        self.fail = fail

    def score(self, ctx: Any, agent: Any) -> float:
        if self.fail == "raise":
            raise RuntimeError("broken on purpose")
        return 150.0


def create(args: Mapping[str, Any]) -> Strategy:
    fail = args.get("fail", "raise")
    if fail not in MODES:
        raise ValidationError([Problem("strategy.args.fail", f"expected raise or range, got {fail!r}")])
    return Strategy("broken-test", scorers=((ExplodingScorer(fail), 1.0),))
