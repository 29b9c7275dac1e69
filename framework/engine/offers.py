"""Offers (Mesos v1 JSON) <-> what the planner sees, and planned allocations -> Mesos resources."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

from .. import ranges as rng
from ..cluster import SCALARS, UNRESERVED, AgentInfo, AttributeValue, Resources
from .app_records import TaskRecord


def resource_role(resource: Mapping) -> str:
    """The role whose resources these are: the last reservation's, else the (legacy) role, else ``*``."""
    reservations = resource.get("reservations") or []
    if reservations:
        return reservations[-1].get("role", UNRESERVED)
    return resource.get("role") or UNRESERVED


@dataclass
class AgentOffers:
    """Every offer from one agent in one batch, merged."""

    agent_id: str
    hostname: str
    offer_ids: list[str] = field(default_factory=list)
    resources: list[dict] = field(default_factory=list)
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    region: Optional[str] = None
    zone: Optional[str] = None

    def template(self, name: str, role: str) -> Optional[dict]:
        """An offered resource object of this name and role."""
        return next((r for r in self.resources if r.get("name") == name and resource_role(r) == role), None)


def group_offers(offers: Iterable[Mapping]) -> dict[str, AgentOffers]:
    """Offers by agent id."""
    agents: dict[str, AgentOffers] = {}
    for offer in offers:
        agent_id = offer["agent_id"]["value"]
        entry = agents.get(agent_id)
        if entry is None:
            fault = (offer.get("domain") or {}).get("fault_domain") or {}
            attributes: dict[str, AttributeValue] = {}
            for attr in offer.get("attributes") or []:
                if attr.get("type") == "SCALAR":
                    attributes[attr["name"]] = float(attr["scalar"]["value"])
                elif attr.get("type") == "TEXT":
                    attributes[attr["name"]] = str(attr["text"]["value"])
            entry = agents[agent_id] = AgentOffers(
                agent_id, offer["hostname"], attributes=attributes,
                region=(fault.get("region") or {}).get("name"), zone=(fault.get("zone") or {}).get("name"))
        entry.offer_ids.append(offer["id"]["value"])
        entry.resources.extend(offer.get("resources") or [])
    return agents


def agent_view(offers: AgentOffers, tasks: Iterable[TaskRecord]) -> AgentInfo:
    """What the planner sees of an agent: offered resources per role, our live tasks there."""
    scalars: dict[str, list[float]] = {}
    port_ranges: dict[str, list[tuple[int, int]]] = {}
    for res in offers.resources:
        role = resource_role(res)
        if res.get("name") in SCALARS and res.get("type", "SCALAR") == "SCALAR":
            scalars.setdefault(role, [0.0] * 4)[SCALARS.index(res["name"])] += float(res["scalar"]["value"])
        elif res.get("name") == "ports":
            port_ranges.setdefault(role, []).extend((r["begin"], r["end"]) for r in res["ranges"]["range"])
    available = {role: Resources(*vec) for role, vec in scalars.items()}
    ports = {role: rng.normalize(r) for role, r in port_ranges.items()}
    for role in ports:
        available.setdefault(role, Resources())
    counts: dict[str, int] = {}
    used = [0.0] * 4
    for t in tasks:
        if t.agent_id == offers.agent_id and t.live:
            counts[t.app_id] = counts.get(t.app_id, 0) + 1
            used = [u + r for u, r in zip(used, t.resources)]
    offered = [sum(r.as_tuple()[k] for r in available.values()) for k in range(4)]
    capacity = Resources(*(o + u for o, u in zip(offered, used)))  # what we see of the agent
    return AgentInfo(id=offers.agent_id, hostname=offers.hostname, available=available, ports=ports,
                     capacity=capacity, attributes=offers.attributes, region=offers.region, zone=offers.zone,
                     app_tasks=counts)


def mesos_resources(offers: AgentOffers, allocation: Iterable[tuple[str, str, float]],
                    ports: Iterable[int]) -> list[dict]:
    """The TaskInfo resources for a planned allocation, copied from the offered objects (so
    roles, reservations and allocation_info stay exactly as offered)."""
    out: list[dict] = []
    for name, role, amount in allocation:
        template = offers.template(name, role)
        if template is None:  # pragma: no cover - the planner only allocates what was offered
            raise AssertionError(f"no offered {name} in role {role} on {offers.agent_id}")
        out.append({**template, "scalar": {"value": amount}})  # role fields shared: never mutated
    # Each port goes with the offered ranges resource it came from (one pass over them).
    by_resource: dict[int, tuple[dict, list[int]]] = {}
    for port in ports:
        for res in offers.resources:
            if res.get("name") == "ports" and any(r["begin"] <= port <= r["end"]
                                                  for r in (res.get("ranges") or {}).get("range", [])):
                by_resource.setdefault(id(res), (res, []))[1].append(port)
                break
        else:  # pragma: no cover - the planner only allocates offered ports
            raise AssertionError(f"port {port} was not offered on {offers.agent_id}")
    for template, taken in by_resource.values():
        out.append({**template, "ranges": {"range": [{"begin": p, "end": p} for p in sorted(taken)]}})
    return out
