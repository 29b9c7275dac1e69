"""``spread``: even count of the app's tasks per agent; among equals, the emptiest agent."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..args import check_args, check_field
from ..base import Strategy
from .scorers import LeastAllocatedScorer, SpreadScorer

# SpreadScorer moves by 1.0 per task; the tie-breaker contributes at most 0.9, so it can only
# order agents that hold the same number of the app's tasks.
TIE_BREAK_WEIGHT = 0.009


def create(args: Mapping[str, Any]) -> Strategy:
    """``by``: even count per value of this field (``hostname``, ``@zone``, ``@region`` or an
    attribute) instead of per agent."""
    check_args("spread", args, {"by": str})
    by = check_field("by", args["by"]) if "by" in args else None
    return Strategy("spread", scorers=((SpreadScorer(by), 1.0), (LeastAllocatedScorer(), TIE_BREAK_WEIGHT)),
                    description="even count per agent for the app, emptiest agent first" if by is None
                    else f"even count per {by} for the app, emptiest agent first")
