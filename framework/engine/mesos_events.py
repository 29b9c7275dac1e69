"""The handlers of what Mesos (and the runtime around it) tells the engine: the subscription and
its loss, a paused store, offers, status updates, the agents, readiness answers. Pure.

Each handler takes one event and returns its instructions; the engine's table routes the events
here, and what follows every event (convergence, Revive/Suppress, discovery) is :mod:`.convergence`'s.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..cluster.mesos_types import TERMINAL, Offer
from ..jobs.book import JobChanges
from .convergence import merge_persist
from .domain_events import AgentLeft
from .job_steps import job_instructions
from .messages import (
    Acknowledge,
    AgentLost,
    AgentsListed,
    Decline,
    Disconnected,
    Instruction,
    Kill,
    Offers,
    Paused,
    Persist,
    ReadinessChecked,
    Rescinded,
    StatusUpdate,
    Subscribed,
)
from .waiting import need_of

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine

LEAVING_REFUSE_SECONDS = 3600.0  # the decline filter of an agent being drained


class MesosEvents:
    """One handler per event from Mesos, over the engine's parts."""

    def __init__(self, engine: Engine):
        self.engine = engine

    # --- the subscription ---------------------------------------------------------------------

    def subscribed(self, event: Subscribed) -> list[Instruction]:
        """Subscribed (again): the framework id kept, the agents listed, every known task reconciled."""
        e = self.engine
        out: list[Instruction] = []
        if event.framework_id != e.framework_id:
            e.framework_id = event.framework_id
            out.append(Persist(framework_id=event.framework_id))
        e.subscribed = True
        e.master = event.master
        e.discovery.subscribed(e.clock())
        # Mesos keeps a framework's suppression across re-subscription (an earlier leader may
        # have suppressed): the next decision is always sent.
        e.suppressed = None
        known = [(t.task_id, t.agent_id) for t in e.index.tasks.values() if t.state not in TERMINAL]
        now = e.clock()
        return out + e.wait.subscribed(now) + e.reconciler.start(known + e.jobs.launched_tasks(), now)

    def disconnected(self, event: Disconnected) -> list[Instruction]:
        """The subscription is gone: until it is back, offers are declined and no Revive or Suppress is sent."""
        self.engine.subscribed = False
        self.engine.master = None
        return []

    def paused(self, event: Paused) -> list[Instruction]:
        """The store is suspended (or back): meanwhile nothing is launched (offers are declined, then suppressed)."""
        self.engine.paused = event.paused
        return []

    # --- offers and tasks ---------------------------------------------------------------------

    def offers(self, event: Offers) -> list[Instruction]:
        """Offers: first to the rebalance moves waiting for their targets, then one plan for the
        apps' pending instances and the queued job runs; what waits is told why."""
        e = self.engine
        e.agents.saw(event.offers)
        now = e.clock()
        e.wait.offers_came(now)
        if not e.subscribed or e.paused:
            return e.launcher.decline_all(event.offers, e.config.refuse_seconds_busy)
        offers, refused = _off_leaving(event.offers, e.drains.leaving())
        e.maintenance.saw(event.offers)
        offers, near = e.maintenance.usable(offers, now)
        refused += near
        pinned = Persist()
        moved, offers = e.move_launcher.launch(offers, e.apps, e.agents, pinned)
        moved += refused
        if not offers:
            return ([pinned] if pinned else []) + moved
        launchable = e.convergence.launchable()
        outcome = e.launcher.place(offers, launchable, e.jobs.pending(), e.index, e.jobs, e.agents)
        if outcome.planned:
            e.offer_cycles += 1
            needs = {app.app_id: need_of(app.spec) for app, _ in launchable if app.app_id in outcome.waiting_apps}
            e.wait.planned(outcome.waiting_apps, needs, (o.agent_id for o in offers), now, e.launcher.failed)
            e.jobs.waiting = outcome.waiting_runs
            e.index.dirty.update(e.wait.reasons)  # an app whose new tasks found no room may make room
        out = merge_persist(outcome.instructions, pinned) if pinned else outcome.instructions
        return out + moved

    def rescinded(self, event: Rescinded) -> list[Instruction]:
        """An offer was taken back: nothing to do (offers are used or declined in the batch they come in)."""
        return []

    def status_update(self, event: StatusUpdate) -> list[Instruction]:
        """A task's status: a job run's to the job book, an app task's to the task updates, an
        unknown task killed; acknowledged after whatever it changed is persisted."""
        e = self.engine
        status = event.status
        ack: list[Instruction] = [Acknowledge(status.task_id, status.agent_id, status.uuid)] if status.uuid is not None else []
        e.reconciler.answered(status.task_id)
        task = e.index.get(status.task_id)
        if task is None and e.jobs.owns(status.task_id):
            changes = JobChanges()
            if e.jobs.status_update(status, changes):
                return job_instructions(changes) + ack
        if task is None:
            # Not ours (any more): an orphan from a lost write or an old leader. Kill it.
            return ([Kill(status.task_id, status.agent_id)] if not status.terminal else []) + ack
        if status.terminal:
            e.reconciler.forget(task.task_id)
            e.probes.forget(task.task_id)
        persist = e.updates.update(task, status)
        return ([persist] if persist else []) + ack

    def readiness_checked(self, event: ReadinessChecked) -> list[Instruction]:
        """A readiness check answered: the task's ``ready`` persisted when it changed."""
        e = self.engine
        task = e.index.get(event.task_id)
        changed = e.probes.answered(event, task, e.apps.get(task.app_id) if task else None)
        if changed is None:
            return []
        e.index.set(changed)
        return [Persist(tasks=[changed])]

    # --- the agents ---------------------------------------------------------------------------

    def agents_listed(self, event: AgentsListed) -> list[Instruction]:
        """The master's list of agents: what each is, and which have left."""
        self.engine.agents.listed(event.agents)
        self.engine.membership.listed(event.agents, self.engine.clock())
        return []

    def agent_lost(self, event: AgentLost) -> list[Instruction]:
        """An agent left the cluster: no longer counted by constraints or named in waiting reasons."""
        e = self.engine
        e.agents.lost(event.agent_id)
        member = e.membership.removed(event.agent_id, e.clock())
        if member is not None:
            e.emit(AgentLeft(event.agent_id, member.agent.hostname, e.clock()))
        return []


def _off_leaving(offers: tuple[Offer, ...], leaving: frozenset[str]) -> tuple[tuple[Offer, ...], list[Instruction]]:
    """The offers of agents not being drained, and a long Decline of the others' (nothing new goes
    there; the master deactivates them, and a reactivation revives)."""
    if not leaving:
        return offers, []
    refused = tuple(o.id for o in offers if o.agent_id in leaving)
    if not refused:
        return offers, []
    return tuple(o for o in offers if o.agent_id not in leaving), [Decline(refused, LEAVING_REFUSE_SECONDS)]
