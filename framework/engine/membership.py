"""The cluster's membership, kept current: which agents are registered and in what state, and what
other frameworks' tasks hold on each. Pure.

Sources, freshest first:

1. the master's operator stream (``mesos/operator_stream.py``): its snapshot when it subscribes,
   then AGENT_ADDED and AGENT_REMOVED within about a second, and other frameworks' TASK_ADDED and
   TASK_UPDATED;
2. the master's agent list (``ListAgents``, every 60 s; the safety net, and the only source of an
   agent's disconnection, deactivation and drain state, which Mesos 1.11 does not stream);
3. offers (an agent offering is registered).

An agent the master no longer has is kept as *gone* (the last ``KEEP_GONE``), so ``halyard
agents`` can say so. :class:`MembershipEvents` are the engine's handlers of the stream's events;
they also keep :class:`~.agents.KnownAgents` (what placement and the waiting reasons read) current.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..cluster.agents import Resources
from ..cluster.mesos_types import AgentSeen, ClusterTask
from .domain_events import AgentJoined, AgentLeft
from .messages import AgentAdded, AgentRemoved, ClusterSnapshot, ClusterTasks, Instruction, StreamChanged

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine

KEEP_GONE = 100   # agents remembered after they left


@dataclass(frozen=True)
class Member:
    """One agent as the membership has it: what it is, where that was learned (``stream``,
    ``listing`` or ``offer``) and when; ``gone_at``: when it left (None: registered)."""

    agent: AgentSeen
    source: str
    seen_at: float | None
    gone_at: float | None = None


class ClusterMembership:
    """Agent id -> :class:`Member`; other frameworks' live tasks; whether the stream is up."""

    def __init__(self) -> None:
        self.members: dict[str, Member] = {}
        self.others: dict[str, ClusterTask] = {}   # task id -> another framework's live task
        self.stream_up = False
        self.stream_since: float | None = None     # when the stream last came up or went down

    # --- what the sources say -------------------------------------------------------------------

    def snapshot(self, agents: Iterable[AgentSeen], tasks: Iterable[ClusterTask], own: str | None,
                 now: float) -> list[AgentSeen]:
        """The stream's snapshot: the whole cluster. Returns the agents that joined since the last look
        (none on the first look: it only learns the cluster)."""
        agents = list(agents)
        first = not self.members
        joined = [a for a in agents if not self.registered(a.agent_id)]
        self._whole(agents, "stream", now)
        self.others = {t.task_id: t for t in tasks if t.framework_id != own and t.live}
        self.stream_up, self.stream_since = True, now
        return [] if first else joined

    def listed(self, agents: Iterable[AgentSeen], now: float) -> None:
        """The master's agent list: the whole cluster, with each agent's state."""
        self._whole(list(agents), "listing", now)

    def _whole(self, agents: list[AgentSeen], source: str, now: float) -> None:
        listed = {a.agent_id for a in agents}
        for agent_id in [i for i, m in self.members.items() if m.gone_at is None and i not in listed]:
            self.removed(agent_id, now)
        for agent in agents:
            self.members[agent.agent_id] = Member(agent, source, now)

    def added(self, agent: AgentSeen, now: float) -> bool:
        """An agent registered (again); True when it was not registered before."""
        new = not self.registered(agent.agent_id)
        self.members[agent.agent_id] = Member(agent, "stream", now)
        return new

    def offered(self, agent: AgentSeen, now: float) -> None:
        """An agent offered: registered (an agent only the offers told of is learned from them)."""
        member = self.members.get(agent.agent_id)
        if member is None or member.gone_at is not None:
            self.members[agent.agent_id] = Member(agent, "offer", now)

    def removed(self, agent_id: str, now: float) -> Member | None:
        """The agent left; it is kept as gone. Returns what it was (None: not registered)."""
        member = self.members.get(agent_id)
        if member is None or member.gone_at is not None:
            return None
        self.members[agent_id] = replace(member, gone_at=now)
        self.others = {i: t for i, t in self.others.items() if t.agent_id != agent_id}
        gone = sorted((m for m in self.members.values() if m.gone_at is not None), key=lambda m: m.gone_at or 0.0)
        for old in gone[:max(0, len(gone) - KEEP_GONE)]:
            del self.members[old.agent.agent_id]
        return member

    def tasks(self, tasks: Iterable[ClusterTask]) -> set[str]:
        """Other frameworks' tasks changed; returns the agents whose use changed."""
        agents = set()
        for t in tasks:
            before = self.others.pop(t.task_id, None)
            if t.resources is None and before is not None:
                t = replace(t, resources=before.resources)
            if t.live:
                self.others[t.task_id] = t
            if before is not None or t.live:
                agents.add(t.agent_id)
        return agents

    # --- reading --------------------------------------------------------------------------------

    def registered(self, agent_id: str) -> bool:
        member = self.members.get(agent_id)
        return member is not None and member.gone_at is None

    def used_by_others(self, agent_id: str) -> Resources:
        """What other frameworks' live tasks hold on the agent (as the stream told them)."""
        used = Resources()
        for t in self.others.values():
            if t.agent_id == agent_id and t.resources is not None:
                used = used + t.resources
        return used

    def find(self, name: str) -> Member | None:
        """The agent of a hostname or id (a registered one before a gone one), or None."""
        if name in self.members:
            return self.members[name]
        found = sorted((m for m in self.members.values() if m.agent.hostname == name),
                       key=lambda m: (m.gone_at is not None, -(m.gone_at or 0.0)))
        return found[0] if found else None

    def hosts(self) -> list[str]:
        """The registered agents' hostnames, sorted (for "unknown host" answers)."""
        return sorted({m.agent.hostname for m in self.members.values() if m.gone_at is None})


class MembershipEvents:
    """The engine's handlers of the operator stream's events."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def snapshot(self, event: ClusterSnapshot) -> list[Instruction]:
        """The stream (re)subscribed: the whole cluster, as the master has it now."""
        e = self.engine
        now = e.clock()
        before = {i: m.agent.hostname for i, m in e.membership.members.items() if m.gone_at is None}
        joined = e.membership.snapshot(event.agents, event.tasks, e.framework_id, now)
        for agent_id in sorted(set(before) - {a.agent_id for a in event.agents}):
            e.emit(AgentLeft(agent_id, before[agent_id], now))
        e.agents.listed(event.agents)
        for agent in joined:
            e.emit(AgentJoined(agent.agent_id, agent.hostname, now))
        return []

    def added(self, event: AgentAdded) -> list[Instruction]:
        """AGENT_ADDED: the agent is placed on from now on (its next offer), and told to the event stream."""
        e = self.engine
        now = e.clock()
        e.membership.added(event.agent, now)
        e.agents.refresh(event.agent)
        e.emit(AgentJoined(event.agent.agent_id, event.agent.hostname, now))
        return []

    def removed(self, event: AgentRemoved) -> list[Instruction]:
        """AGENT_REMOVED: no longer counted by constraints or named in waiting reasons."""
        e = self.engine
        self._left(event.agent_id, e.clock())
        e.agents.lost(event.agent_id)
        return []

    def _left(self, agent_id: str, now: float) -> None:
        member = self.engine.membership.removed(agent_id, now)
        if member is not None:
            self.engine.emit(AgentLeft(agent_id, member.agent.hostname, now))

    def tasks(self, event: ClusterTasks) -> list[Instruction]:
        """Other frameworks' tasks: what each agent has free is known again."""
        e = self.engine
        others = [t for t in event.tasks if t.framework_id != e.framework_id]
        for agent_id in sorted(e.membership.tasks(others)):
            member = e.membership.members.get(agent_id)
            if member is not None and member.gone_at is None:
                e.agents.refresh(self._with_free(member.agent))
        return []

    def stream(self, event: StreamChanged) -> list[Instruction]:
        e = self.engine
        e.membership.stream_up, e.membership.stream_since = event.up, e.clock()
        return []

    def _with_free(self, agent: AgentSeen) -> AgentSeen:
        """``agent`` with what it has free from its total, Halyard's tasks and the other
        frameworks' (offers outstanding are not known here); as it was when its total is not known."""
        if agent.total is None:
            return agent
        e = self.engine
        ours = Resources()
        for t in e.index.on_agent(agent.agent_id):
            if t.live:
                ours = ours + Resources(*t.resources)
        return replace(agent, free=agent.total.minus(ours).minus(e.membership.used_by_others(agent.agent_id)))
