"""Tasks: ``/v2/tasks`` and an app's ``/v2/apps/{id}/tasks`` (list, kill), in Marathon's shapes."""
from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter

from ..backend import Backend
from ..engine.app_records import AppRecord, TaskRecord
from ..engine.messages import KillTasks
from ..timestamps import iso
from .inputs import path_id

STATE_NAMES = {"TASK_LAUNCHING": "TASK_STAGING"}   # Halyard's own pre-ACCEPT state, as Marathon names it
STATUS_FILTERS = {"running": {"TASK_RUNNING"}, "staging": {"TASK_STAGING", "TASK_LAUNCHING", "TASK_STARTING"}}


def task_json(task: TaskRecord, app: Optional[AppRecord]) -> dict[str, Any]:
    """A task as Marathon shows it (with its health check result, if the app has checks)."""
    return {
        "id": task.task_id, "appId": task.app_id, "host": task.hostname, "ports": list(task.ports),
        "slaveId": task.agent_id, "state": STATE_NAMES.get(task.state, task.state),
        "stagedAt": iso(task.staged_at), "startedAt": iso(task.started_at) if task.started_at else None,
        "version": iso(task.config_version), "ipAddresses": [{"ipAddress": task.hostname, "protocol": "IPv4"}],
        "servicePorts": [],
        **({"healthCheckResults": [{"alive": task.healthy, "taskId": task.task_id}]}
           if app is not None and app.spec.health_checks and task.healthy is not None else {}),
    }


def routes(backend: Backend) -> APIRouter:
    """Included before the apps' routes: ``/v2/apps/{id:path}`` would match ``.../tasks`` too."""
    router = APIRouter()

    @router.get("/v2/tasks")
    def all_tasks(status: Optional[str] = None) -> Any:
        with backend.reading() as view:
            return {"tasks": [task_json(t, view.find_app(t.app_id)) for t in view.tasks()
                              if status is None or t.state in STATUS_FILTERS.get(status, {status})]}

    @router.get("/v2/apps/{app_id:path}/tasks")
    def app_tasks(app_id: str) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as view:
            app = view.app(app_id)
            return {"tasks": [task_json(t, app) for t in view.tasks_of(app_id)]}

    @router.delete("/v2/apps/{app_id:path}/tasks")
    def kill_tasks(app_id: str, host: Optional[str] = None, scale: bool = False) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as view:
            app = view.app(app_id)
            chosen = [t for t in view.tasks_of(app_id) if not t.killing and (host is None or t.hostname == host)]
            killed = [task_json(t, app) for t in chosen]
        if chosen:
            backend.submit(KillTasks(app_id, tuple(t.task_id for t in chosen), scale))
        if scale:
            with backend.reading() as view:
                return {"version": iso(view.app(app_id).version), "deploymentId": None}
        return {"tasks": killed}

    @router.delete("/v2/apps/{app_id:path}/tasks/{task_id}")
    def kill_task(app_id: str, task_id: str, scale: bool = False) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as view:
            killed = task_json(view.task(app_id, task_id), view.find_app(app_id))
        backend.submit(KillTasks(app_id, (task_id,), scale))
        return {"task": killed}

    return router
