"""``avoid-maintenance``: no tasks on agents in maintenance; preferred zones first."""
from __future__ import annotations

from typing import Any, Mapping

from halyard.errors import Problem, ValidationError
from halyard.placement import (OK, BinpackScorer, Filter, PlacementContext, AgentState, Scope, Scorer,
                               SpreadScorer, Status, Strategy, unfit)


class MaintenanceFilter(Filter):
    """Refuses agents whose ``attribute`` is ``"true"``. Looks only at what the agent is: static."""

    name = "maintenance"
    scope = Scope.AGENT
    static = True

    def __init__(self, attribute: str):
        self.attribute = attribute
        self._refused = unfit(f"agent is in maintenance ({attribute}=true)")

    def filter(self, ctx: PlacementContext, agent: AgentState) -> Status:
        return self._refused if agent.value(self.attribute) == "true" else OK


class PreferZonesScorer(Scorer):
    """100 for agents in a preferred zone, 0 elsewhere."""

    name = "prefer-zones"
    scope = Scope.AGENT

    def __init__(self, zones: list[str]):
        self.zones = set(zones)

    def score(self, ctx: PlacementContext, agent: AgentState) -> float:
        return 100.0 if agent.value("@zone") in self.zones else 0.0


def create(args: Mapping[str, Any]) -> Strategy:
    """Args: ``attribute`` (default "maintenance"), ``prefer_zones`` (list), ``then`` (binpack|spread)."""
    problems = []
    unknown = set(args) - {"attribute", "prefer_zones", "then"}
    problems += [Problem(f"strategy.args.{k}", "unknown argument for avoid-maintenance") for k in sorted(unknown)]
    attribute = args.get("attribute", "maintenance")
    if not isinstance(attribute, str) or not attribute:
        problems.append(Problem("strategy.args.attribute", "expected a non-empty string"))
    zones = args.get("prefer_zones", [])
    if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
        problems.append(Problem("strategy.args.prefer_zones", "expected a list of zone names"))
    then = args.get("then", "binpack")
    if then not in ("binpack", "spread"):
        problems.append(Problem("strategy.args.then", f"expected binpack or spread, got {then!r}"))
    if problems:
        raise ValidationError(problems)
    within = BinpackScorer() if then == "binpack" else SpreadScorer()
    # The zone preference outweighs the ordering within a zone (10 x 100 > 1 x 100).
    return Strategy("avoid-maintenance", filters=(MaintenanceFilter(attribute),),
                    scorers=((PreferZonesScorer(zones), 10.0), (within, 1.0)),
                    description="skip agents in maintenance, preferred zones first")
