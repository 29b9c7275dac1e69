"""``binpack``: fill the fullest agent that fits, keeping empty agents free for big tasks."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..args import check_args, check_resources
from ..base import Strategy
from .scorers import BinpackScorer


def create(args: Mapping[str, Any]) -> Strategy:
    """``resources``: the resources weighed, a list from ``cpus, mem, disk, gpus`` (default: CPUs
    and memory, and disk and GPUs for workloads that ask for them)."""
    check_args("binpack", args, {"resources": list})
    resources = check_resources(args["resources"]) if "resources" in args else None
    return Strategy("binpack", scorers=((BinpackScorer(resources), 1.0),),
                    description="fill the fullest agent that fits")
