"""Engine state rendered as Marathon's v2 JSON (apps, tasks, queue) plus Halyard's additions."""
from __future__ import annotations

import time
from typing import Any, Optional

from ..engine.engine import Engine
from ..engine.app_records import AppRecord, DeploymentRecord, TaskRecord, iso
from ..errors import Problem

STATE_NAMES = {"TASK_LAUNCHING": "TASK_STAGING"}


def task_json(task: TaskRecord, app: Optional[AppRecord]) -> dict[str, Any]:
    return {
        "id": task.task_id, "appId": task.app_id, "host": task.hostname, "ports": list(task.ports),
        "slaveId": task.agent_id, "state": STATE_NAMES.get(task.state, task.state),
        "stagedAt": iso(task.staged_at), "startedAt": iso(task.started_at) if task.started_at else None,
        "version": iso(task.config_version), "ipAddresses": [{"ipAddress": task.hostname, "protocol": "IPv4"}],
        "servicePorts": [],
        **({"healthCheckResults": [{"alive": task.healthy, "taskId": task.task_id}]}
           if app is not None and app.spec.health_checks and task.healthy is not None else {}),
    }


def app_json(engine: Engine, app: AppRecord, embed_tasks: bool = True) -> dict[str, Any]:
    tasks = [t for t in engine.tasks_of(app.app_id)]
    data = app.spec.public_json()
    data.pop("environments", None)
    data.update({
        "version": iso(app.version),
        "versionInfo": {"lastScalingAt": iso(app.version), "lastConfigChangeAt": iso(app.config_version)},
        "tasksStaged": sum(1 for t in tasks if t.state in ("TASK_LAUNCHING", "TASK_STAGING", "TASK_STARTING")),
        "tasksRunning": sum(1 for t in tasks if t.state == "TASK_RUNNING"),
        "tasksHealthy": sum(1 for t in tasks if t.healthy is True and t.state == "TASK_RUNNING"),
        "tasksUnhealthy": sum(1 for t in tasks if t.healthy is False and t.state == "TASK_RUNNING"),
        "deployments": [{"id": d.id} for d in engine.deployments.values() if d.app_id == app.app_id],
    })
    if embed_tasks:
        data["tasks"] = [task_json(t, app) for t in tasks]
    if app.last_failure:
        data["lastTaskFailure"] = app.last_failure
    return data


def queue_json(engine: Engine) -> dict[str, Any]:
    now = time.time()
    queue = []
    for app in engine.apps.values():
        count = engine.pending(app)
        if not count:
            continue
        left = max(0.0, app.launch_after - now)
        queue.append({"app": app_json(engine, app, embed_tasks=False), "count": count,
                      "delay": {"timeLeftSeconds": round(left, 3), "overdue": left == 0},
                      "reasons": list(engine.waiting.get(app.app_id, ()))})
    return {"queue": queue}


def placement_json(engine: Engine, app: AppRecord) -> dict[str, Any]:
    """Why an app's instances are (not) placed: Halyard's own `GET /v1/apps/{id}/placement`."""
    now = time.time()
    return {"app": app.app_id, "instances": app.spec.instances, "pending": engine.pending(app),
            "delaySeconds": round(max(0.0, app.launch_after - now), 3), "currentDelay": app.delay,
            "reasons": list(engine.waiting.get(app.app_id, ()))}


def invalid_json(problems: list[Problem]) -> dict[str, Any]:
    """Marathon's 422 body (JSON-pointer paths) with Halyard's ``path: problem`` lines alongside."""
    details = []
    for p in problems:
        pointer = "/" + p.path.replace("].", "/").replace("][", "/").replace("[", "/").replace("]", "").replace(".", "/")
        details.append({"path": pointer if p.path else "/", "errors": [p.message]})
    return {"message": "Object is not valid", "details": details, "problems": [str(p) for p in problems]}


_ACTIONS = {"start": "StartApplication", "deploy": "RestartApplication", "scale": "ScaleApplication",
            "restart": "RestartApplication", "stop": "StopApplication", "rollback": "RestartApplication"}


def deployment_json(deployment: DeploymentRecord, halyard: bool = False) -> dict[str, Any]:
    """Marathon's deployment shape (exactly: strict clients build objects from every field); with
    ``halyard`` also Halyard's ``status``, ``kind`` and ``failures``."""
    action = {"action": _ACTIONS.get(deployment.kind, "RestartApplication"), "app": deployment.app_id}
    data: dict[str, Any] = {
        "id": deployment.id, "version": iso(deployment.version), "affectedApps": [deployment.app_id],
        "affectedPods": [], "steps": [{"actions": [action]}],
        "currentActions": [{**action, "readinessCheckResults": []}] if deployment.status == "running" else [],
        "currentStep": 1, "totalSteps": 1}
    if halyard:
        data.update({"status": deployment.status, "kind": deployment.kind, "failures": list(deployment.failures)})
    return data
