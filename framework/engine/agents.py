"""What the engine knows of each agent from its offers: what it is (hostname, attributes, fault
domain) and the values constraints read.

Tasks know their agent's id and hostname only; choosing which tasks to kill under ``GROUP_BY``,
and counting an app's tasks per rack or zone when its next task is placed, needs the agent's
zone, region and attributes too. Not persisted: after a failover an agent is known again from
its next offer; until then its tasks count by hostname only.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Optional

from ..cluster import AgentInfo, Resources
from ..mesos_types import AgentSeen, Offer
from ..placement.state import field_values
from .app_records import TaskRecord
from .offers import live_counts


class KnownAgents:
    """Agent id -> its constraint field values, from the latest offer of that agent."""

    def __init__(self) -> None:
        self._values: dict[str, Mapping[str, str]] = {}
        self._seen: dict[str, AgentSeen] = {}  # agent id -> what the agent is

    def saw(self, offers: Iterable[Offer]) -> None:
        """Remember what ``offers`` say about their agents (an agent's latest offer wins)."""
        self.listed(AgentSeen(o.agent_id, o.hostname, o.attributes, o.region, o.zone) for o in offers)

    def listed(self, agents: Iterable[AgentSeen]) -> None:
        """Remember agents as the master (or an offer) describes them."""
        for agent in agents:
            self._values[agent.agent_id] = field_values(agent.hostname, agent.attributes, agent.region, agent.zone)
            self._seen[agent.agent_id] = agent

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

    def values_of(self, agent_id: str) -> Optional[Mapping[str, str]]:
        """The agent's constraint field values, or None if no offer of it was seen."""
        return self._values.get(agent_id)
