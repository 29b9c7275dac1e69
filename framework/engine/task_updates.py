"""Status updates about apps' tasks: the task record follows Mesos; a task that is gone feeds the
app's restart backoff and, if it belongs to a deployment's new config, that deployment's failures.

Only the task's own faults (``APP_FAULTS``) slow its restarts, and failures that arrive while the
app already backs off do not compound (many instances failing together is one incident); after
``stable_after`` seconds of running the backoff starts over. A lost agent or a task Mesos never
saw is replaced at once and fails no deployment; a launch its agent refuses (``TASK_DROPPED`` for
a reason other than the master's passing ones) is the app's fault.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..cluster.mesos_types import TERMINAL, TaskStatus
from .app_records import AppRecord, TaskFailure, TaskRecord
from .deployments import DeploymentBook
from .domain_events import MIGHT_COME_BACK, DomainEvent, HealthChanged, TaskChanged, UnhealthyTaskKilled
from .messages import Persist
from .task_health import TaskHealth, is_check_result
from .task_index import TaskIndex

# Terminal states that are the task's own fault (as opposed to a lost agent or a task Mesos
# never knew): these grow the app's restart backoff.
APP_FAULTS = frozenset({"TASK_FAILED", "TASK_FINISHED", "TASK_ERROR", "TASK_KILLED"})
# Why the master drops a launch for reasons that pass (offers no longer valid, an agent gone):
# not the app's fault. A launch its agent refuses (TASK_DROPPED with another reason, e.g. resource
# limits on an agent without the cgroups isolators) is, or it would be relaunched without end.
TRANSIENT_DROPS = frozenset({"REASON_INVALID_OFFERS", "REASON_RECONCILIATION", "REASON_AGENT_REMOVED",
                             "REASON_AGENT_UNKNOWN", "REASON_AGENT_DISCONNECTED", "REASON_AGENT_RESTARTED",
                             "REASON_AGENT_REREGISTERED", "REASON_MASTER_DISCONNECTED", "REASON_FRAMEWORK_REMOVED",
                             "REASON_TASK_UNKNOWN"})


def is_fault(task: TaskRecord, status: TaskStatus) -> bool:
    """Whether a task's end is its app's own fault (it grows the backoff, fails deployments)."""
    if status.state == "TASK_DROPPED":
        return task.started_at is None and status.reason is not None and status.reason not in TRANSIENT_DROPS
    return status.state in APP_FAULTS


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
        self.emit(TaskChanged(task, status.state, status.message or "", agent_id, now, status.reason,
                              status.ip_addresses or task.ip_addresses))
        if status.state == "TASK_LOST" and status.reason in MIGHT_COME_BACK:
            status = replace(status, state="TASK_UNREACHABLE")
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
        if is_check_result(status.healthy, status.reason, task.healthy):
            assert status.healthy is not None
            cause = None if status.healthy else status.message
            changes["health"] = (task.health or TaskHealth()).observe(status.healthy, now, cause)
        if status.agent_id and status.agent_id != task.agent_id:
            changes["agent_id"] = status.agent_id
        if status.check is not None:
            changes["check"] = status.check
        if status.ip_addresses:
            changes["ip_addresses"] = status.ip_addresses
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
        if status.reason == "REASON_RECONCILIATION" and updated.evolve(message=task.message) == task:
            # The master's answer to reconciliation, saying only what is known ("Reconciliation:
            # Latest task state"): nothing changes, nothing is written (a failover's 50,000 answers
            # are not 50,000 writes).
            return Persist()
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
        fault = is_fault(task, status)
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

    def expire_unreachable(self, now: float, grace: float) -> tuple[list[TaskRecord], list[str]]:
        """Apply each app's ``unreachableStrategy`` to its unreachable tasks: those unreachable for
        ``inactiveAfterSeconds`` are given up on (and replaced), those unreachable for
        ``expungeAfterSeconds`` are forgotten (killed should they come back); ``"disabled"``: never
        either. An app without a strategy: given up on after ``grace``, never forgotten. Returns
        the tasks given up on and the ids of those forgotten."""
        expired: list[TaskRecord] = []
        expunged: list[str] = []
        for task in list(self.index.tasks.values()):
            if task.unreachable_since is None:
                continue
            inactive, expunge = self._unreachable_limits(task.app_id, grace)
            gone_for = now - task.unreachable_since
            if expunge is not None and gone_for >= expunge:
                self.index.drop(task.task_id)
                self.index.dirty.add(task.app_id)
                expunged.append(task.task_id)
            elif inactive is not None and gone_for >= inactive and not task.expired:
                marked = task.evolve(expired=True)
                self.index.set(marked)
                expired.append(marked)
        return expired, expunged

    def _unreachable_limits(self, app_id: str, grace: float) -> tuple[float | None, float | None]:
        """(seconds until replaced, seconds until forgotten) for an app's unreachable task."""
        app = self.apps.get(app_id)
        strategy = app.spec.unreachable_strategy if app is not None else None
        if strategy is None:
            return grace, None
        if strategy.disabled:
            return None, None
        return float(strategy.inactive_after_seconds or 0), float(strategy.expunge_after_seconds or 0)
