"""The simulated agents: what each one is (id, hostname, resources, attributes, fault domain).

``make_agents`` builds N alike agents spread over racks (attribute ``rack_id``) and fault-domain
zones and regions; ``load_agents`` reads a JSON file of groups for a mixed cluster::

    [{"count": 900, "resources": "cpus:32;mem:65536;disk:100000;ports:[31000-32999]",
      "attributes": {"rack_id": "r{i%20}", "gen": 3}, "region": "eu", "zone": "eu-{i%3}"},
     {"count": 100, "resources": "cpus:8;mem:16384", "attributes": {"gpu_host": "false"}}]

``{i%K}`` in a text value is the agent's index modulo K (``{i}`` the index itself).

Hostnames are loopback addresses (127.1.x.y): nothing listens there, and a client that tries
one (a readiness probe, a sandbox read) fails on this machine instead of going anywhere.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .resources import Resources

DEFAULT_RESOURCES = "cpus:32;mem:65536;disk:100000;ports:[31000-32999]"
_INDEX = re.compile(r"\{i(?:%(\d+))?\}")


@dataclass(frozen=True)
class AgentSpec:
    id: str
    hostname: str
    resources: Resources
    attributes: dict[str, str | float] = field(default_factory=dict)
    region: str | None = None
    zone: str | None = None

    def attributes_json(self) -> list[dict[str, Any]]:
        """As an offer carries them (v1 ``Attribute``: TEXT or SCALAR)."""
        out = []
        for name, value in self.attributes.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
            else:
                out.append({"name": name, "type": "TEXT", "text": {"value": str(value)}})
        return out

    def domain_json(self) -> dict[str, Any] | None:
        if self.zone is None and self.region is None:
            return None
        return {"fault_domain": {"region": {"name": self.region or "default"}, "zone": {"name": self.zone or "default"}}}


def agent_hostname(index: int) -> str:
    """A distinct loopback address per agent (127.1.0.1, 127.1.0.2, ...)."""
    n = index + 1
    return f"127.{1 + n // 65536}.{(n // 256) % 256}.{n % 256}"


def _expand(value: Any, i: int) -> Any:
    if not isinstance(value, str):
        return value
    return _INDEX.sub(lambda m: str(i % int(m.group(1)) if m.group(1) else i), value)


def make_agents(count: int, master_id: str, resources: str = DEFAULT_RESOURCES, racks: int = 10,
                zones: int = 3, regions: int = 1) -> list[AgentSpec]:
    """``count`` alike agents: rack ``rack-(i % racks)``, zone ``zone-(i % zones)`` in region
    ``region-(i % regions)`` (no fault domain when ``zones`` is 0)."""
    total = Resources.from_text(resources)
    return [AgentSpec(id=f"{master_id}-S{i}", hostname=agent_hostname(i), resources=total,
                      attributes={"rack_id": f"rack-{i % racks}"} if racks else {},
                      region=f"region-{i % regions}" if zones else None,
                      zone=f"zone-{i % zones}" if zones else None)
            for i in range(count)]


def load_agents(path: Path, master_id: str) -> list[AgentSpec]:
    """Agents from a JSON file of groups (see the module docstring)."""
    groups = json.loads(Path(path).read_text())
    if not isinstance(groups, list):
        raise ValueError(f"{path}: expected a list of agent groups")
    agents: list[AgentSpec] = []
    for g, group in enumerate(groups):
        try:
            count = int(group.get("count", 1))
            total = Resources.from_text(group.get("resources", DEFAULT_RESOURCES))
            attrs = group.get("attributes") or {}
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: group {g}: {exc}") from None
        for _ in range(count):
            i = len(agents)
            agents.append(AgentSpec(id=f"{master_id}-S{i}", hostname=agent_hostname(i), resources=total,
                                    attributes={k: _expand(v, i) for k, v in attrs.items()},
                                    region=_expand(group.get("region"), i), zone=_expand(group.get("zone"), i)))
    return agents
