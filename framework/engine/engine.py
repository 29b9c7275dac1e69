"""The scheduler's state machine: events in, instructions out.

Invariants the runtime relies on:

* A task is persisted (state ``TASK_LAUNCHING``) before the ACCEPT that launches it, so a crash
  between the two leaves a record that reconciliation resolves (Mesos answers "unknown": the task
  is replaced), never a task Halyard does not know.
* A status update is acknowledged only after whatever it changed is persisted; handling the same
  update twice changes nothing.
* Tasks of this framework that Halyard does not know are killed; known tasks that Mesos does not
  know are treated as lost and replaced.
"""
from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Optional

from ..errors import ConflictError, NotFoundError
from ..jobs.book import JobBook, JobChanges
from ..jobs.records import RunRecord
from ..jobs.spec import JobSpec
from ..jobs.taskinfo import ExecutorSettings, job_task_info, split_allocation
from ..model import AppSpec
from ..placement import PlacementRequest, Planner, StrategyRegistry, Workload
from .converge import converge
from .messages import (Acknowledge, CancelDeployment, Decline, DeleteApp, DeleteJob, Disconnected, Event, Instruction,
                       Kill, KillRun, KillTasks, Launch, Notify, Offers, Paused, Persist, PutApp, PutJob, Reconcile,
                       Rescinded, ResetDelay, RestartApp, Revive, StartRun, StatusUpdate, Subscribed, Suppress, Tick)
from .offers import agent_view, group_offers, mesos_resources
from .app_records import LAUNCHING, TERMINAL, AppRecord, DeploymentRecord, Snapshot, TaskRecord, iso
from .taskinfo import task_id_for, task_info

# Terminal states that are the task's own fault (as opposed to a lost agent or a task Mesos
# never knew): these grow the app's restart backoff.
APP_FAULTS = frozenset({"TASK_FAILED", "TASK_FINISHED", "TASK_ERROR", "TASK_KILLED"})


@dataclass(frozen=True)
class EngineConfig:
    unreachable_grace: float = 60.0        # seconds an unreachable task counts before it is replaced
    refuse_seconds_idle: float = 120.0     # decline filter when nothing is pending
    refuse_seconds_busy: float = 5.0       # decline filter while work is pending
    reconcile_first_retry: float = 2.0     # explicit reconciliation: first retry, doubling...
    reconcile_max_retry: float = 60.0      # ...up to this
    implicit_first: float = 15.0           # implicit reconciliation 15 s after subscribing...
    implicit_every: float = 600.0          # ...then every 10 minutes (Marathon's schedule)
    kill_retry: float = 30.0               # re-send a KILL that had no effect after this long
    stable_after: float = 600.0            # a failure after running this long restarts the backoff
    deployment_failures: int = 3           # failed tasks of the new config that fail a deployment
    deployment_timeout: float = 600.0      # a deployment not done after this long fails
    min_healthy: float = 3.0               # without health checks, a task counts for a deployment
                                           # once it has been running this long (a command that
                                           # exits at once passes through TASK_RUNNING)
    executor: ExecutorSettings = ExecutorSettings()  # how agents start Halyard's executor (jobs)


class Engine:
    """Desired state (apps), known actual state (tasks), and the rules that join them."""

    def __init__(self, registry: Optional[StrategyRegistry] = None, config: EngineConfig = EngineConfig(),
                 clock: Callable[[], float] = time.time, new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
                 seed: int = 0):
        self.config = config
        self.clock = clock
        self.new_id = new_id
        self.planner = Planner(registry or StrategyRegistry.discover(), seed)
        self.apps: dict[str, AppRecord] = {}
        self.tasks: dict[str, TaskRecord] = {}
        self.framework_id: Optional[str] = None
        self.subscribed = False
        self.paused = False
        self.suppressed: Optional[bool] = None  # None: unknown, say it explicitly
        self.waiting: dict[str, tuple[str, ...]] = {}  # app id -> why its pending tasks are not placed
        self.offer_cycles = 0
        self._reconciling: dict[str, Optional[str]] = {}
        self._reconcile_at = 0.0
        self._reconcile_interval = config.reconcile_first_retry
        self._implicit_at: Optional[float] = None
        self._kill_sent: dict[str, float] = {}
        # Indexes, and the apps whose tasks or definition changed since the last convergence.
        self._by_app: dict[str, dict[str, TaskRecord]] = {}
        self._by_agent: dict[str, dict[str, TaskRecord]] = {}
        self._pending: dict[str, int] = {}
        self._dirty: set[str] = set()
        self.deployments: dict[str, DeploymentRecord] = {}
        self.finished: deque[DeploymentRecord] = deque(maxlen=200)  # ended deployments, newest last
        self.outbox: list[dict] = []  # Marathon-style events, drained by the runtime after each event
        self.jobs = JobBook(clock, new_id, self._emit)
        self._run_specs: dict[str, Workload] = {}

    # --- loading, reading, and the only writers of apps and tasks -----------------------------

    def load(self, snapshot: Snapshot) -> None:
        self.apps = dict(snapshot.apps)
        self.tasks, self._by_app, self._by_agent = {}, {}, {}
        for task in snapshot.tasks.values():
            self._set_task(task)
        self.framework_id = snapshot.framework_id
        self.deployments = dict(snapshot.deployments)
        self.jobs.load(snapshot.jobs.values(), snapshot.runs.values())
        self._dirty = set(self.apps) | {d.app_id for d in self.deployments.values()}
        self._converge()

    def tasks_of(self, app_id: str) -> list[TaskRecord]:
        return list(self._by_app.get(app_id, {}).values())

    def pending(self, app: AppRecord) -> int:
        return converge(app, self.tasks_of(app.app_id)).launch

    def _set_task(self, task: TaskRecord) -> None:
        old = self.tasks.get(task.task_id)
        if old is not None and old.agent_id != task.agent_id:
            self._by_agent.get(old.agent_id, {}).pop(task.task_id, None)
        self.tasks[task.task_id] = task
        self._by_app.setdefault(task.app_id, {})[task.task_id] = task
        self._by_agent.setdefault(task.agent_id, {})[task.task_id] = task
        self._dirty.add(task.app_id)

    def _drop_task(self, task_id: str) -> None:
        task = self.tasks.pop(task_id)
        self._by_app.get(task.app_id, {}).pop(task_id, None)
        self._by_agent.get(task.agent_id, {}).pop(task_id, None)
        self._kill_sent.pop(task_id, None)
        self._dirty.add(task.app_id)

    def _set_app(self, app: AppRecord) -> None:
        self.apps[app.app_id] = app
        self._dirty.add(app.app_id)

    # --- dispatch -----------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Instruction]:
        """Apply one event; return what to do, in order. Raises NotFoundError/ConflictError for
        commands about apps that do not exist or cannot change."""
        handler = getattr(self, f"_on_{type(event).__name__}")
        out: list[Instruction] = handler(event)
        return self._finish(out)

    def _finish(self, out: list[Instruction]) -> list[Instruction]:
        """After every event: kill what must go, and ask for offers only while they are needed."""
        persist, kills = self._converge()
        if persist:
            out = self._merge_persist(out, persist) + kills
        if self.subscribed:
            wanted = self._wants_offers()
            if wanted and self.suppressed is not False:
                self.suppressed = False
                out.append(Revive())
            elif not wanted and self.suppressed is not True:
                self.suppressed = True
                out.append(Suppress())
        return out

    def _converge(self) -> tuple[Persist, list[Instruction]]:
        """Apply the desired-vs-actual rules to the apps that changed; refresh their pending counts."""
        persist = Persist()
        kills: list[Instruction] = []
        while self._dirty:
            app_id = self._dirty.pop()
            app = self.apps.get(app_id)
            if app is None:
                self._pending.pop(app_id, None)
                self._end_deployment(app_id, "succeeded", persist)
                continue
            decision = converge(app, self.tasks_of(app_id), stuck=app_id in self.waiting)
            for task in decision.kill:
                marked = task.evolve(killing=True)
                self._set_task(marked)
                persist.tasks.append(marked)
                kills.append(Kill(task.task_id, task.agent_id))
                self._kill_sent[task.task_id] = self.clock()
            self._dirty.discard(app_id)  # marking tasks as killing does not change the decision
            self._pending[app_id] = decision.launch
            if app.deleting and not self._by_app.get(app_id):
                del self.apps[app_id]
                self._pending.pop(app_id, None)
                self.waiting.pop(app_id, None)
                persist.delete_apps.append(app_id)
                self._emit("app_terminated_event", appId=app_id)
                self._end_deployment(app_id, "succeeded", persist)
            elif not app.deleting and not decision.kill and self._deployed(app):
                self._end_deployment(app_id, "succeeded", persist)
        return persist, kills

    # --- events (Marathon's types, for /v2/events) ---------------------------------------------

    def _emit(self, event_type: str, **fields: object) -> None:
        self.outbox.append({"eventType": event_type, "timestamp": iso(self.clock()), **fields})

    def _plan(self, deployment: DeploymentRecord) -> dict:
        return {"id": deployment.id, "version": iso(deployment.version), "affectedApps": [deployment.app_id],
                "kind": deployment.kind}

    # --- deployments --------------------------------------------------------------------------

    def deployment_of(self, app_id: str) -> Optional[DeploymentRecord]:
        return next((d for d in self.deployments.values() if d.app_id == app_id), None)

    def _deployed(self, app: AppRecord) -> bool:
        """Every instance of the current config runs (and is healthy, if checked); nothing else."""
        tasks = self.tasks_of(app.app_id)
        if any(t.killing or (t.live and t.config_version != app.config_version) for t in tasks):
            return False
        checked = bool(app.spec.health_checks)
        now = self.clock()
        ready = [t for t in tasks if t.running and t.config_version == app.config_version
                 and (t.healthy if checked else now - (t.started_at or now) >= self.config.min_healthy)]
        return len(ready) == app.spec.instances and self._pending.get(app.app_id, 0) == 0

    def _start_deployment(self, app_id: str, kind: str, previous: Optional[AppSpec], deployment_id: Optional[str],
                          force: bool, persist: Persist) -> DeploymentRecord:
        current = self.deployment_of(app_id)
        if current is not None:
            if not force:
                raise ConflictError(f"App is locked by one or more deployments. Override with the option "
                                    f"'?force=true'. View details at '/v2/deployments/{current.id}'.")
            self._end_deployment(app_id, "cancelled", persist)
        now = self.clock()
        record = DeploymentRecord(id=deployment_id or self.new_id(), app_id=app_id, kind=kind, version=now,
                                  started_at=now, previous=previous.to_json() if previous is not None else None)
        self.deployments[record.id] = record
        persist.deployments.append(record)
        self._dirty.add(app_id)
        self._emit("deployment_info", plan=self._plan(record), currentStep={"actions": [{"app": app_id}]})
        return record

    def _end_deployment(self, app_id: str, status: str, persist: Persist) -> None:
        current = self.deployment_of(app_id)
        if current is None:
            return
        del self.deployments[current.id]
        self.finished.append(replace(current, status=status))
        if status == "succeeded":
            self._emit("deployment_success", id=current.id, plan=self._plan(current))
        else:
            self._emit("deployment_failed", id=current.id, plan=self._plan(current), reason=status,
                       failures=list(current.failures))
        persist.delete_deployments.append(current.id)
        persist.deployments[:] = [d for d in persist.deployments if d.id != current.id]

    def _fail_deployment(self, deployment: DeploymentRecord, reason: str, persist: Persist,
                         status: str = "failed", rollback_id: Optional[str] = None) -> None:
        """End a deployment and put the app back as it was before it (a new app is removed)."""
        deployment = replace(deployment, failures=deployment.failures + (reason,))
        self.deployments[deployment.id] = deployment
        self._end_deployment(deployment.app_id, status, persist)
        app = self.apps.get(deployment.app_id)
        if app is None or deployment.kind == "rollback":
            return  # nothing to roll back to, or the rollback itself failed: leave it as it is
        if deployment.previous is None:
            self._start_deployment(app.app_id, "rollback", app.spec, rollback_id, True, persist)
            stopped = replace(app, deleting=True, version=self.clock())
            self._set_app(stopped)
            persist.apps.append(stopped)
        else:
            self._put(AppSpec.model_validate(deployment.previous), persist, kind="rollback",
                      deployment_id=rollback_id, force=True)

    @staticmethod
    def _merge_persist(out: list[Instruction], extra: Persist) -> list[Instruction]:
        """Fold ``extra`` into the first Persist (so one transaction precedes everything)."""
        for ins in out:
            if isinstance(ins, Persist):
                ins.extend(extra)
                return out
        return [extra] + out

    @staticmethod
    def _job_writes(changes: JobChanges) -> Persist:
        return Persist(jobs=changes.jobs, delete_jobs=changes.delete_jobs, runs=changes.runs,
                       delete_runs=changes.delete_runs)

    def _job_instructions(self, changes: JobChanges) -> list[Instruction]:
        """A job step's writes first, then its kills and callbacks."""
        persist = self._job_writes(changes)
        out: list[Instruction] = [persist] if persist else []
        out += [Kill(task_id, agent_id) for task_id, agent_id in changes.kills]
        out += [Notify(url, body) for url, body in changes.notify]
        return out

    def _wants_offers(self) -> bool:
        if self.paused:
            return False
        now = self.clock()
        return self.jobs.wants_offers() or any(n > 0 and not self.apps[a].deleting and self.apps[a].launch_after <= now
                                               for a, n in self._pending.items())

    # --- Mesos events -------------------------------------------------------------------------

    def _on_Subscribed(self, event: Subscribed) -> list[Instruction]:
        out: list[Instruction] = []
        if event.framework_id != self.framework_id:
            self.framework_id = event.framework_id
            out.append(Persist(framework_id=event.framework_id))
        self.subscribed = True
        # Mesos keeps a framework's suppression across re-subscription (an earlier leader may
        # have suppressed): the next decision is always sent.
        self.suppressed = None
        now = self.clock()
        self._reconciling = {t.task_id: t.agent_id for t in self.tasks.values() if t.state not in TERMINAL}
        self._reconciling.update(self.jobs.launched_tasks())
        self._reconcile_interval = self.config.reconcile_first_retry
        self._reconcile_at = now + self._reconcile_interval
        self._implicit_at = now + self.config.implicit_first
        if self._reconciling:
            out.append(Reconcile(tuple(self._reconciling.items())))
        return out

    def _on_Disconnected(self, event: Disconnected) -> list[Instruction]:
        self.subscribed = False
        return []

    def _on_Paused(self, event: Paused) -> list[Instruction]:
        self.paused = event.paused
        return []

    def _on_Rescinded(self, event: Rescinded) -> list[Instruction]:
        return []

    def _on_Offers(self, event: Offers) -> list[Instruction]:
        agents = group_offers(event.offers)
        all_ids = tuple(i for a in agents.values() for i in a.offer_ids)
        if not self.subscribed or self.paused:
            return [Decline(all_ids, self.config.refuse_seconds_busy)]
        now = self.clock()
        requests = [PlacementRequest(self.apps[a].spec.workload(), n) for a, n in self._pending.items()
                    if n > 0 and not self.apps[a].deleting and self.apps[a].launch_after <= now]
        executor = self.config.executor
        runs: dict[str, RunRecord] = {}
        specs: dict[str, Workload] = {}  # what the planner places for each queued run, kept while it waits
        for run in self.jobs.pending():
            spec = self._run_specs.get(run.run_id) or run.spec.workload(
                f"/halyard-jobs/{run.job_id}/{run.run_id}", executor.cpus, executor.mem)
            specs[run.run_id], runs[spec.id] = spec, run
            requests.append(PlacementRequest(spec, 1))
        self._run_specs = specs
        if not requests:
            return [Decline(all_ids, self.config.refuse_seconds_idle)]
        self.offer_cycles += 1
        views = [agent_view(a, self._by_agent.get(a.agent_id, {}).values()) for a in agents.values()]
        plan = self.planner.plan(views, requests)
        persist = Persist()
        job_changes = JobChanges()
        by_agent: dict[str, list[dict]] = {}
        for p in plan.placements:
            if p.kind == "job":
                run = self.jobs.launching(runs[p.app_id], p.agent_id, p.hostname, job_changes)
                task_part, executor_part = split_allocation(p.allocation, executor.cpus, executor.mem)
                by_agent.setdefault(p.agent_id, []).append(job_task_info(
                    run, p.agent_id, mesos_resources(agents[p.agent_id], task_part, ()),
                    mesos_resources(agents[p.agent_id], executor_part, ()), executor))
                continue
            app = self.apps[p.app_id]
            offers = agents[p.agent_id]
            task_id = task_id_for(app.app_id, self.new_id())
            resources = mesos_resources(offers, p.allocation, p.ports)
            by_agent.setdefault(p.agent_id, []).append(
                task_info(app.spec, iso(app.version), task_id, p.agent_id, p.hostname, resources, p.ports))
            record = TaskRecord(task_id=task_id, app_id=app.app_id, config_version=app.config_version,
                                agent_id=p.agent_id, hostname=p.hostname, ports=p.ports, state=LAUNCHING,
                                staged_at=now, resources=p.resources)
            self._set_task(record)
            persist.tasks.append(record)
        persist.extend(self._job_writes(job_changes))
        self.waiting = {u.app_id: u.reasons for u in plan.unplaced if u.kind != "job"}
        self.jobs.waiting = {runs[u.app_id].run_id: u.reasons for u in plan.unplaced if u.kind == "job"}
        self._dirty.update(self.waiting)  # an app whose new tasks found no room may make room
        busy = self.config.refuse_seconds_busy
        out: list[Instruction] = [persist] if persist else []
        out += [Launch(agent_id, tuple(agents[agent_id].offer_ids), tuple(infos), busy)
                for agent_id, infos in by_agent.items()]
        unused = tuple(i for agent_id, a in agents.items() if agent_id not in by_agent for i in a.offer_ids)
        if unused:
            out.append(Decline(unused, busy if plan.unplaced else self.config.refuse_seconds_idle))
        return out

    def _on_StatusUpdate(self, event: StatusUpdate) -> list[Instruction]:
        status = event.status
        task_id = status["task_id"]["value"]
        state = status["state"]
        agent_id = (status.get("agent_id") or {}).get("value")
        ack: list[Instruction] = [Acknowledge(status)] if "uuid" in status else []
        self._reconciling.pop(task_id, None)
        task = self.tasks.get(task_id)
        if task is None and self.jobs.owns(task_id):
            job_changes = JobChanges()
            if self.jobs.status_update(status, job_changes):
                return self._job_instructions(job_changes) + ack
        if task is None:
            # Not ours (any more): an orphan from a lost write or an old leader. Kill it.
            if state not in TERMINAL:
                return [Kill(task_id, agent_id)] + ack
            return ack
        now = self.clock()
        self._emit("status_update_event", slaveId=agent_id or task.agent_id, taskId=task_id, taskStatus=state,
                   message=status.get("message", ""), appId=task.app_id, host=task.hostname,
                   ipAddresses=[{"ipAddress": task.hostname, "protocol": "IPv4"}], ports=list(task.ports),
                   version=iso(task.config_version))
        if "healthy" in status and bool(status["healthy"]) != task.healthy:
            self._emit("health_status_changed_event", appId=task.app_id, taskId=task_id, instanceId=task_id,
                       version=iso(task.config_version), alive=bool(status["healthy"]))
        if state in TERMINAL:
            return self._task_gone(task, status, now) + ack
        changes: dict = {"state": state, "message": status.get("message", task.message)}
        if "healthy" in status:
            changes["healthy"] = bool(status["healthy"])
        if agent_id and agent_id != task.agent_id:
            changes["agent_id"] = agent_id
        if state == "TASK_RUNNING" and task.started_at is None:
            changes["started_at"] = now
        if state == "TASK_UNREACHABLE":
            if task.unreachable_since is None:
                changes["unreachable_since"] = now
        else:
            changes["unreachable_since"] = None
        updated = task.evolve(**changes)
        if updated == task:
            return ack  # a duplicate: nothing to persist
        self._set_task(updated)
        return [Persist(tasks=[updated])] + ack

    def _task_gone(self, task: TaskRecord, status: dict, now: float) -> list[Instruction]:
        self._drop_task(task.task_id)
        persist = Persist(delete_tasks=[task.task_id])
        app = self.apps.get(task.app_id)
        if app is not None and not task.killing and not app.deleting:
            failure = {"appId": app.app_id, "host": task.hostname, "message": status.get("message", ""),
                       "state": status["state"], "taskId": task.task_id, "timestamp": iso(now),
                       "version": iso(app.version), "slaveId": task.agent_id}
            app = replace(app, last_failure=failure)
            # Only the task's own faults slow its restarts, and failures that arrive while the
            # app already backs off do not compound (many instances failing together is one
            # incident). A lost agent or a task Mesos never saw is replaced at once.
            deployment = self.deployment_of(app.app_id)
            if (deployment is not None and task.config_version == app.config_version and deployment.kind != "stop"
                    and status["state"] in APP_FAULTS):  # a lost agent or failover is not the new config's fault
                why = f"{task.task_id}: {status['state']}" + (f": {status['message']}" if status.get("message") else "")
                if len(deployment.failures) + 1 >= self.config.deployment_failures:
                    self._set_app(app)
                    persist.apps.append(app)
                    self._fail_deployment(deployment, why, persist)
                    return [persist]
                deployment = replace(deployment, failures=deployment.failures + (why,))
                self.deployments[deployment.id] = deployment
                persist.deployments.append(deployment)
            if status["state"] in APP_FAULTS and now >= app.launch_after:
                ran = (now - task.started_at) if task.started_at is not None else 0.0
                spec = app.spec
                if app.delay <= 0 or ran >= self.config.stable_after:
                    delay = spec.backoff_seconds
                else:
                    delay = min(app.delay * spec.backoff_factor, spec.max_launch_delay_seconds)
                app = replace(app, delay=delay, launch_after=now + delay)
            self._set_app(app)
            persist.apps.append(app)
        return [persist]

    # --- the clock ----------------------------------------------------------------------------

    def _on_Tick(self, event: Tick) -> list[Instruction]:
        now = self.clock()
        out: list[Instruction] = []
        persist = Persist()
        for task in list(self.tasks.values()):
            if (task.unreachable_since is not None and not task.expired
                    and now - task.unreachable_since >= self.config.unreachable_grace):
                expired = task.evolve(expired=True)
                self._set_task(expired)
                persist.tasks.append(expired)
        for deployment in list(self.deployments.values()):
            self._dirty.add(deployment.app_id)  # tasks become ready by staying up: check again
            if now - deployment.started_at >= self.config.deployment_timeout:
                self._fail_deployment(deployment, f"not done after {self.config.deployment_timeout:g}s", persist)
        job_changes = JobChanges()
        self.jobs.tick(job_changes, self.config.kill_retry if self.subscribed else float("inf"),
                       self.config.unreachable_grace)
        persist.extend(self._job_writes(job_changes))
        if persist:
            out.append(persist)
        out += [Kill(task_id, agent_id) for task_id, agent_id in job_changes.kills]
        if not self.subscribed:
            return out
        if self._reconciling and now >= self._reconcile_at:
            out.append(Reconcile(tuple(self._reconciling.items())))
            self._reconcile_interval = min(self._reconcile_interval * 2, self.config.reconcile_max_retry)
            self._reconcile_at = now + self._reconcile_interval
        if self._implicit_at is not None and now >= self._implicit_at:
            out.append(Reconcile(()))
            self._implicit_at = now + self.config.implicit_every
        for task in self.tasks.values():
            sent = self._kill_sent.get(task.task_id)
            if task.killing and (sent is None or now - sent >= self.config.kill_retry):
                out.append(Kill(task.task_id, task.agent_id))
                self._kill_sent[task.task_id] = now
        return out

    def reconciling(self) -> int:
        """How many tasks have not answered explicit reconciliation yet."""
        return len(self._reconciling)

    # --- commands -----------------------------------------------------------------------------

    def _on_PutApp(self, event: PutApp) -> list[Instruction]:
        persist = Persist()
        self._put(event.spec, persist, restart=event.restart, deployment_id=event.deployment_id, force=event.force)
        self._emit("api_post_event", clientIp=None, uri=f"/v2/apps{event.spec.id}", appDefinition=event.spec.public_json())
        return [persist]

    def _check_strategy(self, spec: AppSpec | JobSpec) -> None:
        """A strategy that does not exist, or refuses its args, is bad input now, not a failed offer cycle later."""
        if spec.strategy is not None:
            self.planner.registry.create(spec.strategy)

    def _put(self, spec: AppSpec, persist: Persist, restart: bool = False, kind: Optional[str] = None,
             deployment_id: Optional[str] = None, force: bool = False) -> None:
        self._check_strategy(spec)
        old = self.apps.get(spec.id)
        # Versions strictly increase, so tasks of an older config never pass for the new one.
        now = self.clock() if old is None else max(self.clock(), old.version + 0.001)
        if old is not None and old.deleting:
            raise ConflictError(f"App '{spec.id}' is being deleted")
        if old is None:
            record, default_kind = AppRecord(spec=spec, version=now, config_version=now), "start"
        elif spec == old.spec and not restart:
            record, default_kind = old, "deploy"  # nothing changes: a deployment that is done at once
        elif spec.model_copy(update={"instances": old.spec.instances}) == old.spec and not restart:
            record, default_kind = replace(old, spec=spec, version=now), "scale"  # tasks stay
        else:
            record = replace(old, spec=spec, version=now, config_version=now, delay=0.0, launch_after=0.0)
            default_kind = "restart" if restart else "deploy"
        self._start_deployment(spec.id, kind or default_kind, old.spec if old else None, deployment_id, force, persist)
        self._set_app(record)
        persist.apps.append(record)

    def _app(self, app_id: str) -> AppRecord:
        app = self.apps.get(app_id)
        if app is None:
            raise NotFoundError(f"App '{app_id}' does not exist")
        return app

    def _on_DeleteApp(self, event: DeleteApp) -> list[Instruction]:
        app = self._app(event.app_id)
        persist = Persist()
        self._start_deployment(app.app_id, "stop", app.spec, event.deployment_id, event.force, persist)
        record = replace(app, deleting=True, version=self.clock())
        self._set_app(record)
        persist.apps.append(record)
        return [persist]

    def _on_RestartApp(self, event: RestartApp) -> list[Instruction]:
        return self._on_PutApp(PutApp(self._app(event.app_id).spec, restart=True,
                                      deployment_id=event.deployment_id, force=event.force))

    def _on_CancelDeployment(self, event: CancelDeployment) -> list[Instruction]:
        deployment = self.deployments.get(event.deployment_id)
        if deployment is None:
            raise NotFoundError(f"DeploymentPlan {event.deployment_id} does not exist")
        persist = Persist()
        if event.force:
            self._end_deployment(deployment.app_id, "cancelled", persist)
        else:
            self._fail_deployment(deployment, "cancelled: rolled back", persist, status="cancelled",
                                  rollback_id=event.rollback_id)
        return [persist]

    def _on_ResetDelay(self, event: ResetDelay) -> list[Instruction]:
        app = replace(self._app(event.app_id), delay=0.0, launch_after=0.0)
        self._set_app(app)
        return [Persist(apps=[app])]

    def _on_KillTasks(self, event: KillTasks) -> list[Instruction]:
        app = self._app(event.app_id)
        persist = Persist()
        out: list[Instruction] = []
        for task_id in event.task_ids:
            task = self.tasks.get(task_id)
            if task is None or task.app_id != app.app_id:
                raise NotFoundError(f"Task '{task_id}' does not exist")
            if not task.killing:
                marked = task.evolve(killing=True)
                self._set_task(marked)
                persist.tasks.append(marked)
                out.append(Kill(task_id, task.agent_id))
                self._kill_sent[task_id] = self.clock()
        if event.scale:
            spec = app.spec.model_copy(update={"instances": max(0, app.spec.instances - len(event.task_ids))})
            app = replace(app, spec=spec, version=self.clock())
            self._set_app(app)
            persist.apps.append(app)
        return ([persist] if persist else []) + out

    # --- jobs ---------------------------------------------------------------------------------

    def _on_PutJob(self, event: PutJob) -> list[Instruction]:
        self._check_strategy(event.spec)
        changes = JobChanges()
        self.jobs.put_job(event.spec, changes)
        return self._job_instructions(changes)

    def _on_DeleteJob(self, event: DeleteJob) -> list[Instruction]:
        changes = JobChanges()
        self.jobs.delete_job(event.job_id, event.stop_runs, changes)
        return self._job_instructions(changes)

    def _on_StartRun(self, event: StartRun) -> list[Instruction]:
        changes = JobChanges()
        self.jobs.start_run(event.job_id, changes, run_id=event.run_id)
        return self._job_instructions(changes)

    def _on_KillRun(self, event: KillRun) -> list[Instruction]:
        changes = JobChanges()
        self.jobs.kill_run(event.job_id, event.run_id, changes)
        return self._job_instructions(changes)
