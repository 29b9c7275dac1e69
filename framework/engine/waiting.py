"""Why an app's pending instances wait, told about the whole cluster rather than the last offer batch.

A plan explains only the agents that were offered. The agents that were not (a full agent never
is; a declined one is not for a while) are named from what the master's agent list said they
had free: ``agents 127.0.0.1, 127.0.0.2 full`` or ``no offer from 127.0.0.3``. When no offer at all
has come for ``no_offer_after`` seconds while apps wait, each one's reason says what it needs:
``no offer with 0.6 cpus, 128 MB mem for 12 s; agents 127.0.0.1, 127.0.0.2 full``.

This part also says when to read the master's agent list again (:class:`ListAgents`): when the
framework subscribes, every ``relist_every`` seconds, and every ``relist_waiting`` seconds while
apps wait (so "full" is what the master says now).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..cluster.agents import Resources
from ..cluster.mesos_types import AgentSeen
from ..spec.app import AppSpec
from .agents import KnownAgents
from .messages import Instruction, ListAgents, Persist

#: at most this many agents are named in one reason; the rest are counted
NAMED = 5

#: why an app's instances wait, in one word (the metrics' ``reason`` label): see :func:`reason_class`
REASON_CLASSES = ("delayed", "strategy_failed", "no_offer", "constraint", "resources", "other")
_RESOURCE_REASONS = ("insufficient ", "host port ", "not enough free host ports", "no resources in accepted role",
                     "agents ")


def need_of(spec: AppSpec) -> Resources:
    """One task's scalars of an app."""
    return Resources(spec.cpus, spec.mem, spec.disk, float(spec.gpus))


def describe_need(need: Resources) -> str:
    """``0.6 cpus, 128 MB mem`` (disk and GPUs only when asked for)."""
    parts = [f"{need.cpus:g} cpus", f"{need.mem:g} MB mem"]
    if need.disk:
        parts.append(f"{need.disk:g} MB disk")
    if need.gpus:
        parts.append(f"{need.gpus:g} gpus")
    return ", ".join(parts)


def _fits(need: Resources, free: Resources) -> bool:
    return all(n <= f + 1e-9 for n, f in zip(need.as_tuple(), free.as_tuple()))


def _names(agents: list[AgentSeen]) -> str:
    names = ", ".join(a.hostname for a in agents[:NAMED])
    return names if len(agents) <= NAMED else f"{names} and {len(agents) - NAMED} more"


def reason_class(reasons: tuple[str, ...], delayed: bool, strategy_failed: bool) -> str:
    """One of :data:`REASON_CLASSES` for an app whose instances wait: ``delayed`` (restart backoff),
    ``strategy_failed``, else from its main (first) reason: ``no_offer`` (also before any plan
    looked at it), ``constraint``, ``resources`` (short of cpus/mem/disk/gpus, ports, role, or
    agents full) or ``other`` (a plugin's own filter)."""
    if delayed:
        return "delayed"
    if strategy_failed:
        return "strategy_failed"
    if not reasons or reasons[0].startswith("no offer"):
        return "no_offer"
    if reasons[0].startswith("constraint "):
        return "constraint"
    return "resources" if reasons[0].startswith(_RESOURCE_REASONS) else "other"


def describe_unoffered(need: Resources, agents: Iterable[AgentSeen]) -> str | None:
    """What the agents that made no offer are, for a task needing ``need``: full (what the master
    said they have free does not fit), or silent (they may have room; no offer came from them)."""
    full: list[AgentSeen] = []
    silent: list[AgentSeen] = []
    for agent in agents:
        (full if agent.free is not None and not _fits(need, agent.free) else silent).append(agent)
    parts = []
    if full:
        parts.append(f"agents {_names(full)} full")
    if silent:
        parts.append(f"no offer from {_names(silent)}")
    return "; ".join(parts) or None


class WaitingReasons:
    """App id -> why its pending tasks are not placed, kept up to date from plans and the clock."""

    def __init__(self, agents: KnownAgents, no_offer_after: float, relist_every: float, relist_waiting: float):
        self.agents = agents
        self.no_offer_after, self.relist_every, self.relist_waiting = no_offer_after, relist_every, relist_waiting
        self.reasons: dict[str, tuple[str, ...]] = {}
        self._last_offer_at: float | None = None
        self._listed_at: float | None = None
        # what the known agents are for each need, as of ``agents.changes``: a tick walks the
        # agents only when they changed, once per distinct need (not per app, not every second)
        self._described: dict[Resources, str | None] = {}
        self._described_at = -1

    def subscribed(self, now: float) -> list[Instruction]:
        """The framework (re)subscribed: offers are counted from now; read the agent list."""
        self._last_offer_at = now
        self._listed_at = now
        return [ListAgents()]

    def planned(self, plan_reasons: Mapping[str, tuple[str, ...]], needs: Mapping[str, Resources],
                offered: Iterable[str], now: float, failed: Iterable[str] = ()) -> None:
        """An offer batch was planned: each waiting app's reasons are the plan's (over the offered
        agents) and what the known agents outside the batch are; not for the apps in ``failed``
        (their strategy failed: that is the whole reason). The batch's arrival is :meth:`offers_came`."""
        if not plan_reasons:  # the usual batch: everything placed, nothing to describe
            self.reasons = {}
            return
        skip, failed = set(offered), set(failed)
        others = [a for a in self.agents.known() if a.agent_id not in skip]
        reasons = {}
        described: dict[Resources, str | None] = {}  # apps needing the same resources: one walk
        for app_id, why in plan_reasons.items():
            need = needs.get(app_id)
            if need is not None and others and app_id not in failed:
                if need not in described:
                    described[need] = describe_unoffered(need, others)
                extra = described[need]
            else:
                extra = None
            reasons[app_id] = why + (extra,) if extra else why
        self.reasons = reasons

    def offers_came(self, now: float) -> None:
        """Offers came, whether or not anything was planned on them."""
        self._last_offer_at = now

    def tick(self, needs: Mapping[str, Resources], now: float) -> list[Instruction]:
        """The clock moved on, with ``needs`` (app id -> one task's resources) waiting to be placed.
        When no offer has come for a while, their reasons say so; ListAgents when it is due."""
        if self._last_offer_at is None:  # not subscribed yet
            return []
        quiet = now - self._last_offer_at
        starved = bool(needs) and quiet >= self.no_offer_after
        if starved:
            self.reasons = {}
            for app_id, need in needs.items():
                extra = self._describe(need)
                self.reasons[app_id] = (f"no offer with {describe_need(need)} for {quiet:.0f} s"
                                        + (f"; {extra}" if extra else ""),)
        due = self.relist_waiting if starved or self.reasons else self.relist_every
        if self._listed_at is None or now - self._listed_at >= due:
            self._listed_at = now
            return [ListAgents()]
        return []

    def _describe(self, need: Resources) -> str | None:
        """:func:`describe_unoffered` over every known agent, kept until the agents change."""
        if self._described_at != self.agents.changes:
            self._described, self._described_at = {}, self.agents.changes
        if need not in self._described:
            self._described[need] = describe_unoffered(need, self.agents.known())
        return self._described[need]

    def forget(self, app_id: str, persist: Persist) -> None:
        """The app is gone: no reason of it is kept."""
        self.reasons.pop(app_id, None)
