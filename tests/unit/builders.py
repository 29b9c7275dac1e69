"""Small builders for placement tests (in the spirit of Kubernetes' MakeNode())."""
from __future__ import annotations

from typing import Any, Optional

from halyard.cluster.agents import AgentInfo, Resources
from halyard.spec.app import AppSpec


def agent(id: str, cpus: float = 4, mem: float = 4096, disk: float = 10000, gpus: float = 0,
          ports: tuple = ((31000, 31009),), attrs: Optional[dict] = None, zone: Optional[str] = None,
          region: Optional[str] = None, tasks: Optional[dict] = None, reserved: Optional[dict] = None,
          hostname: Optional[str] = None) -> AgentInfo:
    available = {"*": Resources(cpus, mem, disk, gpus)}
    port_map = {"*": tuple(ports)}
    capacity = Resources(cpus, mem, disk, gpus)
    for role, (res, role_ports) in (reserved or {}).items():
        available[role] = res
        port_map[role] = tuple(role_ports)
        capacity = capacity + res
    return AgentInfo(id=id, hostname=hostname or f"{id}.local", available=available, ports=port_map,
                     capacity=capacity, attributes=attrs or {}, region=region, zone=zone,
                     app_tasks=tasks or {})


def app(id: str = "web", instances: int = 1, cpus: float = 1, mem: float = 128, **extra: Any) -> AppSpec:
    raw = {"id": id, "cmd": "sleep 1", "instances": instances, "cpus": cpus, "mem": mem, **extra}
    return AppSpec.model_validate(raw)
