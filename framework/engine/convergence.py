"""Pending work and convergence: what the engine does after every event, whichever it was. Pure.

After each event (:meth:`Convergence.after_event`):

1. the rebalance moves under way advance (:mod:`.rebalance_moves`);
2. each app whose tasks or definition changed (``TaskIndex.dirty``) is converged: the pure diff of
   :mod:`.converge` says which tasks to kill (marked killing and persisted before their Kill) and
   how many to launch (the app's *pending* count, placed by the next offers); a deployment that
   is done ends; a deleted app with no task left is torn down (every part that remembers apps
   forgets it);
3. offers are asked for only while something can use them (``Revive``/``Suppress``, each sent
   when the answer changes);
4. service discovery follows what changed (:mod:`.discovery`).
"""
from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol

from .app_records import AppRecord, TaskRecord
from .converge import Decision, converge
from .domain_events import AppTerminated
from .messages import Instruction, Persist, Revive, Suppress
from .readiness import Readiness

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine


class AppMemory(Protocol):
    """A part that remembers something of each app: it forgets the app when the app is gone."""

    def forget(self, app_id: str, persist: Persist) -> None:
        """Drop what is kept of the app (writing to ``persist`` what the store drops with it)."""


class Convergence:
    """Each app's pending launches, and the rules that bring the actual state to the desired one
    after every event."""

    def __init__(self, engine: Engine, memories: tuple[AppMemory, ...]):
        self.engine = engine
        self.memories = memories  # forgotten in this order when an app is torn down
        self._pending: dict[str, int] = {}  # app id -> instances to launch, as of the last convergence
        self._wanting: set[str] = set()     # the apps of _pending with instances to launch (asked after every event)
        self.unsaved = Persist()  # what loading changed (service ports assigned), saved with the next event

    # --- pending work -------------------------------------------------------------------------

    def pending(self, app: AppRecord) -> int:
        """Instances of the app waiting to be launched, now."""
        if self.held(app.app_id):
            return 0
        settled = self._settled(app)
        if settled is not None:
            return self._launches(app.app_id, app.spec.instances - settled[0])
        return self._launches(app.app_id, converge(app, self._instances(app.app_id), self.readiness()).launch)

    def _settled(self, app: AppRecord) -> tuple[int, int] | None:
        """(live tasks, of which running) when converge's answer is plain arithmetic: the app is not
        deleted, every task it has is live and of its current config, and there are no more than
        ``instances`` of them (then converge kills nothing and launches the difference). Counted
        by the index as tasks change, so one status update costs O(1), not O(the app's tasks)."""
        if app.deleting or self.engine.rebalancer.extra or self._on_leaving(app.app_id):
            return None
        settled = self.engine.index.settled(app.app_id, app.config_version)
        return settled if settled is not None and settled[0] <= app.spec.instances else None

    def _on_leaving(self, app_id: str) -> bool:
        """The app has a live task on an agent being drained (``drains.py``): converge replaces it."""
        index = self.engine.index
        return any(t.app_id == app_id and t.live for agent_id in self.engine.drains.leaving()
                   for t in index.on_agent(agent_id))

    def _deployed(self, app: AppRecord, settled: tuple[int, int] | None, pending: int, readiness: Readiness,
                  leaving: Collection[str] = ()) -> bool:
        """DeploymentBook.deployed, from the counts when they tell it (no checks, no minReadySeconds:
        a task of the current config counts once it runs)."""
        book = self.engine.deployment_book
        if settled is not None:
            deployment = book.of_app(app.app_id)
            if deployment is None:
                return False  # nothing to end
            if deployment.kind == "rebalance" or pending:
                return False
            spec = app.spec
            if not spec.health_checks and not spec.readiness_checks and not readiness.min_ready_seconds(spec):
                return settled[1] == spec.instances
        return book.deployed(app, self.engine.index.of_app(app.app_id), pending, readiness, leaving)

    def held(self, app_id: str) -> bool:
        """The app is in a later step of a deployment of several apps: left as it is for now."""
        deployment = self.engine.deployment_book.of_app(app_id)
        return deployment is not None and deployment.held

    def readiness(self) -> Readiness:
        """When a task counts, now (for rolling upgrades and the end of deployments)."""
        return Readiness(self.engine.clock(), self.engine.config.min_healthy)

    def launchable(self) -> list[tuple[AppRecord, int]]:
        """The apps with instances to launch now (not being deleted, not backing off), and how many."""
        if not self._wanting:
            return []
        apps, now = self.engine.apps, self.engine.clock()
        return [(apps[a], n) for a, n in self._pending.items()
                if n > 0 and not apps[a].deleting and apps[a].launch_after <= now]

    def wants_offers(self) -> bool:
        """Whether anything could use an offer now: app instances, job runs or a rebalance move."""
        e = self.engine
        return not e.paused and (e.jobs.wants_offers() or e.rebalancer.wants_offers() or self._any_launchable())

    def _any_launchable(self) -> bool:
        """``bool(self.launchable())``, looking only at the apps with instances to launch."""
        apps, now = self.engine.apps, self.engine.clock()
        return any(not apps[a].deleting and apps[a].launch_after <= now for a in self._wanting)

    def _set_pending(self, app_id: str, launch: int | None) -> None:
        """The app's instances to launch (None: the app is gone)."""
        if launch is None:
            self._pending.pop(app_id, None)
        else:
            self._pending[app_id] = launch
        if launch is not None and launch > 0:
            self._wanting.add(app_id)
        else:
            self._wanting.discard(app_id)

    def _launches(self, app_id: str, launch: int) -> int:
        """What the app launches of converge's ``launch``: fewer by what a rebalance move holds."""
        return max(0, launch - self.engine.rebalancer.held_launches(app_id))

    def _instances(self, app_id: str) -> list[TaskRecord]:
        """The app's tasks as converge sees them: without a rebalance's new instance not counted yet."""
        extra = self.engine.rebalancer.extra
        tasks = self.engine.index.of_app(app_id)
        return [t for t in tasks if t.task_id not in extra] if extra else tasks

    # --- after every event --------------------------------------------------------------------

    def after_event(self, out: list[Instruction]) -> list[Instruction]:
        """``out`` (an event's instructions) followed by what every event leads to: rebalance
        moves, convergence, Revive/Suppress, service discovery."""
        return self._announce(self._finish(out))

    def _finish(self, out: list[Instruction]) -> list[Instruction]:
        """Advance rebalance moves, kill what must go, and ask for offers only while they are needed."""
        e = self.engine
        if e.rebalancer.deployment:
            moved = Persist()
            if e.rebalancer.step(e.apps, self.readiness(), moved, out):
                e.suppressed = None  # a Revive clears the decline filters of the move's target
            if moved:
                out = merge_persist(out, moved)
        persist, kills = self.converge()
        if self.unsaved:
            persist.extend(self.unsaved)
            self.unsaved = Persist()
        if persist:
            out = merge_persist(out, persist) + kills
        if e.subscribed:
            wanted = self.wants_offers()
            if wanted and e.suppressed is not False:
                e.suppressed = False
                out.append(Revive())
            elif not wanted and e.suppressed is not True:
                e.suppressed = True
                out.append(Suppress())
        return out

    def converge(self) -> tuple[Persist, list[Instruction]]:
        """Apply the desired-vs-actual rules to the apps that changed; refresh their pending counts."""
        e = self.engine
        persist = Persist()
        kills: list[Instruction] = []
        dirty = e.index.dirty
        readiness = self.readiness()
        while dirty:
            app_id = dirty.pop()
            app = e.apps.get(app_id)
            if app is None:
                self._set_pending(app_id, None)
                e.deployment_book.end(app_id, "succeeded", persist)
                continue
            if self.held(app_id):
                self._set_pending(app_id, 0)  # its step has not come: launch nothing, kill nothing
                continue
            # Stuck: its new tasks found no room (not: its strategy failed; killing old tasks
            # would not let the new ones be placed).
            settled = self._settled(app)
            leaving = e.drains.leaving()
            if settled is not None:
                decision = Decision(launch=app.spec.instances - settled[0])
            else:
                stuck = app_id in e.wait.reasons and app_id not in e.launcher.failed
                decision = converge(app, self._instances(app_id), readiness, stuck=stuck,
                                    agent_values=e.agents.values_of, leaving=leaving)
            now = e.clock()
            for task in decision.kill:
                marked = task.evolve(killing=True)
                e.index.set(marked)
                persist.tasks.append(marked)
                kills.append(e.reconciler.kill(task.task_id, task.agent_id, now))
            dirty.discard(app_id)  # marking tasks as killing does not change the decision
            self._set_pending(app_id, self._launches(app_id, decision.launch))
            if app.deleting and not e.index.has_tasks(app_id):
                self._teardown(app_id, persist, now)
            elif not app.deleting and not decision.kill and self._deployed(
                    app, settled, self._pending.get(app_id, 0), readiness, leaving):
                e.deployment_book.end(app_id, "succeeded", persist)
        return persist, kills

    def _teardown(self, app_id: str, persist: Persist, now: float) -> None:
        """The deleted app has no task left: it has terminated, and every part that remembers apps
        forgets it (the last, its deployment: the stop ends, as succeeded)."""
        self.engine.emit(AppTerminated(app_id, now))
        self._set_pending(app_id, None)
        for memory in self.memories:
            memory.forget(app_id, persist)

    def _announce(self, out: list[Instruction]) -> list[Instruction]:
        """Service discovery (``discovery.py``): shards, Withdraw/Announce (or a SyncMembers),
        kills held back for the drain delay."""
        e = self.engine
        changed_apps = e.apps.take_changed()  # taken either way: nobody else reads them
        if not e.discovery.enabled:
            e.index.take_changed()   # nobody reads them: the set of changed tasks would only grow
            return out
        return e.discovery.step(out, e.apps, changed_apps, e.index, e.clock(), e.reconciler.pending())


def merge_persist(out: list[Instruction], extra: Persist) -> list[Instruction]:
    """Fold ``extra`` into the first Persist (so one transaction precedes everything)."""
    for ins in out:
        if isinstance(ins, Persist):
            ins.extend(extra)
            return out
    return [extra] + out
