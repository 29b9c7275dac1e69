"""Status updates about apps' tasks: the task record follows Mesos; a task that is gone feeds the
app's restart backoff and, if it belongs to a deployment's new config, that deployment's failures.

Only the task's own faults (``APP_FAULTS``) slow its restarts, and failures that arrive while the
app already backs off do not compound (many instances failing together is one incident); after
``stable_after`` seconds of running the backoff starts over. A lost agent or a task Mesos never
saw is replaced at once and fails no deployment.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from ..mesos_types import TERMINAL, TaskStatus
from .app_records import AppRecord, TaskFailure, TaskRecord
from .deployments import DeploymentBook
from .events import DomainEvent, HealthChanged, TaskChanged, UnhealthyTaskKilled
from .messages import Persist
from .task_index import TaskIndex

# Terminal states that are the task's own fault (as opposed to a lost agent or a task Mesos
# never knew): these grow the app's restart backoff.
APP_FAULTS = frozenset({"TASK_FAILED", "TASK_FINISHED", "TASK_ERROR", "TASK_KILLED"})


class TaskUpdates:
    """Applies status updates to app tasks (the engine has already matched the task)."""

    def __init__(self, apps: dict[str, AppRecord], index: TaskIndex, deployments: DeploymentBook,
                 clock: Callable[[], float], emit: Callable[[DomainEvent], None], stable_after: float,
                 deployment_failures: int, fail_deployment: Callable[..., None]):
        self.apps, self.index, self.deployments = apps, index, deployments
        self.clock, self.emit = clock, emit
        self.stable_after, self.deployment_failures = stable_after, deployment_failures
        self._fail_deployment = fail_deployment

    def update(self, task: TaskRecord, status: TaskStatus) -> Persist:
        """Apply ``status`` to ``task``; what to persist (empty for a duplicate)."""
        now = self.clock()
        agent_id = status.agent_id or task.agent_id
        self.emit(TaskChanged(task, status.state, status.message or "", agent_id, now, status.reason))
        if status.healthy is not None and status.healthy != task.healthy:
            self.emit(HealthChanged(task, status.healthy, now))
        if status.state == "TASK_KILLED" and status.healthy is False and not task.killing:
            # Mesos' executors mark the end of a task they killed for its health check so.
            self.emit(UnhealthyTaskKilled(task, status.message or "health check failed", agent_id, now))
        if status.state in TERMINAL:
            return self._gone(task, status, now)
        changes: dict[str, Any] = {"state": status.state, "message": task.message if status.message is None else status.message}
        if status.healthy is not None:
            changes["healthy"] = status.healthy
        if status.agent_id and status.agent_id != task.agent_id:
            changes["agent_id"] = status.agent_id
        if status.state == "TASK_RUNNING" and task.started_at is None:
            changes["started_at"] = now
        if status.state == "TASK_UNREACHABLE":
            if task.unreachable_since is None:
                changes["unreachable_since"] = now
        else:
            changes["unreachable_since"] = None
        updated = task.evolve(**changes)
        if updated == task:
            return Persist()  # a duplicate: nothing to persist
        self.index.set(updated)
        return Persist(tasks=[updated])

    def _gone(self, task: TaskRecord, status: TaskStatus, now: float) -> Persist:
        self.index.drop(task.task_id)
        persist = Persist(delete_tasks=[task.task_id])
        app = self.apps.get(task.app_id)
        if app is None or task.killing or app.deleting:
            return persist
        failure = TaskFailure(app_id=app.app_id, task_id=task.task_id, state=status.state, message=status.message or "",
                              host=task.hostname, agent_id=task.agent_id, at=now, version=app.version)
        app = replace(app, last_failure=failure)
        fault = status.state in APP_FAULTS
        deployment = self.deployments.of_app(app.app_id)
        if (deployment is not None and task.config_version == app.config_version and deployment.kind != "stop"
                and fault):  # a lost agent or failover is not the new config's fault
            why = f"{task.task_id}: {status.state}" + (f": {status.message}" if status.message else "")
            if len(deployment.failures) + 1 >= self.deployment_failures:
                self._set_app(app, persist)
                self._fail_deployment(deployment, why, persist)
                return persist
            persist.deployments.append(self.deployments.add_failure(deployment, why))
        if fault and now >= app.launch_after:
            ran = (now - task.started_at) if task.started_at is not None else 0.0
            spec = app.spec
            if app.delay <= 0 or ran >= self.stable_after:
                delay = spec.backoff_seconds
            else:
                delay = min(app.delay * spec.backoff_factor, spec.max_launch_delay_seconds)
            app = replace(app, delay=delay, launch_after=now + delay)
        self._set_app(app, persist)
        return persist

    def _set_app(self, app: AppRecord, persist: Persist) -> None:
        self.apps[app.app_id] = app
        self.index.dirty.add(app.app_id)
        persist.apps.append(app)

    def expire_unreachable(self, now: float, grace: float) -> list[TaskRecord]:
        """Tasks unreachable for ``grace`` seconds are given up on (and replaced)."""
        expired = []
        for task in list(self.index.tasks.values()):
            if task.unreachable_since is not None and not task.expired and now - task.unreachable_since >= grace:
                marked = task.evolve(expired=True)
                self.index.set(marked)
                expired.append(marked)
        return expired
