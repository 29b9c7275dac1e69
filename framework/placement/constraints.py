"""Marathon's constraint operators as filters, with Marathon's documented semantics.

Fields: ``hostname``/``@hostname``, ``@region``, ``@zone`` or any agent attribute. Only UNLIKE
accepts agents that lack the field. LIKE/UNLIKE are full-match regular expressions; IS and
CLUSTER compare scalar attributes rounded half-even to 3 decimals. GROUP_BY is balanced at every
step (see :class:`GroupByFilter`), not a quota.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from ..spec.app import Constraint, Operator
from .base import OK, Filter, Scope, Status, unfit
from .context import PlacementContext
from .state import AgentState, format_scalar


class ConstraintFilter(Filter):
    """Base of the operator filters: knows its constraint and how to describe a failure."""

    def __init__(self, constraint: Constraint):
        self.constraint = constraint
        self.field = constraint.field
        self.name = f"constraint {constraint}"
        self.label = "constraint [" + ", ".join(constraint.to_json()) + "]"
        self._lacks = unfit(f"{self.label}: agent has no {self.field}")

    def _fail(self, why: str) -> Status:
        return unfit(f"{self.label}: {why}")

    def compile(self, ctx: PlacementContext) -> Callable[[AgentState], bool]:
        """Built-in constraints never raise: their fast form is :meth:`filter`'s verdict."""
        check = self.filter
        return lambda agent: check(ctx, agent).reason is None


def _same(agent: AgentState, field: str, wanted: str) -> bool:
    """Equality as Marathon's IS/CLUSTER: scalar attributes compare rounded to 3 decimals."""
    scalar = agent.scalars.get(field)
    if scalar is not None:
        try:
            return round(scalar, 3) == round(float(wanted), 3)
        except ValueError:
            return False
    return agent.values.get(field) == wanted


class IsFilter(ConstraintFilter):
    """``[field, IS, value]``: the agent's value equals ``value``."""

    scope = Scope.AGENT
    static = True

    def __init__(self, constraint: Constraint):
        super().__init__(constraint)
        self._wrong = self._fail(f"{self.field} is not {constraint.value}")

    def filter(self, ctx: PlacementContext, agent: AgentState) -> Status:
        if self.field not in agent.values:
            return self._lacks
        return OK if _same(agent, self.field, self.constraint.value or "") else self._wrong


class LikeFilter(ConstraintFilter):
    """``[field, LIKE, regex]``: the agent's value fully matches; ``UNLIKE``: it does not (or is absent)."""

    scope = Scope.AGENT
    static = True

    def __init__(self, constraint: Constraint):
        super().__init__(constraint)
        self._regex = re.compile(constraint.value or "")
        self._negate = constraint.operator is Operator.UNLIKE
        verb = "matches" if self._negate else "does not match"
        self._wrong = self._fail(f"{self.field} {verb} {constraint.value}")

    def filter(self, ctx: PlacementContext, agent: AgentState) -> Status:
        value = agent.values.get(self.field)
        if value is None:
            return OK if self._negate else self._lacks
        matched = self._regex.fullmatch(value) is not None
        return self._wrong if matched == self._negate else OK


class ClusterFilter(ConstraintFilter):
    """``[field, CLUSTER, value]``: only agents with that value. Without a value: all tasks on
    the value of the first one placed (or of those already running)."""

    def __init__(self, constraint: Constraint):
        super().__init__(constraint)
        self.static = constraint.value is not None
        self.scope = Scope.AGENT if self.static else Scope.MONOTONE
        self._wrong = self._fail(f"{self.field} is not {constraint.value}")

    def filter(self, ctx: PlacementContext, agent: AgentState) -> Status:
        value = agent.values.get(self.field)
        if value is None:
            return self._lacks
        if self.constraint.value is not None:
            return OK if _same(agent, self.field, self.constraint.value) else self._wrong
        used = ctx.value_counts(self.field)
        if used and value not in used:
            return self._fail(f"instances run on {self.field}={','.join(sorted(used))}")
        return OK


class UniqueFilter(ConstraintFilter):
    """``[field, UNIQUE]``: at most one task of the app per value."""

    scope = Scope.MONOTONE

    def __init__(self, constraint: Constraint):
        super().__init__(constraint)
        self._taken = self._fail(f"an instance already runs on this {self.field}")

    def filter(self, ctx: PlacementContext, agent: AgentState) -> Status:
        value = agent.values.get(self.field)
        if value is None:
            return self._lacks
        return self._taken if ctx.value_counts(self.field).get(value) else OK

    def compile(self, ctx: PlacementContext) -> Callable[[AgentState], bool]:
        field, counts = self.field, ctx.value_counts(self.field)  # kept current by ctx.record

        def unique(agent: AgentState) -> bool:
            value = agent.values.get(field)
            return value is not None and not counts.get(value)
        return unique


class MaxPerFilter(ConstraintFilter):
    """``[field, MAX_PER, n]``: at most ``n`` tasks of the app per value."""

    scope = Scope.MONOTONE

    def __init__(self, constraint: Constraint):
        super().__init__(constraint)
        self.limit = int(constraint.value or 0)
        self._full = self._fail(f"{self.limit} instance(s) per {self.field} already")

    def filter(self, ctx: PlacementContext, agent: AgentState) -> Status:
        value = agent.values.get(self.field)
        if value is None:
            return self._lacks
        return self._full if ctx.value_counts(self.field).get(value, 0) >= self.limit else OK


class GroupByFilter(ConstraintFilter):
    """``[field, GROUP_BY]`` / ``[field, GROUP_BY, n]``: balanced over the field's values at every
    step, as Marathon's ``checkGroupBy``.

    A task may go to a value the app does not use yet. Once at least ``n`` values are used, it may
    also go to a used value, but only to one with the fewest tasks. Without ``n``, ``n`` is the
    number of values among the agents the app could ever run on (Marathon, seeing one offer at a
    time, takes 0 and may then stack every task on one value). Tasks on agents without the field
    are no value's.
    """

    # Not monotone: a value refused for having more tasks than the least used one passes again
    # once the others catch up, or once enough values are used: when epoch() changes.
    scope = Scope.REVERSIBLE

    def prepare(self, ctx: PlacementContext) -> None:
        if self.constraint.value is not None:
            self.minimum = int(self.constraint.value)
        else:
            self.minimum = len({a.values[self.field] for a in ctx.eligible_agents() if self.field in a.values})
        self._unused_first = self._fail(f"fewer than {self.minimum} {self.field} values in use: "
                                        "the next instance goes to an unused one")
        self._above_least = self._fail(f"more instances on this {self.field} than on the least used one")

    def epoch(self, ctx: PlacementContext) -> object:
        return len(ctx.value_counts(self.field)) >= self.minimum, ctx.least_count(self.field)

    def filter(self, ctx: PlacementContext, agent: AgentState) -> Status:
        value = agent.values.get(self.field)
        if value is None:
            return self._lacks
        counts = ctx.value_counts(self.field)
        count = counts.get(value)
        if not count:
            return OK
        if len(counts) < self.minimum:
            return self._unused_first
        return self._above_least if count > ctx.least_count(self.field) else OK

    def compile(self, ctx: PlacementContext) -> Callable[[AgentState], bool]:
        field, counts, minimum, least = self.field, ctx.value_counts(self.field), self.minimum, ctx.least_counts(self.field)

        def balanced(agent: AgentState) -> bool:
            value = agent.values.get(field)
            if value is None:
                return False
            count = counts.get(value)
            if not count:
                return True
            return len(counts) >= minimum and count <= least[field]
        return balanced


_BY_OPERATOR: dict[Operator, type[ConstraintFilter]] = {
    Operator.UNIQUE: UniqueFilter,
    Operator.CLUSTER: ClusterFilter,
    Operator.GROUP_BY: GroupByFilter,
    Operator.LIKE: LikeFilter,
    Operator.UNLIKE: LikeFilter,
    Operator.MAX_PER: MaxPerFilter,
    Operator.IS: IsFilter,
}


def constraint_filter(constraint: Constraint) -> ConstraintFilter:
    """The filter that enforces one constraint."""
    return _BY_OPERATOR[constraint.operator](constraint)


__all__ = ["ConstraintFilter", "constraint_filter", "format_scalar"]
