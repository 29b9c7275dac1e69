"""The scheduler's state machine: events in, instructions out. Here, its parts wired together and
the table that routes each event to its handler.

Invariants the runtime relies on:

* A task is persisted (state ``TASK_LAUNCHING``) before the ACCEPT that launches it, so a crash
  between the two leaves a record that reconciliation resolves (Mesos answers "unknown": the task
  is replaced), never a task Halyard does not know.
* A status update is acknowledged only after whatever it changed is persisted; handling the same
  update twice changes nothing.
* Tasks of this framework that Halyard does not know are killed; known tasks that Mesos does not
  know are treated as lost and replaced.
* A command that is refused (an unknown id, a conflict) changes nothing.

The handlers: :class:`~.mesos_events.MesosEvents` (the subscription, offers, status updates, the
agents), :class:`~.tick.TickHandler` (what time brings), the commands of
:class:`~.app_commands.AppCommands`, :class:`~.deployment_plans.PlanCommands`,
:class:`~.job_steps.JobCommands` and :class:`~.rebalance_moves.MoveRunner`. After every event,
:class:`~.convergence.Convergence` (pending work, kills, Revive/Suppress, service discovery). What
happened leaves as ``Publish`` instructions. The state is read through :class:`~.view.EngineView`.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from ..jobs.book import JobBook
from ..jobs.executor import ExecutorSettings
from ..placement import Planner, StrategyRegistry
from .agents import KnownAgents
from .app_commands import AppCommands
from .app_records import Snapshot
from .app_table import AppTable
from .app_versions import DEFAULT_KEEP, VersionBook
from .convergence import Convergence
from .deployment_plans import PlanCommands
from .deployments import DeploymentBook
from .discovery import Announcements
from .domain_events import DomainEvent
from .drains import DrainBook, DrainCommands
from .job_steps import JobCommands
from .launch import Launcher
from .maintenance import MaintenanceBook, MaintenanceCommands
from .membership import ClusterMembership, MembershipEvents
from .mesos_events import MesosEvents
from .messages import (
    AgentAdded,
    AgentLost,
    AgentRemoved,
    AgentsListed,
    CancelDeployment,
    ChangeApps,
    ClusterSnapshot,
    ClusterTasks,
    DeleteApp,
    DeleteJob,
    Disconnected,
    DrainAgent,
    Event,
    Instruction,
    InverseOffers,
    KillRun,
    KillTasks,
    Offers,
    OperatorAnswered,
    Paused,
    Persist,
    Publish,
    PutApp,
    PutJob,
    ReactivateAgent,
    ReadinessChecked,
    Rescinded,
    ResetDelay,
    RestartApp,
    ScheduleMaintenance,
    StartRebalance,
    StartRun,
    StatusUpdate,
    StreamChanged,
    Subscribed,
    Tick,
)
from .readiness_checks import ReadinessProbes
from .rebalance_launch import MoveLauncher
from .rebalance_moves import MoveRunner
from .reconcile import Reconciler
from .service_ports import PortRange
from .task_index import TaskIndex
from .task_updates import TaskUpdates
from .tick import TickHandler
from .waiting import WaitingReasons


@dataclass(frozen=True)
class EngineConfig:
    """The engine's timings, bounds and switches (``halyard scheduler``'s options set them)."""

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
    deployment_timeout: float = 600.0      # a deployment without progress for this long fails (tick.py)
    no_offer_after: float = 8.0            # no offer this long while apps wait: their reasons say so
    relist_every: float = 60.0             # read the master's agent list this often...
    relist_waiting: float = 10.0           # ...and this often while apps wait with no offer
    max_versions: int = DEFAULT_KEEP       # stored versions kept per app (Marathon's --zk_max_versions)
    min_healthy: float = 0.0               # minReadySeconds of apps that set none: how long a new
                                           # task must run to count (see readiness.py)
    executor: ExecutorSettings = ExecutorSettings()  # how agents start Halyard's executor (jobs)
    discovery: bool = False                # announce healthy tasks (ServerSets; see discovery.py)
    discovery_resync: float = 60.0         # a full SyncMembers this often (heals failed writes)
    maintenance_horizon: float = 3600.0    # nothing new on an agent whose maintenance window starts this soon


class Engine:
    """Desired state (apps, jobs), known actual state (tasks, runs), and the rules that join them:
    the parts, wired, and the table from event type to handler (:meth:`handle`).

    What the engine knows of its link to Mesos is kept here, for the handlers: ``framework_id``,
    ``subscribed``, ``master`` (the master subscribed to, ``host:port``; None while not subscribed), ``paused`` (the store is suspended: launch nothing), ``suppressed`` (the last
    Revive/Suppress sent; None: unknown, the next one is sent) and ``offer_cycles`` (offer batches
    planned, for the metrics)."""

    def __init__(self, registry: StrategyRegistry | None = None, config: EngineConfig = EngineConfig(),
                 clock: Callable[[], float] = time.time, new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
                 seed: int = 0):
        self.config, self.clock, self.new_id = config, clock, new_id
        registry = registry or StrategyRegistry.discover()
        self.framework_id: str | None = None
        self.subscribed = False
        self.master: str | None = None
        self.paused = False
        self.suppressed: bool | None = None
        self.offer_cycles = 0
        self._events: list[DomainEvent] = []  # what happened while handling the event: published after it
        emit = self.emit = self._events.append
        self.apps = AppTable()
        self.index = TaskIndex()
        self.probes = ReadinessProbes()  # readiness checks: which are due, their last results
        self.discovery = Announcements(config.discovery, resync_every=config.discovery_resync)
        self.agents = KnownAgents()  # from offers: what GROUP_BY reads when scaling down
        self.membership = ClusterMembership()  # the agents' states and other frameworks' use (operator stream)
        self.drains = DrainBook()  # agents being drained: nothing placed there, tasks moved off
        self.maintenance = MaintenanceBook(config.maintenance_horizon)  # agents' maintenance windows
        self.wait = WaitingReasons(self.agents, config.no_offer_after, config.relist_every, config.relist_waiting)
        self.reconciler = Reconciler(config.reconcile_first_retry, config.reconcile_max_retry, config.implicit_first,
                                     config.implicit_every, config.kill_retry)
        self.deployment_book = DeploymentBook(clock, new_id, emit, touch=lambda app_id: self.index.dirty.add(app_id))
        self.versions = VersionBook(config.max_versions)
        self.commands = AppCommands(self.apps, self.index, self.deployment_book, self.reconciler, registry, clock, emit,
                                    config.service_ports, self.versions,
                                    check_dependencies=lambda spec: self.plans.check_dependencies(spec))
        self.plans = PlanCommands(self.commands, clock)
        self.updates = TaskUpdates(self.apps, self.index, self.deployment_book, clock, emit, config.stable_after,
                                   config.deployment_failures, self.commands.fail_deployment)
        self.launcher = Launcher(Planner(registry, seed), config.executor, clock, new_id,
                                 config.refuse_seconds_busy, config.refuse_seconds_idle, emit)
        self.rebalancer = MoveRunner(self.deployment_book, self.index, clock, self.reconciler.kill,
                                     self.commands.app)  # rebalance deployments' moves
        self.move_launcher = MoveLauncher(self.rebalancer, self.index, Planner(registry, seed), clock, new_id,
                                          config.refuse_seconds_busy)  # their new instances, on their targets
        self.jobs = JobBook(clock, new_id, cast(Callable[[object], None], emit))  # it emits job events only
        self.job_commands = JobCommands(self.jobs, self.commands.check_strategy)
        # What remembers apps, forgotten in this order when one is torn down (its deployment last).
        self.convergence = Convergence(self, (self.apps, self.index, self.wait, self.launcher, self.versions,
                                              self.rebalancer, self.drains, self.deployment_book))
        mesos, ticker = MesosEvents(self), TickHandler(self)
        members, drains, windows = MembershipEvents(self), DrainCommands(self), MaintenanceCommands(self)
        self.drain_commands = drains
        self._handlers: dict[type, Callable[[Any], list[Instruction]]] = {
            Subscribed: mesos.subscribed, Disconnected: mesos.disconnected, Paused: mesos.paused,
            Rescinded: mesos.rescinded, AgentsListed: mesos.agents_listed, AgentLost: mesos.agent_lost,
            ReadinessChecked: mesos.readiness_checked, Offers: mesos.offers, StatusUpdate: mesos.status_update,
            Tick: lambda event: ticker.tick(event) + drains.tick(self.clock()) + windows.tick(),
            PutApp: self.commands.put, ChangeApps: self.plans.change, RestartApp: self.commands.restart,
            DeleteApp: self.commands.delete, CancelDeployment: self.commands.cancel,
            ResetDelay: self.commands.reset_delay, KillTasks: self.commands.kill_tasks,
            PutJob: self.job_commands.put, DeleteJob: self.job_commands.delete, StartRun: self.job_commands.start,
            KillRun: self.job_commands.kill, StartRebalance: self.rebalancer.start,
            ClusterSnapshot: members.snapshot, AgentAdded: members.added, AgentRemoved: members.removed,
            ClusterTasks: members.tasks, StreamChanged: members.stream,
            DrainAgent: drains.drain, ReactivateAgent: drains.reactivate, OperatorAnswered: drains.answered,
            ScheduleMaintenance: windows.schedule, InverseOffers: windows.inverse_offers,
        }

    def load(self, snapshot: Snapshot) -> None:
        """Take the stored state (as a new leader does), before the first event."""
        self.apps.clear()
        self.apps.update(snapshot.apps)
        self.index.load(snapshot.tasks.values())
        self.framework_id = snapshot.framework_id
        self.deployment_book.load(snapshot.deployments.values())
        self.versions.load(snapshot.app_versions)
        self.jobs.load(snapshot.jobs.values(), snapshot.runs.values())
        self.drains.load(snapshot.drains.values())   # drains under way continue
        self.index.dirty = set(self.apps) | {d.app_id for d in self.deployment_book.running.values()}
        unsaved = self.convergence.unsaved = Persist(apps=self.commands.assign_missing())
        self.rebalancer.end_orphans(unsaved)  # a rebalance's moves do not outlive its leader
        # convergence runs with the first event (after_event): its writes and kills go out then

    def handle(self, event: Event) -> list[Instruction]:
        """Apply one event; return what to do, in order. A refused command (NotFoundError,
        ConflictError, ValidationError, PluginError) raises and changes nothing."""
        try:
            out = self._handlers[type(event)](event)
        except Exception:
            self._events.clear()  # nothing happened: nothing to publish
            raise
        out = self.convergence.after_event(out)
        out += [Publish(e) for e in self._events]
        self._events.clear()
        return out
