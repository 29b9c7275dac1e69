"""Domain events rendered as Marathon's event JSON (``/v2/events``), with Halyard's job events."""
from __future__ import annotations

from functools import singledispatch
from typing import Any

from ..engine.app_records import DeploymentRecord
from ..engine.events import (AppChanged, AppTerminated, DeploymentFailed, DeploymentStarted, DeploymentSucceeded,
                             HealthChanged, JobDefined, JobDeleted, JobRunChanged, JobRunSkipped, TaskChanged)
from ..timestamps import iso


def _event(event_type: str, at: float, **fields: Any) -> dict[str, Any]:
    return {"eventType": event_type, "timestamp": iso(at), **fields}


def _plan(deployment: DeploymentRecord) -> dict[str, Any]:
    return {"id": deployment.id, "version": iso(deployment.version), "affectedApps": [deployment.app_id],
            "kind": deployment.kind}


@singledispatch
def marathon_event(event: object) -> dict[str, Any]:
    """One domain event as the JSON object Marathon's event stream carries (``eventType`` first)."""
    raise TypeError(f"not a domain event: {event!r}")


@marathon_event.register
def _(event: AppChanged) -> dict[str, Any]:
    return _event("api_post_event", event.at, clientIp=None, uri=f"/v2/apps{event.spec.id}",
                  appDefinition=event.spec.public_json())


@marathon_event.register
def _(event: AppTerminated) -> dict[str, Any]:
    return _event("app_terminated_event", event.at, appId=event.app_id)


@marathon_event.register
def _(event: DeploymentStarted) -> dict[str, Any]:
    d = event.deployment
    return _event("deployment_info", event.at, plan=_plan(d), currentStep={"actions": [{"app": d.app_id}]})


@marathon_event.register
def _(event: DeploymentSucceeded) -> dict[str, Any]:
    return _event("deployment_success", event.at, id=event.deployment.id, plan=_plan(event.deployment))


@marathon_event.register
def _(event: DeploymentFailed) -> dict[str, Any]:
    d = event.deployment
    return _event("deployment_failed", event.at, id=d.id, plan=_plan(d), reason=d.status, failures=list(d.failures))


@marathon_event.register
def _(event: TaskChanged) -> dict[str, Any]:
    task = event.task
    return _event("status_update_event", event.at, slaveId=event.agent_id, taskId=task.task_id,
                  taskStatus=event.state, message=event.message, appId=task.app_id, host=task.hostname,
                  ipAddresses=[{"ipAddress": task.hostname, "protocol": "IPv4"}], ports=list(task.ports),
                  version=iso(task.config_version))


@marathon_event.register
def _(event: HealthChanged) -> dict[str, Any]:
    task = event.task
    return _event("health_status_changed_event", event.at, appId=task.app_id, taskId=task.task_id,
                  instanceId=task.task_id, version=iso(task.config_version), alive=event.alive)


@marathon_event.register
def _(event: JobDefined) -> dict[str, Any]:
    return _event("job_created" if event.created else "job_updated", event.at, jobId=event.spec.id,
                  job=event.spec.public_json())


@marathon_event.register
def _(event: JobDeleted) -> dict[str, Any]:
    return _event("job_deleted", event.at, jobId=event.job_id)


@marathon_event.register
def _(event: JobRunChanged) -> dict[str, Any]:
    run = event.run
    return _event("job_run_status_event", event.at, jobId=run.job_id, runId=run.run_id, status=event.status,
                  attempt=run.attempt, taskId=run.task_id, exitCode=run.exit_code, message=event.message)


@marathon_event.register
def _(event: JobRunSkipped) -> dict[str, Any]:
    return _event("job_run_skipped", event.at, jobId=event.job_id, reason=event.reason)
