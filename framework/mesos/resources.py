"""Resources between Mesos' v1 JSON and the core's typed values."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ..cluster.agents import UNRESERVED
from ..cluster.mesos_types import Allocated, OfferedResource


def resource_role(resource: Mapping[str, Any]) -> str:
    """The role whose resources these are: the last reservation's, else the (legacy) role, else ``*``."""
    reservations = resource.get("reservations") or []
    if reservations:
        return reservations[-1].get("role", UNRESERVED)
    return resource.get("role") or UNRESERVED


def offered_resource(resource: Mapping[str, Any]) -> OfferedResource:
    """One offered resource, keeping the JSON as ``source`` to echo back."""
    kind = resource.get("type", "SCALAR")
    scalar = float(resource["scalar"]["value"]) if kind == "SCALAR" and "scalar" in resource else 0.0
    ranges = tuple((int(r["begin"]), int(r["end"])) for r in (resource.get("ranges") or {}).get("range", []))
    return OfferedResource(name=resource.get("name", ""), role=resource_role(resource), scalar=scalar, ranges=ranges,
                           source=MappingProxyType(dict(resource)))


def resources_json(allocated: Iterable[Allocated]) -> list[dict[str, Any]]:
    """TaskInfo resources: each taken part copied from the offered object it came from (so roles,
    reservations and allocation_info stay exactly as offered)."""
    out: list[dict[str, Any]] = []
    for part in allocated:
        source = dict(part.resource.source)
        if part.ports:
            out.append({**source, "ranges": {"range": [{"begin": p, "end": p} for p in part.ports]}})
        else:
            out.append({**source, "scalar": {"value": part.amount}})
    return out
