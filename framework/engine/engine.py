"""The scheduler's state machine: events in, instructions out. A thin dispatcher over its parts.

Invariants the runtime relies on:

* A task is persisted (state ``TASK_LAUNCHING``) before the ACCEPT that launches it, so a crash
  between the two leaves a record that reconciliation resolves (Mesos answers "unknown": the task
  is replaced), never a task Halyard does not know.
* A status update is acknowledged only after whatever it changed is persisted; handling the same
  update twice changes nothing.
* Tasks of this framework that Halyard does not know are killed; known tasks that Mesos does not
  know are treated as lost and replaced.
* A command that is refused (an unknown id, a conflict) changes nothing.

The parts: :class:`~.task_index.TaskIndex` (tasks by app and agent),
:class:`~.deployments.DeploymentBook`, :class:`~.app_commands.AppCommands`,
:class:`~.app_updates.TaskUpdates`, :class:`~.launch.Launcher` (offers -> launches),
:class:`~.reconcile.Reconciler` (reconciliation, kill retries) and the
:class:`~halyard.jobs.book.JobBook`. What happened leaves as ``Publish`` instructions.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..cluster.mesos_types import TERMINAL
from ..jobs.book import JobBook, JobChanges
from ..jobs.executor import ExecutorSettings
from ..placement import Planner, StrategyRegistry
from .agents import KnownAgents
from .app_commands import AppCommands
from .app_records import AppRecord, DeploymentRecord, Snapshot, TaskRecord
from .app_table import AppTable
from .app_versions import DEFAULT_KEEP, VersionBook
from .converge import converge
from .deployment_plans import PlanCommands
from .deployments import DeploymentBook
from .discovery import Announcements
from .domain_events import AppTerminated, DomainEvent
from .job_steps import JobCommands, job_instructions, job_writes
from .launch import Launcher
from .messages import (
    Acknowledge,
    AgentLost,
    AgentsListed,
    CancelDeployment,
    ChangeApps,
    DeleteApp,
    DeleteJob,
    Disconnected,
    Event,
    Instruction,
    Kill,
    KillRun,
    KillTasks,
    Offers,
    Paused,
    Persist,
    Publish,
    PutApp,
    PutJob,
    ReadinessChecked,
    Rescinded,
    ResetDelay,
    RestartApp,
    Revive,
    StartRebalance,
    StartRun,
    StatusUpdate,
    Subscribed,
    Suppress,
    Tick,
)
from .readiness import Readiness
from .readiness_checks import ReadinessProbes
from .rebalance_launch import MoveLauncher
from .rebalance_moves import MoveRunner
from .reconcile import Reconciler
from .service_ports import PortRange
from .task_index import TaskIndex
from .task_updates import TaskUpdates
from .waiting import WaitingReasons, need_of


@dataclass(frozen=True)
class EngineConfig:
    unreachable_grace: float = 60.0        # seconds an unreachable task counts before it is replaced
                                           # (for apps without an unreachableStrategy)
    service_ports: PortRange = PortRange()  # where service ports given as 0 come from
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
    no_offer_after: float = 8.0            # no offer this long while apps wait: their reasons say so
    relist_every: float = 60.0             # read the master's agent list this often...
    relist_waiting: float = 10.0           # ...and this often while apps wait with no offer
    max_versions: int = DEFAULT_KEEP       # stored versions kept per app (Marathon's --zk_max_versions)
    min_healthy: float = 0.0               # minReadySeconds of apps that set none: how long a new
                                           # task must run to count (see readiness.py)
    executor: ExecutorSettings = ExecutorSettings()  # how agents start Halyard's executor (jobs)
    discovery: bool = False                # announce healthy tasks (ServerSets; see discovery.py)
    discovery_resync: float = 60.0         # a full SyncMembers this often (heals failed writes)


class Engine:
    """Desired state (apps, jobs), known actual state (tasks, runs), and the rules that join them."""

    def __init__(self, registry: StrategyRegistry | None = None, config: EngineConfig = EngineConfig(),
                 clock: Callable[[], float] = time.time, new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
                 seed: int = 0):
        self.config, self.clock, self.new_id = config, clock, new_id
        registry = registry or StrategyRegistry.discover()
        self.apps = AppTable()
        self.index = TaskIndex()
        self.probes = ReadinessProbes()  # readiness checks: which are due, their last results
        self.discovery = Announcements(config.discovery, resync_every=config.discovery_resync)
        self.agents = KnownAgents()  # from offers: what GROUP_BY reads when scaling down
        self.framework_id: str | None = None
        self.subscribed = False
        self.paused = False
        self.suppressed: bool | None = None  # None: unknown, say it explicitly
        self.wait = WaitingReasons(self.agents, config.no_offer_after, config.relist_every, config.relist_waiting)
        self.offer_cycles = 0
        self._pending: dict[str, int] = {}
        self._events: list[DomainEvent] = []
        emit = self._events.append
        self.reconciler = Reconciler(config.reconcile_first_retry, config.reconcile_max_retry, config.implicit_first,
                                     config.implicit_every, config.kill_retry)
        self.deployment_book = DeploymentBook(clock, new_id, emit, touch=lambda app_id: self.index.dirty.add(app_id))
        self.versions = VersionBook(config.max_versions)
        self.commands = AppCommands(self.apps, self.index, self.deployment_book, self.reconciler, registry, clock, emit,
                                    config.service_ports, self.versions,
                                    check_dependencies=lambda spec: self.plans.check_dependencies(spec))
        self.plans = PlanCommands(self.commands, clock)
        self._unsaved = Persist()  # what loading changed (service ports assigned), saved with the next event
        self.updates = TaskUpdates(self.apps, self.index, self.deployment_book, clock, emit, config.stable_after,
                                   config.deployment_failures, self.commands.fail_deployment)
        self.launcher = Launcher(Planner(registry, seed), config.executor, clock, new_id,
                                 config.refuse_seconds_busy, config.refuse_seconds_idle, emit)
        self.rebalancer = MoveRunner(self.deployment_book, self.index, clock, self.reconciler.kill,
                                     self.commands.app)  # rebalance deployments' moves
        self.move_launcher = MoveLauncher(self.rebalancer, self.index, Planner(registry, seed), clock, new_id,
                                          config.refuse_seconds_busy)  # their new instances, on their targets
        self.jobs = JobBook(clock, new_id, emit)
        self.job_commands = JobCommands(self.jobs, self.commands.check_strategy)
        self._handlers: dict[type, Callable[[Any], list[Instruction]]] = {
            Subscribed: self._subscribed, Disconnected: self._disconnected, Paused: self._paused,
            Rescinded: lambda event: [], AgentsListed: self._agents_listed, AgentLost: self._agent_lost,
            ReadinessChecked: self._readiness_checked, Offers: self._offers, StatusUpdate: self._status_update,
            Tick: self._tick,
            PutApp: self.commands.put, ChangeApps: self.plans.change, RestartApp: self.commands.restart, DeleteApp: self.commands.delete,
            CancelDeployment: self.commands.cancel, ResetDelay: self.commands.reset_delay,
            KillTasks: self.commands.kill_tasks,
            PutJob: self.job_commands.put, DeleteJob: self.job_commands.delete, StartRun: self.job_commands.start,
            KillRun: self.job_commands.kill, StartRebalance: self.rebalancer.start,
        }

    # --- reading ------------------------------------------------------------------------------

    @property
    def tasks(self) -> dict[str, TaskRecord]:
        return self.index.tasks

    @property
    def deployments(self) -> dict[str, DeploymentRecord]:
        """Deployments under way, by id."""
        return self.deployment_book.running

    @property
    def finished(self) -> Any:
        """Recently ended deployments, newest last."""
        return self.deployment_book.finished

    def tasks_of(self, app_id: str) -> list[TaskRecord]:
        return self.index.of_app(app_id)

    def pending(self, app: AppRecord) -> int:
        if self.held(app.app_id):
            return 0
        return self._launches(app.app_id, converge(app, self._instances(app.app_id), self.readiness()).launch)

    def _launches(self, app_id: str, launch: int) -> int:
        """What the app launches of converge's ``launch``: fewer by what a rebalance move holds."""
        return max(0, launch - self.rebalancer.held_launches(app_id))

    def _instances(self, app_id: str) -> list[TaskRecord]:
        """The app's tasks as converge sees them: without a rebalance's new instance not counted yet."""
        extra = self.rebalancer.extra
        tasks = self.tasks_of(app_id)
        return [t for t in tasks if t.task_id not in extra] if extra else tasks

    def held(self, app_id: str) -> bool:
        """The app is in a later step of a deployment of several apps: left as it is for now."""
        deployment = self.deployment_book.of_app(app_id)
        return deployment is not None and deployment.held

    def readiness(self) -> Readiness:
        """When a task counts, now (for rolling upgrades and the end of deployments)."""
        return Readiness(self.clock(), self.config.min_healthy)

    def deployment_of(self, app_id: str) -> DeploymentRecord | None:
        return self.deployment_book.of_app(app_id)

    def reconciling(self) -> int:
        """How many tasks have not answered explicit reconciliation yet."""
        return self.reconciler.pending()

    def load(self, snapshot: Snapshot) -> None:
        self.apps.clear()
        self.apps.update(snapshot.apps)
        self.index.load(snapshot.tasks.values())
        self.framework_id = snapshot.framework_id
        self.deployment_book.load(snapshot.deployments.values())
        self.versions.load(snapshot.app_versions)
        self.jobs.load(snapshot.jobs.values(), snapshot.runs.values())
        self.index.dirty = set(self.apps) | {d.app_id for d in self.deployments.values()}
        self._unsaved = Persist(apps=self.commands.assign_missing())
        self.rebalancer.end_orphans(self._unsaved)  # a rebalance's moves do not outlive its leader
        self._converge()  # what this finds (an app deleted meanwhile) is published with the next event

    # --- dispatch -----------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Instruction]:
        """Apply one event; return what to do, in order. A refused command (NotFoundError,
        ConflictError, ValidationError, PluginError) raises and changes nothing."""
        try:
            out = self._handlers[type(event)](event)
        except Exception:
            self._events.clear()  # nothing happened: nothing to publish
            raise
        out = self._finish(out)
        out = self._announce(out)
        out += [Publish(e) for e in self._events]
        self._events.clear()
        return out

    def _finish(self, out: list[Instruction]) -> list[Instruction]:
        """After every event: advance rebalance moves, kill what must go, and ask for offers only
        while they are needed."""
        moved = Persist()
        if self.rebalancer.deployment:
            if self.rebalancer.step(self.apps, self.readiness(), moved, out):
                self.suppressed = None  # a Revive clears the decline filters of the move's target
            if moved:
                out = _merge_persist(out, moved)
        persist, kills = self._converge()
        if self._unsaved:
            persist.extend(self._unsaved)
            self._unsaved = Persist()
        if persist:
            out = _merge_persist(out, persist) + kills
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
        dirty = self.index.dirty
        readiness = self.readiness()
        while dirty:
            app_id = dirty.pop()
            app = self.apps.get(app_id)
            if app is None:
                self._pending.pop(app_id, None)
                self.deployment_book.end(app_id, "succeeded", persist)
                continue
            if self.held(app_id):
                self._pending[app_id] = 0  # its step has not come: launch nothing, kill nothing
                continue
            # Stuck: its new tasks found no room (not: its strategy failed; killing old tasks
            # would not let the new ones be placed).
            stuck = app_id in self.waiting and app_id not in self.launcher.failed
            decision = converge(app, self._instances(app_id), readiness, stuck=stuck, agent_values=self.agents.values_of)
            now = self.clock()
            for task in decision.kill:
                marked = task.evolve(killing=True)
                self.index.set(marked)
                persist.tasks.append(marked)
                kills.append(self.reconciler.kill(task.task_id, task.agent_id, now))
            dirty.discard(app_id)  # marking tasks as killing does not change the decision
            self._pending[app_id] = self._launches(app_id, decision.launch)
            if app.deleting and not self.index.has_tasks(app_id):
                self._teardown(app_id, persist, now)
            elif not app.deleting and not decision.kill and self.deployment_book.deployed(
                    app, self.tasks_of(app_id), self._pending.get(app_id, 0), readiness):
                self.deployment_book.end(app_id, "succeeded", persist)
        return persist, kills

    def _teardown(self, app_id: str, persist: Persist, now: float) -> None:
        """The deleted app has no task left: it has terminated, and every part that remembers
        apps forgets it (the last, its deployment: the stop ends, as succeeded)."""
        self._events.append(AppTerminated(app_id, now))
        self._pending.pop(app_id, None)
        for part in (self.apps, self.index, self.wait, self.launcher, self.versions, self.rebalancer,
                     self.deployment_book):
            part.forget(app_id, persist)

    def _announce(self, out: list[Instruction]) -> list[Instruction]:
        """Service discovery after every event (``discovery.py``): shards, Withdraw/Announce (or a
        SyncMembers), kills held back for the drain delay."""
        changed_apps = self.apps.take_changed()  # taken either way: nobody else reads them
        if not self.discovery.enabled:
            self.index.take_changed()   # nobody reads them: the set of changed tasks would only grow
            return out
        return self.discovery.step(out, self.apps, changed_apps, self.index, self.clock(), self.reconciler.pending())

    def _alive(self, task_id: str) -> bool:
        task = self.index.get(task_id)
        return task is not None and task.state not in TERMINAL

    def _launchable(self) -> list[tuple[AppRecord, int]]:
        now = self.clock()
        return [(self.apps[a], n) for a, n in self._pending.items()
                if n > 0 and not self.apps[a].deleting and self.apps[a].launch_after <= now]

    def _wants_offers(self) -> bool:
        if self.paused:
            return False
        now = self.clock()
        return self.jobs.wants_offers() or self.rebalancer.wants_offers() or any(n > 0 and not self.apps[a].deleting and self.apps[a].launch_after <= now
                                               for a, n in self._pending.items())

    # --- Mesos events -------------------------------------------------------------------------

    @property
    def waiting(self) -> dict[str, tuple[str, ...]]:
        """App id -> why its pending tasks are not placed."""
        return self.wait.reasons

    def _subscribed(self, event: Subscribed) -> list[Instruction]:
        out: list[Instruction] = []
        if event.framework_id != self.framework_id:
            self.framework_id = event.framework_id
            out.append(Persist(framework_id=event.framework_id))
        self.subscribed = True
        self.discovery.subscribed(self.clock())
        # Mesos keeps a framework's suppression across re-subscription (an earlier leader may
        # have suppressed): the next decision is always sent.
        self.suppressed = None
        known = [(t.task_id, t.agent_id) for t in self.tasks.values() if t.state not in TERMINAL]
        now = self.clock()
        return out + self.wait.subscribed(now) + self.reconciler.start(known + self.jobs.launched_tasks(), now)

    def _disconnected(self, event: Disconnected) -> list[Instruction]:
        self.subscribed = False
        return []

    def _paused(self, event: Paused) -> list[Instruction]:
        self.paused = event.paused
        return []

    def _readiness_checked(self, event: ReadinessChecked) -> list[Instruction]:
        task = self.index.get(event.task_id)
        changed = self.probes.answered(event, task, self.apps.get(task.app_id) if task else None)
        if changed is None:
            return []
        self.index.set(changed)
        return [Persist(tasks=[changed])]

    def _agents_listed(self, event: AgentsListed) -> list[Instruction]:
        self.agents.listed(event.agents)
        return []

    def _agent_lost(self, event: AgentLost) -> list[Instruction]:
        self.agents.lost(event.agent_id)
        return []

    def _offers(self, event: Offers) -> list[Instruction]:
        self.agents.saw(event.offers)
        now = self.clock()
        self.wait.offers_came(now)
        if not self.subscribed or self.paused:
            return self.launcher.decline_all(event.offers, self.config.refuse_seconds_busy)
        pinned = Persist()
        moved, offers = self.move_launcher.launch(event.offers, self.apps, self.agents, pinned)
        if not offers:
            return ([pinned] if pinned else []) + moved
        launchable = self._launchable()
        outcome = self.launcher.place(offers, launchable, self.jobs.pending(), self.index, self.jobs,
                                      self.agents)
        if outcome.planned:
            self.offer_cycles += 1
            needs = {app.app_id: need_of(app.spec) for app, _ in launchable if app.app_id in outcome.waiting_apps}
            self.wait.planned(outcome.waiting_apps, needs, (o.agent_id for o in offers), now,
                              self.launcher.failed)
            self.jobs.waiting = outcome.waiting_runs
            self.index.dirty.update(self.waiting)  # an app whose new tasks found no room may make room
        out = _merge_persist(outcome.instructions, pinned) if pinned else outcome.instructions
        return out + moved

    def _status_update(self, event: StatusUpdate) -> list[Instruction]:
        status = event.status
        ack: list[Instruction] = [Acknowledge(status.task_id, status.agent_id, status.uuid)] if status.uuid is not None else []
        self.reconciler.answered(status.task_id)
        task = self.index.get(status.task_id)
        if task is None and self.jobs.owns(status.task_id):
            changes = JobChanges()
            if self.jobs.status_update(status, changes):
                return job_instructions(changes) + ack
        if task is None:
            # Not ours (any more): an orphan from a lost write or an old leader. Kill it.
            return ([Kill(status.task_id, status.agent_id)] if not status.terminal else []) + ack
        if status.terminal:
            self.reconciler.forget(task.task_id)
            self.probes.forget(task.task_id)
        persist = self.updates.update(task, status)
        return ([persist] if persist else []) + ack

    def _tick(self, event: Tick) -> list[Instruction]:
        now = self.clock()
        expired, expunged = self.updates.expire_unreachable(now, self.config.unreachable_grace)
        for task_id in expunged:
            self.reconciler.forget(task_id)
            self.probes.forget(task_id)
        persist = Persist(tasks=expired, delete_tasks=expunged)
        for deployment in list(self.deployments.values()):
            if deployment.held or deployment.key not in self.deployments:
                continue  # its step has not come, or it ended with another app of its deployment
            self.index.dirty.add(deployment.app_id)  # tasks become ready by staying up: check again
            if now - deployment.started_at >= self.config.deployment_timeout:
                self.commands.fail_deployment(deployment, f"not done after {self.config.deployment_timeout:g}s",
                                              persist)
        changes = JobChanges()
        self.jobs.tick(changes, self.config.kill_retry if self.subscribed else float("inf"),
                       self.config.unreachable_grace)
        persist.extend(job_writes(changes))
        out: list[Instruction] = [persist] if persist else []
        out += [Kill(task_id, agent_id) for task_id, agent_id in changes.kills]
        if not self.subscribed:
            return out
        killing = [(t.task_id, t.agent_id) for t in self.tasks.values()
                   if t.killing and t.task_id not in self.discovery.draining]
        out += [self.reconciler.kill(task_id, agent_id, now)
                for task_id, agent_id in self.discovery.drained(now, self._alive)]
        needs = {} if self.paused else {app.app_id: need_of(app.spec) for app, _ in self._launchable()}
        out += self.wait.tick(needs, now)
        self.index.dirty.update(self.waiting)  # an app that found no room may make room (see _converge)
        return out + self.reconciler.tick(now, killing) + self.probes.due(self.apps.values(), self.tasks_of, now)


def _merge_persist(out: list[Instruction], extra: Persist) -> list[Instruction]:
    """Fold ``extra`` into the first Persist (so one transaction precedes everything)."""
    for ins in out:
        if isinstance(ins, Persist):
            ins.extend(extra)
            return out
    return [extra] + out
