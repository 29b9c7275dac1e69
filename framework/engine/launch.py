"""Offers + what is pending -> a plan -> task records (persisted first), Launch and Decline.

Apps' missing instances and queued job runs are placed together in one plan. Each placed app
instance becomes a TaskRecord in state ``TASK_LAUNCHING`` and each placed run goes STARTING;
both are in the Persist that precedes the Launches. Offers no task uses are declined (briefly
while something could not be placed, for long otherwise).

An app or run whose placement strategy failed (a plugin raised, scored outside 0..100, or could
not be created) waits like any other, its reason ``strategy 'x' failed: <error>``; the planner
placed the others. The Launcher remembers the failures of the last plan and emits
:class:`~.events.PlacementFailed` only for a workload whose failure is new or changed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..cluster.mesos_types import LAUNCHING, Offer
from ..jobs.book import JobBook, JobChanges
from ..jobs.executor import ExecutorSettings, split_allocation
from ..jobs.records import RunRecord
from ..placement import Placement, PlacementRequest, Planner, Unplaced, Workload
from .agents import KnownAgents
from .app_records import AppRecord, TaskRecord
from .domain_events import DomainEvent, PlacementFailed
from .job_steps import job_writes
from .messages import AppTaskLaunch, Decline, Instruction, JobTaskLaunch, Launch, Persist, TaskLaunch
from .offers import AgentOffers, agent_view, allocate, group_offers
from .task_index import TaskIndex

JOB_KEY_PREFIX = "/halyard-jobs"


def task_id_for(app_id: str, unique: str) -> str:
    """``/shop/web`` -> ``shop_web.<unique>`` (Marathon's style: the app id, then a unique part)."""
    return f"{'_'.join(app_id.strip('/').split('/'))}.{unique}"


def app_task(app: AppRecord, p: Placement, offered: AgentOffers, task_id: str,
             now: float) -> tuple[AppTaskLaunch, TaskRecord]:
    """One placed instance of ``app``: what the agent launches with ``offered``, and its record
    (``TASK_LAUNCHING``, persisted before the launch)."""
    launch = AppTaskLaunch(task_id, p.agent_id, p.hostname, app.spec, app.version,
                           allocate(offered, p.allocation, p.ports), p.ports)
    record = TaskRecord(task_id=task_id, app_id=app.app_id, config_version=app.config_version, agent_id=p.agent_id,
                        hostname=p.hostname, ports=p.ports, state=LAUNCHING, staged_at=now, resources=p.resources)
    return launch, record


@dataclass
class LaunchOutcome:
    """What one offer batch produced: instructions (Persist first), and why what was not placed waits."""

    instructions: list[Instruction] = field(default_factory=list)
    job_changes: JobChanges = field(default_factory=JobChanges)
    waiting_apps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    waiting_runs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    planned: bool = False   # a plan was made (there was something to place)


#: The most app instances one offer batch launches. As Marathon's launch tokens bound a round, a
#: huge scale-up (or a tiny-resource app with millions of instances) goes on over the next
#: offers instead of holding the leader's loop for as long as placing it all would take. It was
#: 1,000, with the rest of the batch refused for ``refuse_seconds_busy`` (5 s): 10,000 instances
#: took ten 5 s rounds, and ten 1 s rounds of re-offered, re-decoded, declined offers when refused
#: for 0 s. Now every offer of a batch is used while work is pending (placing 10,000 instances
#: on 1,000 offers takes about 0.5 s of the loop's CPU); past this bound, what the batch leaves is refused for 0 s and
#: offered again at the master's next allocation.
MAX_LAUNCHES_PER_BATCH = 10_000


class Launcher:
    """Turns an offer batch into launches, given what is pending."""

    def __init__(self, planner: Planner, executor: ExecutorSettings, clock: Callable[[], float],
                 new_id: Callable[[], str], refuse_busy: float, refuse_idle: float,
                 emit: Callable[[DomainEvent], None]):
        self.planner, self.executor = planner, executor
        self.clock, self.new_id, self.emit = clock, new_id, emit
        self.refuse_busy, self.refuse_idle = refuse_busy, refuse_idle
        self._run_workloads: dict[str, Workload] = {}  # what the planner places for each queued run, kept while it waits
        #: workload id (an app's id, a run's job key) -> why its strategy failed in the last plan
        self.failed: dict[str, str] = {}

    def decline_all(self, offers: tuple[Offer, ...], refuse_seconds: float) -> list[Instruction]:
        return [Decline(tuple(o.id for o in offers), refuse_seconds)]

    def place(self, offers: tuple[Offer, ...], apps: list[tuple[AppRecord, int]], runs: list[RunRecord],
              index: TaskIndex, jobs: JobBook, known: KnownAgents | None = None) -> LaunchOutcome:
        """Plan ``apps`` (each with its count of missing instances) and queued ``runs`` on the offers."""
        agents = group_offers(offers)
        outcome = LaunchOutcome()
        requests, room = [], MAX_LAUNCHES_PER_BATCH
        for app, n in apps:
            if room > 0:
                requests.append(PlacementRequest(app.spec.workload(), min(n, room)))
            room -= n
        capped = room < 0   # more is pending than this batch launches: offers are wanted again soon
        executor = self.executor
        by_key: dict[str, RunRecord] = {}
        workloads: dict[str, Workload] = {}
        for run in runs:
            workload = self._run_workloads.get(run.run_id) or run.spec.workload(
                f"{JOB_KEY_PREFIX}/{run.job_id}/{run.run_id}", executor.cpus, executor.mem)
            workloads[run.run_id], by_key[workload.id] = workload, run
            requests.append(PlacementRequest(workload, 1))
        self._run_workloads = workloads
        if not requests:
            outcome.instructions = self.decline_all(offers, self.refuse_idle)
            return outcome
        outcome.planned = True
        app_by_id = {app.app_id: app for app, _ in apps}
        views = [agent_view(a, index.on_agent(a.agent_id)) for a in agents.values()]
        # Constraints see the whole cluster: what runs on agents outside this batch (full ones are
        # never offered) counts too. Only built when some request has constraints.
        context = (known.elsewhere(agents, index.by_agent())
                   if known is not None and any(r.workload.constraints for r in requests) else [])
        plan = self.planner.plan(views, requests, context)
        now = self.clock()
        persist = Persist()
        by_agent: dict[str, list[TaskLaunch]] = {}
        for p in plan.placements:
            offered = agents[p.agent_id]
            if p.kind == "job":
                run = jobs.launching(by_key[p.app_id], p.agent_id, p.hostname, outcome.job_changes)
                task_part, executor_part = split_allocation(p.allocation, executor.cpus, executor.mem)
                by_agent.setdefault(p.agent_id, []).append(JobTaskLaunch(
                    run, p.agent_id, allocate(offered, task_part, ()), allocate(offered, executor_part, ()), executor))
                continue
            app = app_by_id[p.app_id]
            launch, record = app_task(app, p, offered, task_id_for(app.app_id, self.new_id()), now)
            by_agent.setdefault(p.agent_id, []).append(launch)
            index.set(record)
            persist.tasks.append(record)
        persist.extend(job_writes(outcome.job_changes))
        outcome.waiting_apps = {u.app_id: u.reasons for u in plan.unplaced if u.kind != "job"}
        outcome.waiting_runs = {by_key[u.app_id].run_id: u.reasons for u in plan.unplaced if u.kind == "job"}
        self._report_failures(plan.unplaced, by_key, now)
        busy = 0.0 if capped else self.refuse_busy  # capped: the rest is wanted at the next allocation
        out: list[Instruction] = [persist] if persist else []
        out += [Launch(agent_id, tuple(agents[agent_id].offer_ids), tuple(tasks), busy)
                for agent_id, tasks in by_agent.items()]
        unused = tuple(i for agent_id, a in agents.items() if agent_id not in by_agent for i in a.offer_ids)
        if unused:
            out.append(Decline(unused, busy if plan.unplaced or capped else self.refuse_idle))
        outcome.instructions = out
        return outcome

    def _report_failures(self, unplaced: tuple[Unplaced, ...], runs: dict[str, RunRecord], now: float) -> None:
        """Emit PlacementFailed for each workload whose strategy failed, unless the last plan
        reported the same reason for it; then remember this plan's failures."""
        failed: dict[str, str] = {}
        for u in unplaced:
            if not u.failed:
                continue
            reason = failed[u.app_id] = u.reasons[0]
            if self.failed.get(u.app_id) == reason:
                continue
            if u.kind == "job":
                run = runs[u.app_id]
                self.emit(PlacementFailed("job", run.job_id, reason, now, run.run_id))
            else:
                self.emit(PlacementFailed("app", u.app_id, reason, now))
        self.failed = failed

    def forget(self, app_id: str, persist: Persist) -> None:
        """The app is gone: a failure of a new one by that id is news."""
        self.failed.pop(app_id, None)
