"""Mesos v1 JSON (as pymesos hands it over) <-> the core's typed values.

Offers and status updates are parsed here, once; launches are rendered into TaskInfos here.
Pure functions over plain data (no pymesos import), so they are tested without a master.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..cluster.agents import AttributeValue, Resources
from ..cluster.mesos_types import AgentSeen, CheckResult, InverseOffer, IpAddress, Offer, TaskStatus
from ..engine.messages import Acknowledge, AppTaskLaunch, Launch, TaskLaunch
from .app_tasks import app_task_info
from .job_tasks import job_task_info
from .resources import offered_resource


def _value(field: Any) -> Any:
    return field.get("value") if isinstance(field, Mapping) else None


def _region_and_zone(described: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The region and zone names of an offer's or an agent's ``domain.fault_domain``."""
    fault = (described.get("domain") or {}).get("fault_domain") or {}
    return (fault.get("region") or {}).get("name"), (fault.get("zone") or {}).get("name")


def decode_offer(offer: Mapping[str, Any]) -> Offer:
    """An offer: its agent, resources (by role), attributes and fault domain."""
    region, zone = _region_and_zone(offer)
    attributes: dict[str, AttributeValue] = {}
    for attr in offer.get("attributes") or []:
        if attr.get("type") == "SCALAR":
            attributes[attr["name"]] = float(attr["scalar"]["value"])
        elif attr.get("type") == "TEXT":
            attributes[attr["name"]] = str(attr["text"]["value"])
    return Offer(id=offer["id"]["value"], agent_id=offer["agent_id"]["value"], hostname=offer["hostname"],
                 resources=tuple(offered_resource(r) for r in offer.get("resources") or []),
                 attributes=MappingProxyType(attributes),
                 region=region, zone=zone, unavailable_at=_window_start(offer))


def _window_start(offer: Mapping[str, Any]) -> float | None:
    """When the offer's ``unavailability`` (a maintenance window) starts, in seconds; None: none."""
    start = ((offer.get("unavailability") or {}).get("start") or {}).get("nanoseconds")
    return int(start) / 1e9 if isinstance(start, (int, str)) and str(start).lstrip("-").isdigit() else None


def decode_inverse_offer(offer: Mapping[str, Any]) -> InverseOffer:
    """An inverse offer: its id and agent."""
    return InverseOffer(offer["id"]["value"], (offer.get("agent_id") or {}).get("value", ""))


def decode_agents(state: Mapping[str, Any]) -> tuple[AgentSeen, ...]:
    """The agents of the master's ``/master/state`` or ``/master/slaves`` (operator JSON: attributes
    as a name -> value object; ranges and sets are not constraint values and are left out)."""
    out = []
    for agent in state.get("slaves") or []:
        attributes: dict[str, AttributeValue] = {}
        for name, value in (agent.get("attributes") or {}).items():
            if isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                attributes[name] = float(value)
            elif isinstance(value, str):
                attributes[name] = value
        drain = (agent.get("drain_info") or {}).get("state")
        total = agent.get("resources")
        out.append(AgentSeen(agent["id"], agent["hostname"], MappingProxyType(attributes), *_region_and_zone(agent),
                             free=_free(agent), total=_scalars(total) if isinstance(total, Mapping) else None,
                             active=bool(agent.get("active", True)), deactivated=bool(agent.get("deactivated", False)),
                             drain=drain if isinstance(drain, str) else None))
    return tuple(out)


def _scalars(values: Mapping[str, Any]) -> Resources:
    """The scalars of an operator JSON resources object (``{"cpus": 2, "ports": "[...]"}``)."""
    return Resources.from_mapping({k: v for k, v in values.items() if isinstance(v, (int, float))})


def _free(agent: Mapping[str, Any]) -> Resources | None:
    """An agent's unused scalars: its resources less the used and the offered ones (the master's
    operator JSON: ``resources``, ``used_resources``, ``offered_resources``)."""
    if not isinstance(agent.get("resources"), Mapping):
        return None
    def scalars(name: str) -> Resources:
        return Resources.from_mapping({k: v for k, v in (agent.get(name) or {}).items() if isinstance(v, (int, float))})
    return scalars("resources").minus(scalars("used_resources")).minus(scalars("offered_resources"))


def decode_status(status: Mapping[str, Any]) -> TaskStatus:
    """A status update. ``data`` is base64 in v1 JSON: decoded here (undecodable data is dropped)."""
    raw = status.get("data")
    try:
        data = base64.b64decode(raw) if raw else b""
    except (binascii.Error, ValueError, TypeError):
        data = b""
    healthy = status.get("healthy")
    return TaskStatus(task_id=status["task_id"]["value"], state=status["state"],
                      agent_id=_value(status.get("agent_id")), reason=status.get("reason"),
                      message=status.get("message"), healthy=None if healthy is None else bool(healthy),
                      data=data, uuid=status.get("uuid"), check=decode_check_status(status.get("check_status")),
                      ip_addresses=decode_ip_addresses(status.get("container_status")))


def _optional(kind: Any, field: str, convert: Any) -> Any:
    value = (kind or {}).get(field) if isinstance(kind, Mapping) else None
    return None if value is None else convert(value)


def decode_check_status(check: Any) -> CheckResult | None:
    """A ``CheckStatusInfo`` (Mesos 1.11): its type and the result of that type; unset fields (a
    check that has not answered, or timed out) stay None. None without a check status."""
    if not isinstance(check, Mapping):
        return None
    kind = check.get("type") or next((k.upper() for k in ("command", "http", "tcp") if k in check), "UNKNOWN")
    return CheckResult(kind=str(kind), exit_code=_optional(check.get("command"), "exit_code", int),
                       status_code=_optional(check.get("http"), "status_code", int),
                       succeeded=_optional(check.get("tcp"), "succeeded", bool))


def decode_ip_addresses(container_status: Any) -> tuple[IpAddress, ...]:
    """Every ``network_infos[].ip_addresses[]`` of a ``ContainerStatus`` (protocol IPv4 unless
    Mesos says IPv6), in order; addresses without ``ip_address`` are skipped."""
    if not isinstance(container_status, Mapping):
        return ()
    out = []
    for info in container_status.get("network_infos") or ():
        for ip in (info or {}).get("ip_addresses") or ():
            if isinstance(ip, Mapping) and ip.get("ip_address"):
                out.append(IpAddress(str(ip["ip_address"]), "IPv6" if ip.get("protocol") == "IPv6" else "IPv4"))
    return tuple(out)


def acknowledgement(ack: Acknowledge) -> dict[str, Any]:
    """What pymesos' ``acknowledgeStatusUpdate`` reads of a status: task, agent and uuid."""
    out: dict[str, Any] = {"task_id": {"value": ack.task_id}, "uuid": ack.uuid}
    if ack.agent_id:
        out["agent_id"] = {"value": ack.agent_id}
    return out


def task_info(task: TaskLaunch) -> dict[str, Any]:
    """One task of a launch as a TaskInfo."""
    return app_task_info(task) if isinstance(task, AppTaskLaunch) else job_task_info(task)


def task_infos(launch: Launch) -> list[dict[str, Any]]:
    """Every TaskInfo of a launch, in order."""
    return [task_info(t) for t in launch.tasks]
