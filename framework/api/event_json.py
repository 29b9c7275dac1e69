"""Marathon's event JSON for each of Halyard's domain events (``engine/events.py``,
``jobs/events.py``), as Marathon 1.5-1.10 writes it on ``/v2/events``.

One domain event may be several Marathon events (a task's new state is a ``status_update_event``
and an ``instance_changed_event``; a deployment that ends is a step's end and the deployment's).
Marathon's types are in :data:`MARATHON_TYPES`; the rest are Halyard's own, which a stream
carries only when asked for them by ``event_type`` (Marathon's clients refuse types they do not
know).

A deployment's ``plan`` has Marathon's shape: ``id``, ``version``, ``original`` and ``target``
(the groups before and after, holding the apps the deployment changes) and ``steps``;
:func:`light_plan` drops ``original`` and ``target`` (``?plan-format=light``). ``currentStep`` is a
field of the event, as in Marathon. A deployment of several apps (a group change, ``PUT /v2/apps``
with a list) is told as a whole, as Marathon tells its DeploymentPlan: a ``deployment_info`` as
each step starts, a ``deployment_step_success`` as each ends, one ``deployment_success`` or
``deployment_failed``, all with the whole plan; its apps' own deployment events are not shown.
"""
from __future__ import annotations

from functools import singledispatch
from typing import Any

from ..engine.app_records import DeploymentRecord, TaskRecord
from ..engine.domain_events import (
    MIGHT_COME_BACK,
    AgentJoined,
    AgentLeft,
    AppChanged,
    AppTerminated,
    DeploymentFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    GroupChanged,
    HealthChanged,
    PlacementFailed,
    PlanEnded,
    PlanStepChanged,
    TaskChanged,
    UnhealthyTaskKilled,
)
from ..jobs.domain_events import JobDefined, JobDeleted, JobRunChanged, JobRunSkipped
from ..spec.app import AppSpec
from ..timestamps import iso
from .app_definition import marathon_definition
from .deployments import action_json
from .tasks import ip_addresses_json

#: The event types Marathon sends (and its clients know); a stream without ``event_type`` carries
#: only these.
MARATHON_TYPES = frozenset({
    "api_post_event", "status_update_event", "framework_message_event", "subscribe_event", "unsubscribe_event",
    "add_health_check_event", "remove_health_check_event", "failed_health_check_event",
    "health_status_changed_event", "unhealthy_task_kill_event", "unhealthy_instance_kill_event",
    "group_change_success", "group_change_failed", "deployment_success", "deployment_failed", "deployment_info",
    "deployment_step_success", "deployment_step_failure", "event_stream_attached", "event_stream_detached",
    "app_terminated_event", "instance_changed_event", "unknown_instance_terminated_event",
    "instance_health_changed_event", "pod_created_event", "pod_updated_event", "pod_deleted_event",
    "scheduler_registered_event", "scheduler_reregistered_event", "scheduler_disconnected_event",
})

PLAN_EVENTS = frozenset({"deployment_info", "deployment_step_success", "deployment_step_failure",
                         "deployment_success", "deployment_failed"})

#: Mesos task states as Marathon's instance conditions (``TASK_LOST`` depends on the reason).
CONDITIONS = {"TASK_STAGING": "Staging", "TASK_STARTING": "Starting", "TASK_RUNNING": "Running",
              "TASK_KILLING": "Killing", "TASK_FINISHED": "Finished", "TASK_FAILED": "Failed",
              "TASK_KILLED": "Killed", "TASK_ERROR": "Error", "TASK_DROPPED": "Dropped",
              "TASK_UNREACHABLE": "Unreachable", "TASK_GONE": "Gone", "TASK_GONE_BY_OPERATOR": "Gone",
              "TASK_UNKNOWN": "Unknown"}


def condition(state: str, reason: str | None) -> str:
    """Marathon's instance condition for a Mesos task state (and reason, for ``TASK_LOST``)."""
    if state == "TASK_LOST":
        if reason in MIGHT_COME_BACK:   # the engine handles it as unreachable too
            return "Unreachable"
        return "Unknown" if reason == "REASON_TASK_UNKNOWN" else "Gone"
    return CONDITIONS.get(state, "Unknown")


@singledispatch
def marathon_events(event: object) -> list[dict[str, Any]]:
    """A domain event as Marathon's event JSON: a list of ``{eventType, timestamp, ...fields}``."""
    raise TypeError(f"no Marathon event for {type(event).__name__}")


def _event(event_type: str, at: float, **fields: Any) -> dict[str, Any]:
    return {"eventType": event_type, "timestamp": iso(at), **fields}


# --- deployment plans -------------------------------------------------------------------------


def group_tree(apps: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """The root group (Marathon's ``Group``: ``id``, ``apps``, ``groups``, ``pods``,
    ``dependencies``, ``version``) that holds ``apps``, each in the group its id implies."""
    root = _group("/", version)
    for app in apps:
        group = root
        parts = app["id"].strip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            group_id = "/" + "/".join(parts[:depth])
            child = next((g for g in group["groups"] if g["id"] == group_id), None)
            if child is None:
                child = _group(group_id, version)
                group["groups"].append(child)
            group = child
        group["apps"].append(app)
    return root


def _group(group_id: str, version: str) -> dict[str, Any]:
    return {"id": group_id, "apps": [], "groups": [], "pods": [], "dependencies": [], "version": version}


def _app(definition: dict | None, version: float) -> list[dict[str, Any]]:
    """A stored definition as the group's app (secrets masked), or none."""
    if definition is None:
        return []
    return [{**marathon_definition(AppSpec.model_validate(definition)), "version": iso(version)}]


def _step(deployment: DeploymentRecord) -> dict[str, Any]:
    return {"actions": [action_json(deployment)]}


def plan(deployment: DeploymentRecord) -> dict[str, Any]:
    """Marathon's ``DeploymentPlan`` of one app's deployment (see :func:`whole_plan`)."""
    return whole_plan((deployment,))


def whole_plan(records: tuple[DeploymentRecord, ...]) -> dict[str, Any]:
    """The ``DeploymentPlan`` of a deployment of several apps: every app's before and after, one
    step per step of its records."""
    version = iso(min(r.version for r in records))
    steps: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        steps.setdefault(r.step or 0, []).append(action_json(r))
    return {"id": records[0].id,
            "original": group_tree([a for r in records for a in _app(r.previous, r.version)], version),
            "target": group_tree([a for r in records for a in _app(r.target, r.version)], version),
            "steps": [{"actions": steps[n]} for n in sorted(steps)], "version": version}


def _plan_step(records: tuple[DeploymentRecord, ...], step: int) -> dict[str, Any]:
    return {"actions": [action_json(r) for r in records if (r.step or 0) == step]}


def light_plan(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with its plan as ``?plan-format=light`` has it: no ``original``, no ``target``."""
    if event["eventType"] not in PLAN_EVENTS:
        return event
    return {**event, "plan": {k: v for k, v in event["plan"].items() if k not in ("original", "target")}}


# --- apps and deployments ---------------------------------------------------------------------


@marathon_events.register
def _app_changed(event: AppChanged) -> list[dict[str, Any]]:
    if event.client_ip is not None:
        return []  # asked through the API: that request's audit record is its api_post_event (api/audit.py)
    return [_event("api_post_event", event.at, clientIp=event.client_ip, uri=event.uri or f"/v2/apps{event.spec.id}",
                   appDefinition=marathon_definition(event.spec))]


@marathon_events.register
def _app_terminated(event: AppTerminated) -> list[dict[str, Any]]:
    return [_event("app_terminated_event", event.at, appId=event.app_id)]


@marathon_events.register
def _deployment_started(event: DeploymentStarted) -> list[dict[str, Any]]:
    d = event.deployment
    if d.step is not None:
        return []  # a deployment of several apps: told as a whole (PlanStepChanged, PlanEnded)
    return [_event("deployment_info", event.at, plan=plan(d), currentStep=_step(d))]


@marathon_events.register
def _deployment_succeeded(event: DeploymentSucceeded) -> list[dict[str, Any]]:
    d = event.deployment
    if d.step is not None:
        return []
    the_plan = plan(d)
    return [_event("deployment_step_success", event.at, plan=the_plan, currentStep=_step(d)),
            _event("deployment_success", event.at, id=d.id, plan=the_plan)]


@marathon_events.register
def _deployment_failed(event: DeploymentFailed) -> list[dict[str, Any]]:
    """Failed: the step failed, then the deployment; cancelled: the deployment only (as Marathon).
    ``reason`` says why; Halyard adds ``status`` and ``failures``."""
    d = event.deployment
    if d.step is not None:
        return []
    the_plan = plan(d)
    reason = "; ".join(d.failures) or d.status
    step = ([_event("deployment_step_failure", event.at, plan=the_plan, currentStep=_step(d))]
            if d.status == "failed" else [])
    return step + [_event("deployment_failed", event.at, id=d.id, plan=the_plan, reason=reason, status=d.status,
                          failures=list(d.failures))]


PLAN_STEP_EVENTS = {"started": "deployment_info", "succeeded": "deployment_step_success",
                    "failed": "deployment_step_failure"}


@marathon_events.register
def _plan_step_changed(event: PlanStepChanged) -> list[dict[str, Any]]:
    return [_event(PLAN_STEP_EVENTS[event.outcome], event.at, plan=whole_plan(event.records),
                   currentStep=_plan_step(event.records, event.step))]


@marathon_events.register
def _plan_ended(event: PlanEnded) -> list[dict[str, Any]]:
    """The whole deployment's end; failed or cancelled: ``reason`` (and Halyard's ``status`` and
    ``failures``) as for one app's."""
    records = event.records
    the_plan = whole_plan(records)
    if event.status == "succeeded":
        return [_event("deployment_success", event.at, id=records[0].id, plan=the_plan)]
    failures = [f for r in records for f in r.failures]
    return [_event("deployment_failed", event.at, id=records[0].id, plan=the_plan,
                   reason="; ".join(failures) or event.status, status=event.status, failures=failures)]


@marathon_events.register
def _group_changed(event: GroupChanged) -> list[dict[str, Any]]:
    if event.reason is None:
        return [_event("group_change_success", event.at, groupId=event.group_id, version=iso(event.version))]
    return [_event("group_change_failed", event.at, groupId=event.group_id, version=iso(event.version),
                   reason=event.reason)]


# --- tasks ------------------------------------------------------------------------------------


@marathon_events.register
def _task_changed(event: TaskChanged) -> list[dict[str, Any]]:
    """Every update is a ``status_update_event``; a new state is also an ``instance_changed_event``."""
    task: TaskRecord = event.task
    version = iso(task.config_version)
    agent_id = event.agent_id or task.agent_id
    update = _event("status_update_event", event.at, slaveId=agent_id, taskId=task.task_id,
                    taskStatus=event.state, message=event.message, appId=task.app_id, host=task.hostname,
                    ipAddresses=ip_addresses_json(event.ip_addresses, task.hostname), ports=list(task.ports),
                    version=version)
    if event.state == task.state:
        return [update]
    return [update, _event("instance_changed_event", event.at, instanceId=task.task_id,
                           condition=condition(event.state, event.reason), runSpecId=task.app_id,
                           agentId=agent_id, host=task.hostname, runSpecVersion=version)]


@marathon_events.register
def _health_changed(event: HealthChanged) -> list[dict[str, Any]]:
    task = event.task
    version = iso(task.config_version)
    return [_event("health_status_changed_event", event.at, appId=task.app_id, taskId=task.task_id,
                   instanceId=task.task_id, version=version, alive=event.alive),
            _event("instance_health_changed_event", event.at, instanceId=task.task_id, runSpecId=task.app_id,
                   healthy=event.alive, runSpecVersion=version)]


@marathon_events.register
def _unhealthy_task_killed(event: UnhealthyTaskKilled) -> list[dict[str, Any]]:
    """Marathon's name before 1.4 and its name since: consumers of either see it."""
    task = event.task
    fields = dict(appId=task.app_id, taskId=task.task_id, instanceId=task.task_id,
                  version=iso(task.config_version), reason=event.reason, host=task.hostname, slaveId=event.agent_id)
    return [_event("unhealthy_task_kill_event", event.at, **fields),
            _event("unhealthy_instance_kill_event", event.at, **fields)]


# --- Halyard's own ----------------------------------------------------------------------------


@marathon_events.register
def _placement_failed(event: PlacementFailed) -> list[dict[str, Any]]:
    """Marathon has no event for a placement strategy that failed."""
    ids = {"appId": event.id} if event.kind == "app" else {"jobId": event.id, "runId": event.run_id}
    return [_event("placement_failed_event", event.at, **ids, reason=event.reason)]


@marathon_events.register
def _job_defined(event: JobDefined) -> list[dict[str, Any]]:
    return [_event("job_created" if event.created else "job_updated", event.at, jobId=event.spec.id,
                   job=event.spec.public_json())]


@marathon_events.register
def _job_deleted(event: JobDeleted) -> list[dict[str, Any]]:
    return [_event("job_deleted", event.at, jobId=event.job_id)]


@marathon_events.register
def _job_run_changed(event: JobRunChanged) -> list[dict[str, Any]]:
    run = event.run
    return [_event("job_run_status_event", event.at, jobId=run.job_id, runId=run.run_id, status=event.status,
                   attempt=run.attempt, taskId=run.task_id, exitCode=run.exit_code, message=event.message)]


@marathon_events.register
def _job_run_skipped(event: JobRunSkipped) -> list[dict[str, Any]]:
    return [_event("job_run_skipped", event.at, jobId=event.job_id, reason=event.reason)]


@marathon_events.register
def _agent_joined(event: AgentJoined) -> list[dict[str, Any]]:
    return [_event("agent_added_event", event.at, agentId=event.agent_id, host=event.hostname)]


@marathon_events.register
def _agent_left(event: AgentLeft) -> list[dict[str, Any]]:
    return [_event("agent_removed_event", event.at, agentId=event.agent_id, host=event.hostname)]
