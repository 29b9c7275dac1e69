"""Placement: pure planning of tasks onto agents, with pluggable strategies.

The public surface for plugin authors and for the scheduler::

    from halyard.placement import (Filter, Scorer, Scope, Status, OK, unfit, Strategy,
                                   PlacementContext, AgentState, Planner, PlacementRequest, plan,
                                   Workload, requests_for)
"""
from .base import MAX_SCORE, OK, Filter, Scope, Scorer, Status, Strategy, unfit
from .context import PlacementContext
from .pipeline import Placement, PlacementRequest, Plan, Planner, Unplaced, build_pipeline, plan
from .registry import ENTRY_POINT_GROUP, StrategyRegistry
from .requests import requests_for
from .state import AgentState, Demand
from .strategies.scorers import BinpackScorer, LeastAllocatedScorer, SpreadScorer
from .workload import Workload

__all__ = [
    "MAX_SCORE", "OK", "Filter", "Scope", "Scorer", "Status", "Strategy", "unfit",
    "PlacementContext", "Placement", "PlacementRequest", "Plan", "Planner", "Unplaced",
    "build_pipeline", "plan", "ENTRY_POINT_GROUP", "StrategyRegistry", "AgentState", "Demand",
    "BinpackScorer", "LeastAllocatedScorer", "SpreadScorer", "Workload", "requests_for",
]
