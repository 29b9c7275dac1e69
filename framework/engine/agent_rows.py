"""What ``halyard agents`` shows of each agent, read from the engine: what it is, its state, its
resources (total, used by Halyard, used by others) and Halyard's tasks there. Pure.

An agent's state, in ``halyard agents``' words:

* ``draining`` / ``drained``: Halyard drains it (``drains.py``), or the master does
  (DRAIN_AGENT from elsewhere);
* ``deactivated``: an operator deactivated it at the master (no offers from it);
* ``maintenance``: its maintenance window starts within the horizon, or has started (``window``
  says when);
* ``gone``: the master removed it, lost it, or has it disconnected;
* ``active``: registered and taking tasks.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cluster.agents import AttributeValue, Resources
from ..cluster.mesos_types import AgentSeen
from .app_records import TaskRecord
from .drains import AppDrain, Drain
from .maintenance import Window
from .membership import Member

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine


@dataclass(frozen=True)
class AgentRow:
    """One agent as ``GET /v1/agents`` shows it."""

    agent_id: str
    hostname: str
    attributes: Mapping[str, AttributeValue]
    region: str | None
    zone: str | None
    state: str
    source: str               # where Halyard learned it: stream, listing or offer
    seen_at: float | None     # when
    gone_at: float | None
    total: Resources | None
    used_by_halyard: Resources
    used_by_others: Resources | None   # None: the operator stream is down (not known)
    tasks: tuple[TaskRecord, ...]
    drain: Drain | None = None
    drain_apps: tuple[AppDrain, ...] = ()
    window: Window | None = None


def agent_state(agent: AgentSeen, gone: bool, drain: Drain | None, near: bool = False) -> str:
    """``halyard agents``' word for the agent's state (see the module's docstring)."""
    if drain is not None:
        return drain.state
    if gone:
        return "gone"
    if agent.drain is not None:
        return "drained" if agent.drain == "DRAINED" else "draining"
    if agent.deactivated:
        return "deactivated"
    if near:
        return "maintenance"
    return "active" if agent.active else "gone"


def agent_rows(engine: Engine) -> list[AgentRow]:
    """Every agent Halyard knows of (registered, or gone lately), by hostname then id."""
    e = engine
    members: dict[str, Member] = dict(e.membership.members)
    for agent in e.agents.known():   # known from offers only (before the stream or a listing told)
        if agent.agent_id not in members:
            members[agent.agent_id] = Member(agent, "offer", None)
    rows = []
    for member in members.values():
        a = member.agent
        tasks = tuple(sorted((t for t in e.index.on_agent(a.agent_id) if t.live), key=lambda t: (t.app_id, t.task_id)))
        used = Resources()
        for t in tasks:
            used = used + Resources(*t.resources)
        drain = e.drains.drains.get(a.agent_id)
        near = e.maintenance.soon(a.agent_id, e.clock())
        rows.append(AgentRow(
            a.agent_id, a.hostname, a.attributes, a.region, a.zone,
            agent_state(a, member.gone_at is not None, drain, near),
            member.source, member.seen_at, member.gone_at, a.total, used,
            e.membership.used_by_others(a.agent_id) if e.membership.stream_up else None, tasks, drain,
            tuple(e.drain_commands.progress(drain)) if drain is not None else (), e.maintenance.windows.get(a.agent_id)))
    return sorted(rows, key=lambda r: (r.hostname, r.gone_at is not None, r.agent_id))
