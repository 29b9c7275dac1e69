"""What the simulated master keeps: agents, offers, tasks and frameworks (mutable records)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .cluster import AgentSpec
from .filters import OfferFilters
from .resources import Resources
from .updates import StatusStreams

if TYPE_CHECKING:
    from .master import Stream

TERMINAL = frozenset({"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
                      "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"})


class Agent:
    __slots__ = ("spec", "free", "used", "offered", "reachable", "tasks", "offer_static", "registered_time")

    def __init__(self, spec: AgentSpec, now_wall: float):
        self.spec = spec
        self.free = spec.resources        # total - used - offered
        self.used = Resources()
        self.offered = Resources()
        self.reachable = True
        self.tasks: set[tuple[str, str]] = set()   # (framework id, task id)
        self.registered_time = now_wall
        static: dict[str, Any] = {"agent_id": {"value": spec.id}, "hostname": spec.hostname,
                                  "attributes": spec.attributes_json(), "executor_ids": []}
        if spec.domain_json():
            static["domain"] = spec.domain_json()
        self.offer_static = static


class Offer:
    __slots__ = ("id", "framework_id", "agent", "resources", "sent_at")

    def __init__(self, offer_id: str, framework_id: str, agent: Agent, resources: Resources, sent_at: float):
        self.id, self.framework_id, self.agent, self.resources, self.sent_at = (offer_id, framework_id, agent,
                                                                                resources, sent_at)


class Task:
    __slots__ = ("id", "framework_id", "agent", "resources", "state", "static", "statuses", "ip")

    def __init__(self, task_id: str, framework_id: str, agent: Agent, resources: Resources, info: dict, role: str):
        self.id, self.framework_id, self.agent, self.resources = task_id, framework_id, agent, resources
        self.state = "TASK_STAGING"
        self.statuses: list[tuple[str, float]] = []
        self.ip = agent.spec.hostname
        labels = (info.get("labels") or {}).get("labels") if isinstance(info.get("labels"), dict) else None
        self.static = {"id": task_id, "name": info.get("name", ""), "framework_id": framework_id,
                       "executor_id": "", "slave_id": agent.spec.id, "resources": resources.to_operator_json(),
                       "role": role, **({"labels": labels} if labels else {})}

    def operator_json(self) -> dict[str, Any]:
        return {**self.static, "state": self.state,
                "statuses": [{"state": s, "timestamp": t} for s, t in self.statuses[-3:]]}


class Framework:
    def __init__(self, framework_id: str, info: dict, retry_min: float, retry_max: float):
        self.id = framework_id
        self.info: dict = {}
        self.stream: Stream | None = None
        self.filters = OfferFilters()
        self.updates = StatusStreams(retry_min, retry_max)
        self.tasks: dict[str, Task] = {}
        self.unreachable: dict[str, Task] = {}
        self.offers: dict[str, Offer] = {}
        self.next_heartbeat = 0.0
        self.failover_deadline: float | None = None
        self.registered_time = time.time()
        self.update_info(info)

    def update_info(self, info: dict) -> None:
        self.info = {k: v for k, v in info.items() if k != "id"}
        self.role = info.get("role") or (info.get("roles") or ["*"])[0]
        caps = {c.get("type") for c in info.get("capabilities") or [] if isinstance(c, dict)}
        self.partition_aware = "PARTITION_AWARE" in caps
        self.killing_capable = "TASK_KILLING_STATE" in caps
        self.failover_timeout = float(info.get("failover_timeout") or 0.0)

    @property
    def connected(self) -> bool:
        return self.stream is not None
