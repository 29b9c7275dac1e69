"""``spread``: even count of the app's tasks per agent; among equals, the emptiest agent."""
from __future__ import annotations

from typing import Any, Mapping

from ..args import check_args
from ..base import Strategy
from .scorers import LeastAllocatedScorer, SpreadScorer

# SpreadScorer moves by 1.0 per task; the tie-breaker contributes at most 0.9, so it can only
# order agents that hold the same number of the app's tasks.
TIE_BREAK_WEIGHT = 0.009


def create(args: Mapping[str, Any]) -> Strategy:
    """No arguments."""
    check_args("spread", args, {})
    return Strategy("spread", scorers=((SpreadScorer(), 1.0), (LeastAllocatedScorer(), TIE_BREAK_WEIGHT)),
                    description="even count per agent for the app, emptiest agent first")
