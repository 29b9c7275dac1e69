"""What the engine knows of each agent from its offers: the values constraints read.

Tasks know their agent's id and hostname only; choosing which tasks to kill under ``GROUP_BY``
needs the agent's zone, region and attributes too. Not persisted: after a failover an agent is
known again from its next offer (every task this leader launches was launched on an offer).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Optional

from ..mesos_types import Offer
from ..placement.state import field_values


class KnownAgents:
    """Agent id -> its constraint field values, from the latest offer of that agent."""

    def __init__(self) -> None:
        self._values: dict[str, Mapping[str, str]] = {}

    def saw(self, offers: Iterable[Offer]) -> None:
        """Remember what ``offers`` say about their agents (an agent's latest offer wins)."""
        for offer in offers:
            self._values[offer.agent_id] = field_values(offer.hostname, offer.attributes, offer.region, offer.zone)

    def values_of(self, agent_id: str) -> Optional[Mapping[str, str]]:
        """The agent's constraint field values, or None if no offer of it was seen."""
        return self._values.get(agent_id)
