"""``GET /v1/apps/{id}/endpoints``: Halyard's view of service discovery for one app: which of its
tasks are announced (their member: host, ports, shard) and why each other one is not (not yet
healthy, draining before its kill, ...). Unknown apps answer 404."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..engine.view import EndpointStatus
from ..runtime.backend import Backend
from ..timestamps import iso
from .inputs import path_id


def endpoint_json(status: EndpointStatus) -> dict[str, Any]:
    """One task: announced with its member, or not with the reason."""
    task, member = status.task, status.member
    data: dict[str, Any] = {"taskId": task.task_id, "host": task.hostname, "ports": list(task.ports),
                            "state": task.state, "shard": task.shard, "announced": member is not None,
                            "reason": status.reason}
    if member is not None:
        data["serviceEndpoint"] = {"host": member.host, "port": member.ports[0]}
        data["additionalEndpoints"] = {name: {"host": member.host, "port": port}
                                       for name, port in member.named_ports.items()}
    if status.drain_until is not None:
        data["drainUntil"] = iso(status.drain_until)
    return data


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/apps/{app_id:path}/endpoints")
    def endpoints(app_id: str) -> Any:
        """What service discovery announces of the app, and why each other task is not announced."""
        app_id = path_id(app_id)
        with backend.reading() as view:
            enabled, statuses = view.endpoints(app_id)
            items = [endpoint_json(s) for s in statuses]
        return {"app": app_id, "discovery": enabled, "announced": sum(1 for i in items if i["announced"]),
                "endpoints": items}

    return router
