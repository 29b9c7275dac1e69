"""The master's operator endpoints as JSON: ``/master/state``, ``/master/slaves``,
``/master/frameworks`` (Mesos 1.11's src/master/readonly_handler.cpp, the fields readers use)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .records import TERMINAL, Agent, Framework
from .resources import Resources

if TYPE_CHECKING:
    from .master import Master

def agent_json(m: Master, agent: Agent) -> dict[str, Any]:
    spec = agent.spec
    out: dict[str, Any] = {
        "id": spec.id, "hostname": spec.hostname, "port": 5051, "pid": f"slave(1)@{spec.hostname}:5051",
        "attributes": dict(spec.attributes), "registered_time": agent.registered_time,
        "resources": spec.resources.to_operator_json(), "used_resources": agent.used.to_operator_json(),
        "offered_resources": agent.offered.to_operator_json(), "reserved_resources": {},
        "unreserved_resources": spec.resources.to_operator_json(), "active": agent.reachable,
        "deactivated": False, "version": m.config.version, "capabilities": []}
    if spec.domain_json():
        out["domain"] = spec.domain_json()
    return out

def framework_json(m: Master, fw: Framework, tasks: bool = True) -> dict[str, Any]:
    used = Resources()
    for t in fw.tasks.values():
        if t.state not in TERMINAL:
            used = Resources(used.cpus + t.resources.cpus, used.mem + t.resources.mem,
                             used.disk + t.resources.disk, used.gpus + t.resources.gpus)
    out: dict[str, Any] = {
        "id": fw.id, "name": fw.info.get("name"), "user": fw.info.get("user"), "role": fw.role,
        "hostname": fw.info.get("hostname", ""), "webui_url": fw.info.get("webui_url", ""),
        "failover_timeout": fw.failover_timeout, "checkpoint": bool(fw.info.get("checkpoint")),
        "capabilities": fw.info.get("capabilities", []), "active": fw.connected, "connected": fw.connected,
        "recovered": False, "registered_time": fw.registered_time,
        "used_resources": used.to_operator_json(), "offered_resources": {},
        "offers": [{"id": o.id, "slave_id": o.agent.spec.id, "resources": o.resources.to_operator_json()}
                   for o in fw.offers.values()],
        "executors": [], "completed_tasks": []}
    if tasks:
        out["tasks"] = [t.operator_json() for t in fw.tasks.values()]
        out["unreachable_tasks"] = [t.operator_json() for t in fw.unreachable.values()]
    return out

def state_json(m: Master) -> dict[str, Any]:
    """``/master/state``: the parts frameworks and operators read."""
    c = m.config
    return {"version": c.version, "git_tag": c.version, "build_date": "simulated", "start_time": m.start_time,
            "elected_time": m.start_time, "id": m.id, "pid": f"master@{c.hostname}:{c.port}",
            "hostname": c.hostname, "leader": f"master@{c.hostname}:{c.port}",
            "leader_info": m.master_info(), "activated_slaves": sum(a.reachable for a in m.agents),
            "deactivated_slaves": 0, "unreachable_slaves": sum(not a.reachable for a in m.agents),
            "flags": {"allocation_interval": f"{c.allocation_interval}secs", "simulated": "true"},
            "slaves": [agent_json(m, a) for a in m.agents],
            "frameworks": [framework_json(m, fw) for fw in m.frameworks.values()],
            "completed_frameworks": [{"id": fw.id, "name": fw.info.get("name")} for fw in m.completed.values()],
            "orphan_tasks": [], "unregistered_frameworks": []}
