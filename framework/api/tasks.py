"""Tasks: ``/v2/tasks`` and an app's ``/v2/apps/{id}/tasks`` (list, kill), in Marathon's shapes."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..cluster.mesos_types import CheckResult, IpAddress
from ..engine.app_records import AppRecord, TaskHealth, TaskRecord
from ..engine.messages import KillTasks
from ..errors import ConflictError, Problem, ValidationError
from ..runtime.backend import Backend
from ..spec.app import AppSpec
from ..timestamps import iso
from . import scopes
from .inputs import body_json, new_id, path_id

STATE_NAMES = {"TASK_LAUNCHING": "TASK_STAGING"}   # Halyard's own pre-ACCEPT state, as Marathon names it
STATUS_FILTERS = {"running": {"TASK_RUNNING"}, "staging": {"TASK_STAGING", "TASK_LAUNCHING", "TASK_STARTING"}}


def service_ports(spec: AppSpec) -> list[int]:
    """The app's service ports, as its tasks show them (``servicePorts``): ``portMappings[].servicePort``
    with BRIDGE/USER networking, else ``portDefinitions[].port`` (Marathon's default: one port)."""
    if spec.network in ("BRIDGE", "USER"):
        return [m.service_port for m in (spec.container.mappings if spec.container else None) or []]
    if spec.network == "NONE":
        return []
    return [d.port for d in spec.port_definitions] if spec.port_definitions is not None else [0]


def health_json(task: TaskRecord) -> dict[str, Any]:
    """One of Marathon's ``healthCheckResults``: the task's health check history."""
    health = task.health or TaskHealth()
    return {"alive": task.healthy is True, "consecutiveFailures": health.consecutive_failures,
            "firstSuccess": iso_or_none(health.first_success), "lastSuccess": iso_or_none(health.last_success),
            "lastFailure": iso_or_none(health.last_failure), "lastFailureCause": health.last_failure_cause,
            "taskId": task.task_id, "instanceId": task.task_id}


def task_json(task: TaskRecord, app: AppRecord | None) -> dict[str, Any]:
    """A task as Marathon shows it (with its health check results, if the app has checks and one
    answered). One task per instance: its instance id is its task id."""
    checked = app is not None and app.spec.health_checks and (task.health is not None or task.healthy is not None)
    return {
        "id": task.task_id, "appId": task.app_id, "host": task.hostname, "ports": list(task.ports),
        "slaveId": task.agent_id, "state": STATE_NAMES.get(task.state, task.state),
        "stagedAt": iso(task.staged_at), "startedAt": iso_or_none(task.started_at),
        "version": iso(task.config_version), "ipAddresses": ip_addresses_json(task.ip_addresses, task.hostname),
        "servicePorts": service_ports(app.spec) if app is not None else [],
        **({"healthCheckResults": [health_json(task)]} if checked else {}),
        **({"checkResult": result} if (result := check_json(task.check)) is not None else {}),
    }


def ip_addresses_json(ips: tuple[IpAddress, ...], hostname: str) -> list[dict[str, str]]:
    """Marathon's ``ipAddresses``: the task's as Mesos reported them (``container_status``); the
    host's address while Mesos has reported none."""
    return [{"ipAddress": ip.address, "protocol": ip.protocol} for ip in ips] or \
        [{"ipAddress": hostname, "protocol": "IPv4"}]


def check_json(check: CheckResult | None) -> dict[str, Any] | None:
    """Marathon's ``checkResult`` (its ``CheckStatus``): ``{command: {exitCode}}``, ``{http:
    {statusCode}}`` or ``{tcp: {succeeded}}``; None while the check has delivered no result."""
    if check is None or not check.answered:
        return None
    if check.exit_code is not None:
        return {"command": {"exitCode": check.exit_code}}
    if check.status_code is not None:
        return {"http": {"statusCode": check.status_code}}
    return {"tcp": {"succeeded": check.succeeded}}


def check_scale_wipe(scale: bool, wipe: bool) -> None:
    """``wipe`` (forget a resident task's reservation) and ``scale`` exclude each other, as in Marathon.
    Halyard has no resident tasks: ``wipe`` alone is a plain kill."""
    if scale and wipe:
        raise ValidationError([Problem("wipe", "cannot be combined with scale")])


def task_ids_of(body: Any) -> set[str]:
    """The ``ids`` of a ``/v2/tasks/delete`` body; a 422 naming ``ids`` when it is not a list of strings."""
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValidationError([Problem("ids", "expected a list of task ids")])
    return set(ids)


def iso_or_none(at: float | None) -> str | None:
    return iso(at) if at is not None else None


def routes(backend: Backend) -> APIRouter:
    """Included before the apps' routes: ``/v2/apps/{id:path}`` would match ``.../tasks`` too."""
    router = APIRouter()

    @router.get("/v2/tasks")
    def all_tasks(status: str | None = None) -> Any:
        with backend.reading() as view:
            return {"tasks": [task_json(t, view.find_app(t.app_id)) for t in view.tasks()
                              if status is None or t.state in STATUS_FILTERS.get(status, {status})]}

    @router.get("/v2/apps/{app_id:path}/tasks")
    def app_tasks(app_id: str) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as view:
            app = view.app(app_id)
            return {"tasks": [task_json(t, app) for t in view.tasks_of(app_id)]}

    def kill(app_id: str, task_ids: tuple[str, ...], scale: bool, force: bool) -> dict[str, Any] | None:
        """Kill tasks of one app; with ``scale``, Marathon's ``{version, deploymentId}`` of the scale
        deployment that shrinks the app by as many."""
        deployment_id = new_id() if scale else None
        backend.submit(KillTasks(app_id, task_ids, scale, deployment_id=deployment_id, force=force))
        if not scale:
            return None
        with backend.reading() as view:
            return {"version": iso(view.app(app_id).version), "deploymentId": deployment_id}

    @router.post("/v2/tasks/delete")
    async def kill_given_tasks(request: Request, scale: bool = False, force: bool = False,
                               wipe: bool = False) -> Any:
        """Marathon's ``TasksResource.killTasks``: kill the tasks named in ``{"ids": [...]}`` (ids of
        tasks that are gone are ignored, as Marathon ignores them); with ``scale``, their apps shrink
        in one deployment per app (the answer names the first)."""
        check_scale_wipe(scale, wipe)
        ids = task_ids_of(await body_json(request))
        with backend.reading() as view:
            by_app: dict[str, list[str]] = {}
            for task in view.tasks():
                if task.task_id in ids:
                    by_app.setdefault(task.app_id, []).append(task.task_id)
            killed = [task_json(t, view.find_app(t.app_id)) for t in view.tasks() if t.task_id in ids]
            locked = next((d for app_id in by_app for d in view.deployments_of(app_id)), None)
        scopes.require(by_app)   # a scoped token: every task's app under its prefixes, or nothing is killed
        if scale and not force and locked is not None:  # all apps or none: the engine checks one at a time
            raise ConflictError(f"App is locked by one or more deployments. Override with the option "
                                f"'?force=true'. View details at '/v2/deployments/{locked.id}'.",
                                deployment_id=locked.id)
        results = [kill(app_id, tuple(task_ids), scale, force) for app_id, task_ids in sorted(by_app.items())]
        if scale:
            if results:
                return results[0]
            with backend.reading() as view:
                return {"version": iso(view.now()), "deploymentId": None}
        return {"tasks": killed}

    @router.delete("/v2/apps/{app_id:path}/tasks")
    def kill_tasks(app_id: str, host: str | None = None, scale: bool = False, force: bool = False,
                   wipe: bool = False) -> Any:
        check_scale_wipe(scale, wipe)
        app_id = path_id(app_id)
        with backend.reading() as view:
            app = view.app(app_id)
            chosen = [t for t in view.tasks_of(app_id) if not t.killing and (host is None or t.hostname == host)]
            killed = [task_json(t, app) for t in chosen]
        if chosen or scale:
            deployment = kill(app_id, tuple(t.task_id for t in chosen), scale, force)
            if deployment is not None:
                return deployment
        return {"tasks": killed}

    @router.delete("/v2/apps/{app_id:path}/tasks/{task_id}")
    def kill_task(app_id: str, task_id: str, scale: bool = False, force: bool = False, wipe: bool = False) -> Any:
        check_scale_wipe(scale, wipe)
        app_id = path_id(app_id)
        with backend.reading() as view:
            killed = task_json(view.task(app_id, task_id), view.find_app(app_id))
        deployment = kill(app_id, (task_id,), scale, force)
        return deployment if deployment is not None else {"task": killed}

    return router
