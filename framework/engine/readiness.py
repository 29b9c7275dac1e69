"""When a task counts: the one rule behind rolling upgrades (:mod:`.converge`: how many new tasks
are up, so how many old ones may go) and the end of a deployment (:meth:`.DeploymentBook.deployed`).

A task of the app's current config **counts** once

* it runs (``TASK_RUNNING``, not being killed);
* it is healthy, when the app has a health check (no result yet is not healthy);
* it is ready, when the app has a readiness check (Marathon's ``readinessChecks``, run by the
  scheduler: :mod:`.readiness_checks`);
* it has been running for ``minReadySeconds`` (Kubernetes' name), so that a command that exits at
  once, passing through ``TASK_RUNNING``, does not count. The app's own value, or else the
  scheduler-wide default (``--min-healthy-time``, 0 unless set). With 0, a task without checks
  counts as soon as it runs, as in Marathon.

A task of an older config (being replaced) still **serves** while it runs and has not failed its
health check. A task's record does not say whether its own config had a health check, so an old
task with no result yet serves (it may be one whose config had none).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..spec.app import AppSpec
from .app_records import AppRecord, TaskRecord


@dataclass(frozen=True)
class Readiness:
    """The rule at one moment: ``now`` and the scheduler-wide default of ``minReadySeconds``."""

    now: float
    default_min_ready: float = 0.0

    def min_ready_seconds(self, spec: AppSpec) -> float:
        """How long a task of ``spec`` must have run to count."""
        return spec.min_ready_seconds if spec.min_ready_seconds is not None else self.default_min_ready

    def counts(self, app: AppRecord, task: TaskRecord) -> bool:
        """``task`` is of ``app``'s current config and up: running, healthy if checked, ready, and
        running for at least ``minReadySeconds``."""
        return (task.config_version == app.config_version and task.running
                and healthy(app.spec, task) and ready(app.spec, task)
                and self.now - (task.started_at if task.started_at is not None else self.now)
                >= self.min_ready_seconds(app.spec))

    def serves(self, task: TaskRecord) -> bool:
        """An old-config ``task`` still serves: it runs and has not failed its health check."""
        return task.running and task.healthy is not False


def healthy(spec: AppSpec, task: TaskRecord) -> bool:
    """Healthy as far as the app's health check says (an app without one: always)."""
    return task.healthy is True if spec.health_checks else True


def ready(spec: AppSpec, task: TaskRecord) -> bool:
    """Ready as far as the app's readiness check says (an app without one: always). As in
    Marathon, with both checks a task counts once healthy *and* ready."""
    return task.ready is True if spec.readiness_checks else True
