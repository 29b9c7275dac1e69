"""The master's operator API JSON (``POST /api/v1``, Mesos' ``master.proto``) -> the core's typed
values and engine events. Pure functions over plain data, tested without a master.

Events read (``Event.type``): SUBSCRIBED (``get_state``: agents and tasks), AGENT_ADDED,
AGENT_REMOVED, TASK_ADDED, TASK_UPDATED; HEARTBEAT and the framework events carry nothing the
engine keeps. Mesos 1.11 streams no change of an agent's deactivation or drain state: the agent
listing reads those.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..cluster.agents import AttributeValue, Resources
from ..cluster.mesos_types import AgentSeen, ClusterTask
from ..engine.messages import AgentAdded, AgentRemoved, ClusterSnapshot, ClusterTasks, Event

SCALAR_NAMES = ("cpus", "mem", "disk", "gpus")


def scalars(resources: Sequence[Mapping[str, Any]] | None) -> Resources:
    """The scalars of a list of v1 ``Resource``s, every role summed."""
    totals = dict.fromkeys(SCALAR_NAMES, 0.0)
    for r in resources or ():
        if r.get("name") in totals and r.get("type", "SCALAR") == "SCALAR":
            totals[r["name"]] += float((r.get("scalar") or {}).get("value", 0.0))
    return Resources(**totals)


def _attributes(listed: Sequence[Mapping[str, Any]] | None) -> Mapping[str, AttributeValue]:
    out: dict[str, AttributeValue] = {}
    for a in listed or ():
        if a.get("type") == "SCALAR":
            out[a["name"]] = float(a["scalar"]["value"])
        elif a.get("type") == "TEXT":
            out[a["name"]] = str(a["text"]["value"])
    return MappingProxyType(out)


def decode_agent(agent: Mapping[str, Any]) -> AgentSeen:
    """A ``GetAgents.Agent`` (what AGENT_ADDED and the snapshot carry)."""
    info = agent["agent_info"]
    fault = (info.get("domain") or {}).get("fault_domain") or {}
    total = scalars(agent.get("total_resources") or info.get("resources"))
    used = scalars(agent.get("allocated_resources")) + scalars(agent.get("offered_resources"))
    drain = (agent.get("drain_info") or {}).get("state")
    return AgentSeen(info["id"]["value"], info["hostname"], _attributes(info.get("attributes")),
                     (fault.get("region") or {}).get("name"), (fault.get("zone") or {}).get("name"),
                     free=total.minus(used), total=total, active=bool(agent.get("active", True)),
                     deactivated=bool(agent.get("deactivated", False)), drain=drain if isinstance(drain, str) else None)


def decode_task(task: Mapping[str, Any]) -> ClusterTask:
    """A v1 ``Task`` (TASK_ADDED, the snapshot)."""
    return ClusterTask(task["task_id"]["value"], task["framework_id"]["value"], task["agent_id"]["value"],
                       task.get("state", "TASK_STAGING"), scalars(task.get("resources")))


def decode_event(event: Mapping[str, Any], own_framework: str | None = None) -> Event | None:
    """One stream event as an engine event; None for what the engine does not keep (heartbeats,
    framework events, this framework's own tasks: its scheduler API tells it those)."""
    kind = event.get("type")
    if kind == "SUBSCRIBED":
        state = (event.get("subscribed") or {}).get("get_state") or {}
        agents = tuple(decode_agent(a) for a in (state.get("get_agents") or {}).get("agents") or ())
        listed = state.get("get_tasks") or {}
        tasks = tuple(decode_task(t) for key in ("pending_tasks", "tasks", "unreachable_tasks")
                      for t in listed.get(key) or () if t["framework_id"]["value"] != own_framework)
        return ClusterSnapshot(agents, tasks)
    if kind == "AGENT_ADDED":
        return AgentAdded(decode_agent(event["agent_added"]["agent"]))
    if kind == "AGENT_REMOVED":
        return AgentRemoved(event["agent_removed"]["agent_id"]["value"])
    if kind == "TASK_ADDED":
        task = decode_task(event["task_added"]["task"])
        return None if task.framework_id == own_framework else ClusterTasks((task,))
    if kind == "TASK_UPDATED":
        updated = event["task_updated"]
        framework = updated["framework_id"]["value"]
        if framework == own_framework:
            return None
        status = updated["status"]
        return ClusterTasks((ClusterTask(status["task_id"]["value"], framework, status["agent_id"]["value"],
                                         updated.get("state") or status.get("state", "TASK_STAGING")),))
    return None
