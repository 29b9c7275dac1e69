"""``binpack``: fill the fullest agent that fits, keeping empty agents free for big tasks."""
from __future__ import annotations

from typing import Any, Mapping

from ..args import check_args
from ..base import Strategy
from .scorers import BinpackScorer


def create(args: Mapping[str, Any]) -> Strategy:
    """No arguments."""
    check_args("binpack", args, {})
    return Strategy("binpack", scorers=((BinpackScorer(), 1.0),),
                    description="fill the fullest agent that fits")
