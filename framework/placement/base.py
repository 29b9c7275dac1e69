"""The placement plugin interface: filters say yes/no with a reason, scorers return 0..100.

Built-in strategies use exactly this interface, and so does a platform team's plugin (see
``docs/plugins.md``). A plugin never raises for "does not fit": it returns :func:`unfit` with a
reason a person can act on. Reasons are aggregated over agents, so keep agent-specific values
(hostnames, free amounts) out of them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .context import PlacementContext
    from .state import AgentState

MAX_SCORE = 100.0


class Scope(Enum):
    """How far a placement can change a plugin's answer; lets the planner skip re-evaluation.

    * ``AGENT``: the answer for agent A changes only when a task is placed on A (resources,
      per-agent counts, attributes). Filters may then only turn from pass to fail.
    * ``MONOTONE`` (filters): any placement of the app may change the answer for any agent, but
      only from pass to fail (UNIQUE, MAX_PER, CLUSTER without value). Re-checked before each use.
    * ``REVERSIBLE`` (filters): as ``MONOTONE`` while the filter's :meth:`Filter.epoch` stays
      the same; when it changes, agents the filter refused are examined again (GROUP_BY: a
      value refused for having more tasks than the least used passes once the others catch up).
    * ``GLOBAL``: anything may change; every agent is re-evaluated for every placement. Safe,
      and the default for plugins that do not say; slow on big clusters.
    """

    AGENT = "agent"
    MONOTONE = "monotone"
    REVERSIBLE = "reversible"
    GLOBAL = "global"


@dataclass(frozen=True, slots=True)
class Status:
    """A filter's verdict: ``reason`` is None when the agent passes."""

    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


OK = Status()


def unfit(reason: str) -> Status:
    """The agent cannot take the task, because ``reason``."""
    return Status(reason)


class Filter:
    """Says whether one agent can take one more task of the app.

    Subclasses set ``name`` and ``scope`` and implement :meth:`filter`. ``static`` filters look
    only at what an agent *is* (attributes, hostname, domain), never at its state.
    """

    name: str = ""
    scope: Scope = Scope.GLOBAL
    static: bool = False

    def prepare(self, ctx: PlacementContext) -> None:
        """Called once per app before any agent is filtered. Default: nothing."""

    def filter(self, ctx: PlacementContext, agent: AgentState) -> Status:
        raise NotImplementedError

    def compile(self, ctx: PlacementContext) -> Callable[[AgentState], bool] | None:
        """Optional fast form, asked once after :meth:`prepare`: a function of the agent alone that
        is True exactly when :meth:`filter` passes it (now and after any placement), and never
        raises. The planner uses it in its hot loop when every filter and scorer of a workload has
        one; reasons still come from :meth:`filter`. Default: None (the planner calls :meth:`filter`)."""
        return None

    def epoch(self, ctx: PlacementContext) -> object:
        """``REVERSIBLE`` filters: a value that changes whenever an agent refused so far may pass
        again (between changes, refusals only grow). Default: never changes."""
        return None


class Scorer:
    """Rates an agent that passed every filter: a float from 0 (worst) to 100 (best).

    ``falls_with_use``: the agent's score can only fall as tasks land on it (spread,
    least-allocated). With every scorer of a strategy so, the planner re-scores a changed agent
    only when it reaches the top of the heap, instead of at once.
    """

    name: str = ""
    scope: Scope = Scope.GLOBAL
    falls_with_use: bool = False

    def prepare(self, ctx: PlacementContext) -> None:
        """Called once per app before any agent is scored. Default: nothing."""

    def compile(self, ctx: PlacementContext) -> Callable[[AgentState], float] | None:
        """Optional fast form, asked once after :meth:`prepare`: a function of the agent alone that
        returns exactly what :meth:`score` returns, always within 0..100 (it is not range-checked),
        and never raises. Default: None (the planner calls :meth:`score`)."""
        return None

    def score(self, ctx: PlacementContext, agent: AgentState) -> float:
        """The agent's score. A function of ``ctx`` and ``agent`` only: the planner may ask again
        (it does for the picked agent, to report each scorer's part in ``Placement.scores``)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Strategy:
    """A named placement policy: extra filters, and weighted scorers whose sum picks the agent.

    The planner always adds the resource, port and constraint filters; a strategy adds its own.
    """

    name: str
    scorers: tuple[tuple[Scorer, float], ...] = ()
    filters: tuple[Filter, ...] = ()
    description: str = field(default="", compare=False)
    #: "best": the highest total score wins (ties: the agent listed first). "random": a uniformly
    #: random agent among those that pass every filter, drawn from the plan's seeded RNG
    #: (scorers are then not used and must be empty).
    select: str = "best"

    def __post_init__(self) -> None:
        if self.select not in ("best", "random"):
            raise ValueError(f"select must be 'best' or 'random', got {self.select!r}")
        if self.select == "random" and self.scorers:
            raise ValueError("a strategy with select='random' takes no scorers")


def plugin_name(plugin: Filter | Scorer) -> str:
    """A filter's or scorer's name in reasons and errors: its ``name``, else its class's."""
    return plugin.name or type(plugin).__name__
