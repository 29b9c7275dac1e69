"""Deployments: one change of one app under way, until it succeeds, fails or is cancelled.

* A deployment succeeds when every instance of the app's current config counts (runs, is healthy
  if the app has a health check, has run ``minReadySeconds``: :mod:`.readiness`) and nothing else
  of the app is left (see :meth:`DeploymentBook.deployed`). Without checks and
  ``minReadySeconds``, that is as soon as the tasks run, as in Marathon.
* It fails after ``failures_allowed`` faults of tasks of the new config, or ``timeout`` seconds;
  the engine then rolls the app back (a new app is removed).
* One deployment per app: another change of the app is a conflict unless forced, which cancels
  the one under way.
"""
from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Callable, Iterable, Optional

from ..errors import ConflictError
from .app_records import AppRecord, DeploymentRecord, TaskRecord
from .events import DeploymentFailed, DeploymentStarted, DeploymentSucceeded, DomainEvent
from .messages import Persist
from .readiness import Readiness

KEEP_FINISHED = 200  # ended deployments kept for GET /v2/deployments/{id}


class DeploymentBook:
    """Deployments under way (one per app) and the recently ended ones."""

    def __init__(self, clock: Callable[[], float], new_id: Callable[[], str], emit: Callable[[DomainEvent], None]):
        self.clock, self.new_id, self.emit = clock, new_id, emit
        self.running: dict[str, DeploymentRecord] = {}
        self.finished: deque[DeploymentRecord] = deque(maxlen=KEEP_FINISHED)  # newest last

    def load(self, deployments: Iterable[DeploymentRecord]) -> None:
        self.running = {d.id: d for d in deployments}

    def of_app(self, app_id: str) -> Optional[DeploymentRecord]:
        return next((d for d in self.running.values() if d.app_id == app_id), None)

    def check_free(self, app_id: str, force: bool) -> None:
        """Raise ConflictError (naming the deployment) if one holds the app and ``force`` is not set."""
        current = self.of_app(app_id)
        if current is not None and not force:
            raise ConflictError(f"App is locked by one or more deployments. Override with the option "
                                f"'?force=true'. View details at '/v2/deployments/{current.id}'.",
                                deployment_id=current.id)

    def start(self, app_id: str, kind: str, previous: Optional[dict], deployment_id: Optional[str], force: bool,
              persist: Persist) -> DeploymentRecord:
        """Start a deployment of ``app_id`` (cancelling the one under way if ``force``)."""
        self.check_free(app_id, force)
        if self.of_app(app_id) is not None:
            self.end(app_id, "cancelled", persist)
        now = self.clock()
        record = DeploymentRecord(id=deployment_id or self.new_id(), app_id=app_id, kind=kind, version=now,
                                  started_at=now, previous=previous)
        self.running[record.id] = record
        persist.deployments.append(record)
        self.emit(DeploymentStarted(record, now))
        return record

    def end(self, app_id: str, status: str, persist: Persist) -> Optional[DeploymentRecord]:
        """End the app's deployment (if any) as ``status``: succeeded, failed or cancelled."""
        current = self.of_app(app_id)
        if current is None:
            return None
        del self.running[current.id]
        ended = replace(current, status=status)
        self.finished.append(ended)
        self.emit(DeploymentSucceeded(ended, self.clock()) if status == "succeeded"
                  else DeploymentFailed(ended, self.clock()))
        persist.delete_deployments.append(current.id)
        persist.deployments[:] = [d for d in persist.deployments if d.id != current.id]
        return ended

    def add_failure(self, deployment: DeploymentRecord, why: str) -> DeploymentRecord:
        """Record one more failure of the deployment; the caller persists the result."""
        updated = replace(deployment, failures=deployment.failures + (why,))
        self.running[updated.id] = updated
        return updated

    def deployed(self, app: AppRecord, tasks: list[TaskRecord], pending: int, readiness: Readiness) -> bool:
        """Every instance of the current config counts (``readiness``); nothing else is left."""
        if any(t.killing or (t.live and t.config_version != app.config_version) for t in tasks):
            return False
        return sum(1 for t in tasks if readiness.counts(app, t)) == app.spec.instances and pending == 0
