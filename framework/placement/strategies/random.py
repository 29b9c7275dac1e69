"""``random``: a uniformly random agent among those that fit; reproducible with the plan's seed."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..args import check_args
from ..base import Strategy


def create(args: Mapping[str, Any]) -> Strategy:
    """No arguments; the seed is the plan's (``halyard plan --seed N``)."""
    check_args("random", args, {})
    return Strategy("random", select="random", description="uniformly random agent that fits (seeded)")
