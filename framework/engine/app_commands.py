"""Commands about apps (from the API): create or change, restart, delete, cancel a deployment,
reset a backoff, kill tasks. Each command checks every id it names, and every conflict, before
it changes anything: a refused command changes nothing."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..errors import ConflictError, NotFoundError, ValidationError
from ..placement import StrategyRegistry
from ..spec.app import AppSpec
from .app_records import AppRecord, DeploymentRecord
from .app_versions import VersionBook
from .deployments import NOT_ROLLED_BACK, DeploymentBook
from .domain_events import AppChanged, DomainEvent
from .messages import CancelDeployment, DeleteApp, Instruction, KillTasks, Persist, PutApp, ResetDelay, RestartApp
from .reconcile import Reconciler
from .service_ports import PortOwner, PortRange, assign_service_ports
from .task_index import TaskIndex


def change_kind(old: AppSpec | None, new: AppSpec, restart: bool = False) -> str:
    """What changing an app's definition from ``old`` (None: a new app) to ``new`` is, as the kind
    of its deployment: ``start`` (a new app), ``restart`` (asked for), ``scale`` (only
    ``instances`` changes: the tasks stay), else ``deploy`` (a config change replaces the tasks; a
    change to the same definition is a ``deploy`` that is done at once)."""
    if old is None:
        return "start"
    if restart:
        return "restart"
    if new != old and new.model_copy(update={"instances": old.instances}) == old:
        return "scale"
    return "deploy"


class AppCommands:
    """The desired state's writers: each command returns what to persist and send.

    ``check_dependencies`` refuses a put that would close a cycle of dependencies (the graph is
    ``deployment_plans.py``'s, whose ``PlanCommands`` is built over these commands)."""

    def __init__(self, apps: dict[str, AppRecord], index: TaskIndex, deployments: DeploymentBook,
                 reconciler: Reconciler, registry: StrategyRegistry, clock: Callable[[], float],
                 emit: Callable[[DomainEvent], None], service_ports: PortRange = PortRange(),
                 versions: VersionBook | None = None, check_dependencies: Callable[[AppSpec], None] = lambda spec: None):
        self.apps, self.index, self.deployments, self.reconciler = apps, index, deployments, reconciler
        self.registry, self.clock, self.emit = registry, clock, emit
        self.service_ports = service_ports
        self.versions = versions if versions is not None else VersionBook()
        self.check_dependencies = check_dependencies

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
        """The app's new desired state (and, if its version moved, a new stored version)."""
        self.apps[app.app_id] = app
        self.index.dirty.add(app.app_id)
        persist.apps.append(app)
        self.versions.record(app, persist)

    # --- commands -----------------------------------------------------------------------------

    def put(self, event: PutApp) -> list[Instruction]:
        """Create or change one app (refused if that closes a cycle of dependencies)."""
        self.check_dependencies(event.spec)
        return self._change(event)

    def _change(self, event: PutApp) -> list[Instruction]:
        persist = Persist()
        self._put(event.spec, persist, restart=event.restart, deployment_id=event.deployment_id, force=event.force)
        self.emit(AppChanged(self.apps[event.spec.id].spec, self.clock(), event.client_ip, event.uri))  # with its service ports
        return [persist]

    def restart(self, event: RestartApp) -> list[Instruction]:
        return self._change(PutApp(self.app(event.app_id).spec, restart=True, deployment_id=event.deployment_id,
                                   force=event.force))

    def delete(self, event: DeleteApp) -> list[Instruction]:
        app = self.app(event.app_id)
        self.deployments.check_free(app.app_id, event.force)
        persist = Persist()
        self.stop(app, persist, event.deployment_id, event.force)
        return [persist]

    def stop(self, app: AppRecord, persist: Persist, deployment_id: str | None, force: bool,
             step: int | None = None) -> None:
        """Destroy the app (a ``stop`` deployment; ``step`` within a deployment of several)."""
        self.deployments.start(app.app_id, "stop", app.spec.to_json(), deployment_id, force, persist, step=step)
        self.set_app(replace(app, deleting=True, version=self.clock()), persist)

    def cancel(self, event: CancelDeployment) -> list[Instruction]:
        records = self.deployments.running_of(event.deployment_id)
        if not records:
            raise NotFoundError(f"DeploymentPlan {event.deployment_id} does not exist")
        stops = [d.app_id for d in records if d.kind == "stop"]
        if stops and not event.force:
            raise ConflictError(f"Deployment {event.deployment_id} destroys app '{stops[0]}', which cannot be "
                                f"rolled back; cancel it with '?force=true' to leave the app as it is",
                                deployment_id=event.deployment_id)
        persist = Persist()
        if event.force:
            for deployment in records:
                self.deployments.end(deployment.app_id, "cancelled", persist, advance=False)
        else:
            self.fail_deployment(records[0], "cancelled: rolled back", persist, status="cancelled",
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
        if event.scale:
            self.deployments.check_free(app.app_id, event.force)
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
        if event.scale:  # a scale deployment (Marathon's killAndScale): it ends once the tasks are gone
            spec = app.spec.model_copy(update={"instances": max(0, app.spec.instances - len(set(event.task_ids)))})
            self.deployments.start(app.app_id, "scale", app.spec.to_json(), event.deployment_id, event.force, persist)
            self.set_app(replace(app, spec=spec, version=self._next_version(app)), persist)
        return ([persist] if persist else []) + out

    # --- changing an app, and rolling back ----------------------------------------------------

    def _next_version(self, app: AppRecord) -> float:
        """Now, or just after the app's version: versions strictly increase, so tasks of an older
        config never pass for the new one."""
        return max(self.clock(), app.version + 0.001)

    def _put(self, spec: AppSpec, persist: Persist, restart: bool = False, kind: str | None = None,
             deployment_id: str | None = None, force: bool = False, step: int | None = None,
             held: bool = False) -> None:
        self.check_strategy(spec)
        old = self.apps.get(spec.id)
        if old is not None and old.deleting:
            raise ConflictError(f"App '{spec.id}' is being deleted")
        self.deployments.check_free(spec.id, force)
        spec = assign_service_ports(spec, old.spec if old is not None else None, self.port_owners(spec.id),
                                    self.service_ports, check_clashes=kind != "rollback")
        now = self.clock() if old is None else self._next_version(old)
        default_kind = change_kind(old.spec if old is not None else None, spec, restart)
        if old is None:
            record = AppRecord(spec=spec, version=now, config_version=now)
        elif spec == old.spec and not restart:
            record = old  # nothing changes: a deployment that is done at once
        elif default_kind == "scale":
            record = replace(old, spec=spec, version=now)  # tasks stay
        else:
            record = replace(old, spec=spec, version=now, config_version=now, delay=0.0, launch_after=0.0)
        self.deployments.start(spec.id, kind or default_kind, old.spec.to_json() if old else None, deployment_id,
                               force, persist, step=step, held=held,
                               previous_config_version=old.config_version if old else None, target=spec.to_json())
        self.set_app(record, persist)

    # --- service ports ------------------------------------------------------------------------

    def port_owners(self, app_id: str) -> list[PortOwner]:
        """Every other app's service ports (an app being deleted holds them until it is gone)."""
        return [PortOwner(a.app_id, a.service_ports, active=not a.deleting) for a in self.apps.values()
                if a.app_id != app_id]

    def assign_missing(self) -> list[AppRecord]:
        """Give service ports to apps stored without them (by a scheduler that did not assign
        them); the changed records, to persist. Not a change of the apps: their tasks stay. An app
        whose ports cannot be assigned (the range is full) keeps its 0s."""
        changed = []
        for app_id in sorted(self.apps):
            app = self.apps[app_id]
            if app.deleting or 0 not in app.service_ports:
                continue
            try:
                spec = assign_service_ports(app.spec, None, self.port_owners(app_id), self.service_ports,
                                            check_clashes=False)
            except ValidationError:
                continue
            self.apps[app_id] = replace(app, spec=spec)
            changed.append(self.apps[app_id])
        return changed

    def fail_deployment(self, deployment: DeploymentRecord, reason: str, persist: Persist,
                        status: str = "failed", rollback_id: str | None = None) -> None:
        """End a deployment and put its apps back as they were before it (a new app is removed).

        A deployment of several apps fails as a whole: the apps whose step had not come are put
        back as they were at once (nothing of them had changed); the others roll back in one new
        deployment (``rollback_id``)."""
        records = self.deployments.running_of(deployment.id) if deployment.step is not None else [deployment]
        self.deployments.add_failure(deployment, reason)
        rollbacks = []
        for record in sorted(records, key=lambda r: not r.held):  # held ones first: none is released
            self.deployments.end(record.app_id, status, persist, advance=False)
            app = self.apps.get(record.app_id)
            if app is None or record.kind in NOT_ROLLED_BACK:
                continue  # nothing to roll back to, the rollback itself failed, a destroy (not undone),
                # or moves (the app's definition never changed)
            if record.held and record.previous is None:
                self.set_app(replace(app, deleting=True, version=self.clock()), persist)  # no tasks: removed
            elif record.held:
                self.set_app(replace(app, spec=AppSpec.model_validate(record.previous), version=self.clock(),
                                     config_version=record.previous_config_version or app.config_version), persist)
            else:
                rollbacks.append((app, record.previous))
        if len(rollbacks) > 1:
            rollback_id = rollback_id or self.deployments.new_id()
        for app, previous in rollbacks:
            step = 0 if len(rollbacks) > 1 else None
            if previous is None:
                self.deployments.start(app.app_id, "rollback", app.spec.to_json(), rollback_id, True, persist,
                                       step=step)
                self.set_app(replace(app, deleting=True, version=self.clock()), persist)
            else:
                self._put(AppSpec.model_validate(previous), persist, kind="rollback", deployment_id=rollback_id,
                          force=True, step=step)
        if len(rollbacks) > 1:
            assert rollback_id is not None
            self.deployments.begin(rollback_id)
