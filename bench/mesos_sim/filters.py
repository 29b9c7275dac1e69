"""Offer filters and suppression of one framework, as Mesos' hierarchical allocator keeps them.

* ``refuse(agent, resources, seconds)``: after an ACCEPT (its unused part) or a DECLINE, the
  agent is not offered to this framework again while what it has available is contained in the
  refused resources, for ``refuse_seconds`` (Mesos' ``RefusedOfferFilter``: more resources on
  the agent lift the filter early). 0 seconds sets no filter; a negative value means the default
  (5 s); more than a year is a year (mesos.proto ``Filters``).
* ``suppress()``: no offers at all until ``revive()``, which also clears every filter.

Pure: times are given in (monotonic seconds).
"""
from __future__ import annotations

from .resources import Resources

DEFAULT_REFUSE_SECONDS = 5.0
MAX_REFUSE_SECONDS = 365 * 24 * 3600.0


def refuse_seconds(filters: object) -> float:
    """The refusal a call's ``filters`` object asks for (mesos.proto's defaults applied)."""
    value = filters.get("refuse_seconds") if isinstance(filters, dict) else None
    if value is None:
        return DEFAULT_REFUSE_SECONDS
    seconds = float(value)
    if seconds < 0:
        return DEFAULT_REFUSE_SECONDS
    return min(seconds, MAX_REFUSE_SECONDS)


class OfferFilters:
    """Refusals per agent and the suppression of one framework."""

    def __init__(self) -> None:
        self._refused: dict[str, list[tuple[float, Resources]]] = {}
        self.suppressed = False

    def refuse(self, agent_id: str, resources: Resources, seconds: float, now: float) -> None:
        if seconds <= 0 or resources.empty:
            return
        self._refused.setdefault(agent_id, []).append((now + seconds, resources))

    def filtered(self, agent_id: str, available: Resources, now: float) -> bool:
        """Whether offering ``available`` on the agent is refused now (expired filters dropped)."""
        entries = self._refused.get(agent_id)
        if not entries:
            return False
        live = [(until, res) for until, res in entries if until > now]
        if len(live) != len(entries):
            if live:
                self._refused[agent_id] = live
            else:
                del self._refused[agent_id]
        return any(res.contains(available) for _, res in live)

    def suppress(self) -> None:
        self.suppressed = True

    def revive(self) -> None:
        self.suppressed = False
        self._refused.clear()

    def forget_agent(self, agent_id: str) -> None:
        self._refused.pop(agent_id, None)

    def count(self, now: float) -> int:
        """Live refusals (for the simulator's stats)."""
        return sum(1 for entries in self._refused.values() for until, _ in entries if until > now)
