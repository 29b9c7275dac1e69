"""Commands about apps (from the API): create or change, restart, delete, cancel a deployment,
reset a backoff, kill tasks. Each command checks every id it names, and every conflict, before
it changes anything: a refused command changes nothing."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional

from ..errors import ConflictError, NotFoundError
from ..model import AppSpec
from ..placement import StrategyRegistry
from .app_records import AppRecord, DeploymentRecord
from .deployments import DeploymentBook
from .events import AppChanged, DomainEvent
from .messages import (CancelDeployment, DeleteApp, Instruction, KillTasks, Persist, PutApp, ResetDelay,
                       RestartApp)
from .reconcile import Reconciler
from .task_index import TaskIndex


class AppCommands:
    """The desired state's writers: each command returns what to persist and send."""

    def __init__(self, apps: dict[str, AppRecord], index: TaskIndex, deployments: DeploymentBook,
                 reconciler: Reconciler, registry: StrategyRegistry, clock: Callable[[], float],
                 emit: Callable[[DomainEvent], None]):
        self.apps, self.index, self.deployments, self.reconciler = apps, index, deployments, reconciler
        self.registry, self.clock, self.emit = registry, clock, emit

    def app(self, app_id: str) -> AppRecord:
        app = self.apps.get(app_id)
        if app is None:
            raise NotFoundError(f"App '{app_id}' does not exist")
        return app

    def check_strategy(self, spec: object) -> None:
        """A strategy that does not exist, or refuses its args, is bad input now, not a failed offer cycle later."""
        strategy = getattr(spec, "strategy", None)
        if strategy is not None:
            self.registry.create(strategy)

    def set_app(self, app: AppRecord, persist: Persist) -> None:
        self.apps[app.app_id] = app
        self.index.dirty.add(app.app_id)
        persist.apps.append(app)

    # --- commands -----------------------------------------------------------------------------

    def put(self, event: PutApp) -> list[Instruction]:
        persist = Persist()
        self._put(event.spec, persist, restart=event.restart, deployment_id=event.deployment_id, force=event.force)
        self.emit(AppChanged(event.spec, self.clock(), event.client_ip, event.uri))
        return [persist]

    def restart(self, event: RestartApp) -> list[Instruction]:
        return self.put(PutApp(self.app(event.app_id).spec, restart=True, deployment_id=event.deployment_id,
                               force=event.force))

    def delete(self, event: DeleteApp) -> list[Instruction]:
        app = self.app(event.app_id)
        self.deployments.check_free(app.app_id, event.force)
        persist = Persist()
        self.deployments.start(app.app_id, "stop", app.spec.to_json(), event.deployment_id, event.force, persist)
        self.set_app(replace(app, deleting=True, version=self.clock()), persist)
        return [persist]

    def cancel(self, event: CancelDeployment) -> list[Instruction]:
        deployment = self.deployments.running.get(event.deployment_id)
        if deployment is None:
            raise NotFoundError(f"DeploymentPlan {event.deployment_id} does not exist")
        if deployment.kind == "stop" and not event.force:
            raise ConflictError(f"Deployment {deployment.id} destroys app '{deployment.app_id}', which cannot be "
                                f"rolled back; cancel it with '?force=true' to leave the app as it is",
                                deployment_id=deployment.id)
        persist = Persist()
        if event.force:
            self.deployments.end(deployment.app_id, "cancelled", persist)
        else:
            self.fail_deployment(deployment, "cancelled: rolled back", persist, status="cancelled",
                                 rollback_id=event.rollback_id)
        return [persist]

    def reset_delay(self, event: ResetDelay) -> list[Instruction]:
        persist = Persist()
        self.set_app(replace(self.app(event.app_id), delay=0.0, launch_after=0.0), persist)
        return [persist]

    def kill_tasks(self, event: KillTasks) -> list[Instruction]:
        app = self.app(event.app_id)
        tasks = [self.index.get(task_id) for task_id in event.task_ids]
        for task_id, task in zip(event.task_ids, tasks):  # every id first: all or nothing
            if task is None or task.app_id != app.app_id:
                raise NotFoundError(f"Task '{task_id}' does not exist")
        persist = Persist()
        out: list[Instruction] = []
        now = self.clock()
        for task in tasks:
            assert task is not None
            if not task.killing:
                marked = task.evolve(killing=True)
                self.index.set(marked)
                persist.tasks.append(marked)
                out.append(self.reconciler.kill(task.task_id, task.agent_id, now))
        if event.scale:
            spec = app.spec.model_copy(update={"instances": max(0, app.spec.instances - len(event.task_ids))})
            self.set_app(replace(app, spec=spec, version=now), persist)
        return ([persist] if persist else []) + out

    # --- changing an app, and rolling back ----------------------------------------------------

    def _put(self, spec: AppSpec, persist: Persist, restart: bool = False, kind: Optional[str] = None,
             deployment_id: Optional[str] = None, force: bool = False) -> None:
        self.check_strategy(spec)
        old = self.apps.get(spec.id)
        if old is not None and old.deleting:
            raise ConflictError(f"App '{spec.id}' is being deleted")
        self.deployments.check_free(spec.id, force)
        # Versions strictly increase, so tasks of an older config never pass for the new one.
        now = self.clock() if old is None else max(self.clock(), old.version + 0.001)
        if old is None:
            record, default_kind = AppRecord(spec=spec, version=now, config_version=now), "start"
        elif spec == old.spec and not restart:
            record, default_kind = old, "deploy"  # nothing changes: a deployment that is done at once
        elif spec.model_copy(update={"instances": old.spec.instances}) == old.spec and not restart:
            record, default_kind = replace(old, spec=spec, version=now), "scale"  # tasks stay
        else:
            record = replace(old, spec=spec, version=now, config_version=now, delay=0.0, launch_after=0.0)
            default_kind = "restart" if restart else "deploy"
        self.deployments.start(spec.id, kind or default_kind, old.spec.to_json() if old else None, deployment_id,
                               force, persist, target=spec.to_json())
        self.set_app(record, persist)

    def fail_deployment(self, deployment: DeploymentRecord, reason: str, persist: Persist,
                        status: str = "failed", rollback_id: Optional[str] = None) -> None:
        """End a deployment and put the app back as it was before it (a new app is removed)."""
        self.deployments.add_failure(deployment, reason)
        self.deployments.end(deployment.app_id, status, persist)
        app = self.apps.get(deployment.app_id)
        if app is None or deployment.kind in ("rollback", "stop"):
            return  # nothing to roll back to, the rollback itself failed, or a destroy (not undone): leave it
        if deployment.previous is None:
            self.deployments.start(app.app_id, "rollback", app.spec.to_json(), rollback_id, True, persist)
            self.set_app(replace(app, deleting=True, version=self.clock()), persist)
        else:
            self._put(AppSpec.model_validate(deployment.previous), persist, kind="rollback",
                      deployment_id=rollback_id, force=True)
