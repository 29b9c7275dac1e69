"""Deployments: one change of one app under way, until it succeeds, fails or is cancelled.

* A deployment succeeds when every instance of the app's current config counts (runs, is healthy
  if the app has a health check, has run ``minReadySeconds``: :mod:`.readiness`) and nothing else
  of the app is left (see :meth:`DeploymentBook.deployed`). Without checks and
  ``minReadySeconds``, that is as soon as the tasks run, as in Marathon.
* It fails after ``failures_allowed`` faults of tasks of the new config, or ``timeout`` seconds;
  the engine then rolls the app back (a new app is removed).
* One deployment per app: another change of the app is a conflict unless forced, which cancels
  the one under way.
* Ended deployments are history: the last ``KEEP_PER_APP`` of each app (and ``KEEP_TOTAL`` in
  all) are persisted with their result, so ``GET /v2/deployments/{id}`` answers across a failover.
* A deployment of several apps (a group change: Marathon's DeploymentPlan) is one record per app
  sharing the deployment's id, each in a step; the apps of a step start when every app of the
  steps before has succeeded (:meth:`DeploymentBook.end` releases the next step). One app failing
  fails the whole deployment (see ``AppCommands.fail_deployment``). Such a deployment is also
  told as a whole (Marathon's events): :meth:`DeploymentBook.begin` and each released step emit
  ``PlanStepChanged(started)``; a step whose apps all succeeded ``PlanStepChanged(succeeded)``;
  the end of its last app ``PlanEnded`` (after ``PlanStepChanged(failed)`` if it failed).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from typing import Any

from ..errors import ConflictError
from .app_records import AppRecord, DeploymentRecord, TaskRecord
from .domain_events import DeploymentFailed, DeploymentStarted, DeploymentSucceeded, DomainEvent, PlanEnded, PlanStepChanged
from .messages import Persist
from .readiness import Readiness

#: Kinds of deployment that a cancel or a failure does not roll back: a rollback (it is the undoing),
#: a destroy (never undone), a rebalance or a drain (its app's definition never changed).
NOT_ROLLED_BACK = frozenset({"rollback", "stop", "rebalance", "drain"})
KEEP_PER_APP = 100   # ended deployments kept per app (persisted) for GET /v2/deployments/{id}
KEEP_TOTAL = 2000    # ... and in all (apps come and go)


class RunningDeployments(dict[str, DeploymentRecord]):
    """The deployments under way by key, and each app's at hand (``of_app`` is asked after every
    status update: a scan was as long as the list of deployments, 500 of them in a group's
    deployment). As the scan did, an app's is the first one set of those still running."""

    def __init__(self, records: Iterable[DeploymentRecord] = ()):
        super().__init__()
        self._of_app: dict[str, str] = {}   # app id -> key
        for record in records:
            self[record.key] = record

    def __setitem__(self, key: str, record: DeploymentRecord) -> None:
        before = self.get(key)
        super().__setitem__(key, record)
        if before is not None and before.app_id != record.app_id:   # never in the engine: a key names one app
            self._rescan(before.app_id)
            self._rescan(record.app_id)
        elif self._of_app.get(record.app_id) not in self:
            self._of_app[record.app_id] = key

    def __delitem__(self, key: str) -> None:
        app_id = self[key].app_id
        super().__delitem__(key)
        if self._of_app.get(app_id) == key:
            self._rescan(app_id)   # another of the app's: never, one per app

    def _rescan(self, app_id: str) -> None:
        first = next((k for k, d in self.items() if d.app_id == app_id), None)
        if first is None:
            self._of_app.pop(app_id, None)
        else:
            self._of_app[app_id] = first

    def pop(self, key: str, *default: Any) -> Any:
        if key not in self:
            return super().pop(key, *default)
        record = self[key]
        del self[key]
        return record

    def clear(self) -> None:
        super().clear()
        self._of_app.clear()

    def of_app(self, app_id: str) -> DeploymentRecord | None:
        key = self._of_app.get(app_id)
        return None if key is None else self[key]


class DeploymentBook:
    """Deployments under way (one per app) and the recently ended ones."""

    def __init__(self, clock: Callable[[], float], new_id: Callable[[], str], emit: Callable[[DomainEvent], None],
                 touch: Callable[[str], None] = lambda app_id: None):
        self.clock, self.new_id, self.emit = clock, new_id, emit
        self.touch = touch  # an app whose step came: converge it
        self.running = RunningDeployments()                   # by key
        self._ended: dict[str, DeploymentRecord] = {}        # by key, oldest first
        self._ended_of: dict[str, deque[str]] = {}           # app id -> keys of its ended ones, oldest first

    @property
    def finished(self) -> list[DeploymentRecord]:
        """Ended deployments, oldest first."""
        return list(self._ended.values())

    def ended(self, deployment_id: str) -> DeploymentRecord | None:
        return self._ended.get(deployment_id)

    def plan(self, deployment_id: str) -> list[DeploymentRecord]:
        """Every record of a deployment (one per app it changes), running or ended, by step."""
        found = [d for d in self.running.values() if d.id == deployment_id]
        found += [d for d in self._ended.values() if d.id == deployment_id]
        return sorted(found, key=lambda d: (d.step or 0, d.app_id))

    def load(self, deployments: Iterable[DeploymentRecord]) -> None:
        records = list(deployments)
        self.running = RunningDeployments(d for d in records if not d.ended)
        self._ended, self._ended_of = {}, {}
        for d in sorted((d for d in records if d.ended), key=lambda d: (d.ended_at or d.version, d.id)):
            self._keep(d, None)

    def of_app(self, app_id: str) -> DeploymentRecord | None:
        return self.running.of_app(app_id)

    def check_free(self, app_id: str, force: bool) -> None:
        """Raise ConflictError (naming the deployment) if one holds the app and ``force`` is not set."""
        current = self.of_app(app_id)
        if current is not None and not force:
            raise ConflictError(f"App is locked by one or more deployments. Override with the option "
                                f"'?force=true'. View details at '/v2/deployments/{current.id}'.",
                                deployment_id=current.id)

    def start(self, app_id: str, kind: str, previous: dict | None, deployment_id: str | None, force: bool,
              persist: Persist, step: int | None = None, held: bool = False,
              previous_config_version: float | None = None, target: dict | None = None) -> DeploymentRecord:
        """Start a deployment of ``app_id`` from ``previous`` to ``target`` (definitions; None: no
        app), cancelling the one under way if ``force`` (and with it the rest of its deployment if
        that changed several apps); ``step`` and ``held`` for an app's part of a deployment of several."""
        self.check_free(app_id, force)
        current = self.of_app(app_id)
        if current is not None:
            for other in self.running_of(current.id):
                self.end(other.app_id, "cancelled", persist, advance=False)
        now = self.clock()
        record = DeploymentRecord(id=deployment_id or self.new_id(), app_id=app_id, kind=kind, version=now,
                                  started_at=now, previous=previous, step=step, held=held,
                                  previous_config_version=previous_config_version, target=target)
        self.running[record.key] = record
        persist.deployments.append(record)
        if not held:
            self.emit(DeploymentStarted(record, now))
        return record

    def running_of(self, deployment_id: str) -> list[DeploymentRecord]:
        """The records of a deployment still running (held ones too), by step."""
        return sorted((d for d in self.running.values() if d.id == deployment_id), key=lambda d: (d.step or 0, d.app_id))

    def end(self, app_id: str, status: str, persist: Persist, advance: bool = True) -> DeploymentRecord | None:
        """End the app's deployment (if any) as ``status``: succeeded, failed or cancelled. With
        ``advance``, the end of the last app of a step starts the next step of its deployment."""
        current = self.of_app(app_id)
        if current is None:
            return None
        del self.running[current.key]
        now = self.clock()
        ended = replace(current, status=status, ended_at=now, held=False)
        self.emit(DeploymentSucceeded(ended, now) if status == "succeeded" else DeploymentFailed(ended, now))
        persist.deployments[:] = [d for d in persist.deployments if d.key != current.key] + [ended]
        self._keep(ended, persist)
        if current.held:
            self.touch(app_id)  # no longer held: its app converges to what it was given
        if current.step is not None:
            self._plan_progress(current, ended, now)
        if advance and current.step is not None:
            self._next_step(current.id, persist)
        return ended

    def forget(self, app_id: str, persist: Persist) -> None:
        """The app is gone: its deployment under way (the stop that removed it) has succeeded. Its
        ended deployments stay in the history."""
        self.end(app_id, "succeeded", persist)

    def begin(self, deployment_id: str) -> None:
        """A deployment of several apps has all its records: its first step starts (as a whole)."""
        left = [d for d in self.running_of(deployment_id) if not d.held]
        if left and left[0].step is not None:
            self.emit(PlanStepChanged(tuple(self.plan(deployment_id)), left[0].step, "started", self.clock()))

    def _plan_progress(self, current: DeploymentRecord, ended: DeploymentRecord, now: float) -> None:
        """After an app of a deployment of several ended: its step's end, the deployment's end."""
        left = self.running_of(current.id)
        if ended.status == "succeeded" and not current.held and not any(d.step == current.step for d in left):
            self.emit(PlanStepChanged(tuple(self.plan(current.id)), current.step or 0, "succeeded", now))
        if left:
            return
        records = tuple(self.plan(current.id))
        status = next((d.status for d in records if d.status != "succeeded"), "succeeded")
        if status == "failed":
            step = min((d.step or 0 for d in records if d.status == "failed"), default=current.step or 0)
            self.emit(PlanStepChanged(records, step, "failed", now))
        self.emit(PlanEnded(records, status, now))

    def _next_step(self, deployment_id: str, persist: Persist) -> None:
        """When no app of a deployment is under way, release its next step's apps."""
        left = self.running_of(deployment_id)
        if not left or any(not d.held for d in left):
            return
        step = min(d.step or 0 for d in left)
        now = self.clock()
        for record in left:
            if record.step == step:
                released = replace(record, held=False, started_at=now)
                self.running[released.key] = released
                persist.deployments[:] = [d for d in persist.deployments if d.key != released.key] + [released]
                self.emit(DeploymentStarted(released, now))
                self.touch(released.app_id)
        self.emit(PlanStepChanged(tuple(self.plan(deployment_id)), step, "started", now))

    def _keep(self, ended: DeploymentRecord, persist: Persist | None) -> None:
        """Remember an ended deployment; forget (and delete) the oldest beyond the bounds."""
        self._ended[ended.key] = ended
        ids = self._ended_of.setdefault(ended.app_id, deque())
        ids.append(ended.key)
        drop = [ids.popleft() for _ in range(max(0, len(ids) - KEEP_PER_APP))]
        while len(self._ended) - len(drop) > KEEP_TOTAL:
            oldest = next(i for i in self._ended if i not in drop)
            self._ended_of[self._ended[oldest].app_id].remove(oldest)
            drop.append(oldest)
        for deployment_id in drop:
            app_id = self._ended.pop(deployment_id).app_id
            if not self._ended_of.get(app_id):
                self._ended_of.pop(app_id, None)
            if persist is not None:
                persist.deployments[:] = [d for d in persist.deployments if d.key != deployment_id]
                persist.delete_deployments.append(deployment_id)

    def note(self, record: DeploymentRecord, text: str, persist: Persist) -> DeploymentRecord:
        """Add what became of one move to a (rebalance) deployment, and persist it."""
        current = self.running.get(record.key, record)
        updated = replace(current, moves=current.moves + (text,))
        if updated.key in self.running:
            self.running[updated.key] = updated
        persist.deployments[:] = [d for d in persist.deployments if d.key != updated.key] + [updated]
        return updated

    def add_failure(self, deployment: DeploymentRecord, why: str) -> DeploymentRecord:
        """Record one more failure of the deployment; the caller persists the result."""
        updated = replace(deployment, failures=deployment.failures + (why,))
        self.running[updated.key] = updated
        return updated

    def deployed(self, app: AppRecord, tasks: list[TaskRecord], pending: int, readiness: Readiness,
                 leaving: Collection[str] = ()) -> bool:
        """Every instance of the current config counts (``readiness``); nothing else is left, nor
        on an agent being drained (``leaving``). A rebalance is never done by its instances: its
        moves (``MoveRunner``) end it."""
        deployment = self.of_app(app.app_id)
        if deployment is not None and deployment.kind == "rebalance":
            return False
        if any(t.killing or (t.live and (t.config_version != app.config_version or t.agent_id in leaving))
               for t in tasks):
            return False
        return sum(1 for t in tasks if readiness.counts(app, t)) == app.spec.instances and pending == 0
