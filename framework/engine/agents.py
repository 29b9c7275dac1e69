"""What the engine knows of each agent, from its offers and the master's agent list: what it is
(hostname, attributes, fault domain), the values constraints read, and what it had free.

Tasks know their agent's id and hostname only; choosing which tasks to kill under ``GROUP_BY``,
and counting an app's tasks per rack or zone when its next task is placed, needs the agent's
zone, region and attributes too. Not persisted: a new leader reads the master's list when it
subscribes; until the answer comes, an agent is known from its next offer and its tasks count by
hostname only. The master's list is the whole cluster: an agent not in it is forgotten, as is one
Mesos reports lost.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..cluster.agents import AgentInfo, Resources
from ..cluster.mesos_types import AgentSeen, Offer
from ..placement.state import field_values
from .app_records import TaskRecord
from .offers import live_counts


class KnownAgents:
    """Agent id -> what it is, from its latest offer or the master's list."""

    def __init__(self) -> None:
        self._seen: dict[str, AgentSeen] = {}  # agent id -> what the agent is
        self.changes = 0  # grows whenever what is known changes (what is derived from it may be kept till then)
        self._known: list[AgentSeen] | None = None

    def saw(self, offers: Iterable[Offer]) -> None:
        """Remember what ``offers`` say about their agents (an agent's latest offer wins; what the
        master last said it had free is kept, as an offer does not say)."""
        for o in offers:
            before = self._seen.get(o.agent_id)
            self._remember(AgentSeen(o.agent_id, o.hostname, o.attributes, o.region, o.zone,
                                     free=before.free if before is not None else None))

    def listed(self, agents: Iterable[AgentSeen]) -> None:
        """The master's whole agent list: remember each agent; forget the ones not in it."""
        agents = list(agents)
        listed = {a.agent_id for a in agents}
        for agent_id in set(self._seen) - listed:
            self.lost(agent_id)
        for agent in agents:
            self._remember(agent)

    def refresh(self, agent: AgentSeen) -> None:
        """What the master says of one agent now (the operator stream): remembered as it is."""
        self._remember(agent)

    def lost(self, agent_id: str) -> None:
        """The agent left the cluster."""
        if self._seen.pop(agent_id, None) is not None:
            self._changed()

    def _remember(self, agent: AgentSeen) -> None:
        if self._seen.get(agent.agent_id) != agent:
            self._seen[agent.agent_id] = agent
            self._changed()

    def _changed(self) -> None:
        self.changes += 1
        self._known = None

    def known(self) -> list[AgentSeen]:
        """Every known agent, by hostname then id (sorted once per change; not to be modified)."""
        if self._known is None:
            self._known = sorted(self._seen.values(), key=lambda a: (a.hostname, a.agent_id))
        return self._known

    def elsewhere(self, offered: Iterable[str], tasks_on: Mapping[str, Iterable[TaskRecord]]) -> list[AgentInfo]:
        """The agents not in ``offered`` that are known or run tasks (``tasks_on``: agent id -> its
        tasks), as placement context: what they are and what runs there, with nothing free."""
        skip = set(offered)
        out = []
        for agent_id in sorted((set(self._seen) | set(tasks_on)) - skip):
            tasks = list(tasks_on.get(agent_id, ()))
            counts = live_counts(tasks)
            offer = self._seen.get(agent_id)
            if offer is None and not counts:
                continue
            hostname = offer.hostname if offer is not None else tasks[0].hostname
            out.append(AgentInfo(id=agent_id, hostname=hostname, available={}, ports={}, capacity=Resources(),
                                 attributes=dict(offer.attributes) if offer is not None else {},
                                 region=offer.region if offer is not None else None,
                                 zone=offer.zone if offer is not None else None, app_tasks=counts))
        return out

    def values_of(self, agent_id: str) -> Mapping[str, str] | None:
        """The agent's constraint field values, or None if it is not known (read when a scale-down
        balances GROUP_BY: not worth keeping for every offer)."""
        a = self._seen.get(agent_id)
        return None if a is None else field_values(a.hostname, a.attributes, a.region, a.zone)
