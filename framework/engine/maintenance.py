"""Maintenance windows (Mesos' maintenance primitives). Pure.

* ``halyard agents maintenance HOST --start TIME --duration D`` (:class:`~.messages.ScheduleMaintenance`)
  posts a window for the agent to the master's schedule (``MaintenanceCall``: the runtime reads
  the schedule, sets this machine's window and posts it back; ``--cancel`` removes it). A window
  that starts in the past, or lasts no time, is refused (422) and nothing changes.
* Offers from an agent whose window starts within ``horizon`` seconds (the offer's
  ``unavailability``, or a window Halyard posted) are not used: nothing new is placed there
  (jobs included: a run would be cut by the window).
* The master sends inverse offers for a scheduled machine: Halyard accepts one only once it has
  no task of its apps on the agent (drain it first: ``halyard agents drain``); until then it
  holds it unanswered (a declined inverse offer is not offered again), and accepts it at the
  first tick after the agent is empty.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cluster.mesos_types import Offer
from ..errors import Problem, ValidationError
from .messages import AnswerInverseOffers, Decline, Instruction, InverseOffers, MaintenanceCall, ScheduleMaintenance

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine

REFUSE_SOON = 60.0   # the decline filter of an offer whose agent's window is near


@dataclass(frozen=True)
class Window:
    """A maintenance window: from ``start`` (epoch seconds) for ``duration`` seconds (None: not
    known); ``posted``: Halyard posted it (only a cancel removes it; an offer's may change)."""

    start: float
    duration: float | None = None
    posted: bool = False


class MaintenanceBook:
    """Agent id -> its window (the ones Halyard posted, and the ones offers tell)."""

    def __init__(self, horizon: float):
        self.horizon = horizon
        self.windows: dict[str, Window] = {}
        self.held: dict[str, str] = {}   # inverse offer id -> its agent: answered once the agent is empty

    def saw(self, offers: tuple[Offer, ...]) -> None:
        """What the offers say of their agents' windows (an offer without one: no window)."""
        for o in offers:
            known = self.windows.get(o.agent_id)
            if known is not None and known.posted:
                continue
            if o.unavailable_at is not None:
                if known is None or known.start != o.unavailable_at:
                    self.windows[o.agent_id] = Window(o.unavailable_at)
            else:
                self.windows.pop(o.agent_id, None)

    def soon(self, agent_id: str, now: float) -> bool:
        """The agent's window starts within the horizon (or has started)."""
        w = self.windows.get(agent_id)
        return w is not None and w.start - now <= self.horizon and (w.duration is None or now < w.start + w.duration)

    def usable(self, offers: tuple[Offer, ...], now: float) -> tuple[tuple[Offer, ...], list[Instruction]]:
        """The offers of agents not near their window, and a Decline of the others'."""
        near = tuple(o.id for o in offers if self.soon(o.agent_id, now))
        if not near:
            return offers, []
        return tuple(o for o in offers if o.id not in near), [Decline(near, REFUSE_SOON)]


class MaintenanceCommands:
    """The maintenance command and the master's inverse offers."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def schedule(self, event: ScheduleMaintenance) -> list[Instruction]:
        """Post (or with ``duration`` None remove) the agent's window; bad input changes nothing."""
        e = self.engine
        agent = e.drain_commands.resolve(event.agent)
        book = e.maintenance
        if event.duration is None:
            book.windows.pop(agent.agent_id, None)
            return [MaintenanceCall(agent.agent_id, agent.hostname)]
        problems = []
        if event.start < e.clock():
            problems.append(Problem("start", "the window starts in the past"))
        if event.duration <= 0:
            problems.append(Problem("duration", "must be longer than 0"))
        if problems:
            raise ValidationError(problems)
        book.windows[agent.agent_id] = Window(event.start, event.duration, posted=True)
        return [MaintenanceCall(agent.agent_id, agent.hostname, event.start, event.duration)]

    def inverse_offers(self, event: InverseOffers) -> list[Instruction]:
        """Hold the inverse offers; accept at once those of agents where no task of Halyard's apps is left."""
        for o in event.offers:
            self.engine.maintenance.held[o.id] = o.agent_id
        return self.tick()

    def tick(self) -> list[Instruction]:
        """Accept the held inverse offers whose agents are empty of Halyard's app tasks now."""
        e = self.engine
        held = e.maintenance.held
        if not held:
            return []
        ready = tuple(i for i, agent_id in held.items() if not any(t.live for t in e.index.on_agent(agent_id)))
        for i in ready:
            del held[i]
        return [AnswerInverseOffers(ready, True)] if ready else []
