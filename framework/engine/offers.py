"""Offers <-> what the planner sees, and planned allocations -> the offered resources they take."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..cluster import ranges as rng
from ..cluster.agents import SCALARS, AgentInfo, AttributeValue, Resources
from ..cluster.mesos_types import Allocated, Offer, OfferedResource
from .app_records import TaskRecord


@dataclass
class AgentOffers:
    """Every offer from one agent in one batch, merged."""

    agent_id: str
    hostname: str
    offer_ids: list[str] = field(default_factory=list)
    resources: list[OfferedResource] = field(default_factory=list)
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    region: str | None = None
    zone: str | None = None

    def offered(self, name: str, role: str) -> OfferedResource | None:
        """An offered resource of this name and role."""
        return next((r for r in self.resources if r.name == name and r.role == role), None)


def group_offers(offers: Iterable[Offer]) -> dict[str, AgentOffers]:
    """Offers by agent id."""
    agents: dict[str, AgentOffers] = {}
    for offer in offers:
        entry = agents.get(offer.agent_id)
        if entry is None:
            entry = agents[offer.agent_id] = AgentOffers(offer.agent_id, offer.hostname, attributes=offer.attributes,
                                                         region=offer.region, zone=offer.zone)
        entry.offer_ids.append(offer.id)
        entry.resources.extend(offer.resources)
    return agents


def live_counts(tasks: Iterable[TaskRecord]) -> dict[str, int]:
    """Live tasks per app id: what placement counts on an agent (``AgentInfo.app_tasks``)."""
    counts: dict[str, int] = {}
    for t in tasks:
        if t.live:
            counts[t.app_id] = counts.get(t.app_id, 0) + 1
    return counts


def agent_view(offers: AgentOffers, tasks: Iterable[TaskRecord]) -> AgentInfo:
    """What the planner sees of an agent: offered resources per role, our live tasks there."""
    scalars: dict[str, list[float]] = {}
    port_ranges: dict[str, list[tuple[int, int]]] = {}
    for res in offers.resources:
        if res.name in SCALARS and res.is_scalar:
            scalars.setdefault(res.role, [0.0] * 4)[SCALARS.index(res.name)] += res.scalar
        elif res.name == "ports":
            port_ranges.setdefault(res.role, []).extend(res.ranges)
    available = {role: Resources(*vec) for role, vec in scalars.items()}
    ports = {role: rng.normalize(r) for role, r in port_ranges.items()}
    for role in ports:
        available.setdefault(role, Resources())
    here = [t for t in tasks if t.agent_id == offers.agent_id and t.live]
    counts = live_counts(here)
    used = [sum(t.resources[k] for t in here) for k in range(4)]
    offered = [sum(r.as_tuple()[k] for r in available.values()) for k in range(4)]
    capacity = Resources(*(o + u for o, u in zip(offered, used)))  # what we see of the agent
    return AgentInfo(id=offers.agent_id, hostname=offers.hostname, available=available, ports=ports,
                     capacity=capacity, attributes=dict(offers.attributes), region=offers.region, zone=offers.zone,
                     app_tasks=counts)


def allocate(offers: AgentOffers, allocation: Iterable[tuple[str, str, float]],
             ports: Iterable[int]) -> tuple[Allocated, ...]:
    """The offered resources a planned allocation takes (so roles, reservations and allocation
    info go back to Mesos exactly as offered)."""
    out: list[Allocated] = []
    for name, role, amount in allocation:
        offered = offers.offered(name, role)
        if offered is None:  # pragma: no cover - the planner only allocates what was offered
            raise AssertionError(f"no offered {name} in role {role} on {offers.agent_id}")
        out.append(Allocated(offered, amount=amount))
    # Each port goes with the offered ranges resource it came from (one pass over them).
    by_resource: dict[int, tuple[OfferedResource, list[int]]] = {}
    for port in ports:
        for res in offers.resources:
            if res.name == "ports" and any(begin <= port <= end for begin, end in res.ranges):
                by_resource.setdefault(id(res), (res, []))[1].append(port)
                break
        else:  # pragma: no cover - the planner only allocates offered ports
            raise AssertionError(f"port {port} was not offered on {offers.agent_id}")
    out += [Allocated(res, ports=tuple(sorted(taken))) for res, taken in by_resource.values()]
    return tuple(out)
