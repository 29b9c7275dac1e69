"""Running planned moves: one ``rebalance`` deployment per app, one move at a time. Pure.

A move, when the app's ``upgradeStrategy`` allows one instance more than ``instances``
(``converge.capacity_bounds``; Marathon's defaults do):

1. ``launch``: the new instance is placed on the target agent only, with that agent's next offer
   (:mod:`.rebalance_launch`: the placement pipeline checks it still fits; if not, the move is
   dropped with the reason);
2. ``wait``: until the new instance counts (running, healthy if checked, ready, ``minReadySeconds``;
   :mod:`.readiness`); while it waits it is not one of the app's instances for ``converge`` (no
   surplus is killed, nothing else is launched);
3. ``stop``: the old instance is marked killed and its ``Kill`` leaves like any other: service
   discovery withdraws its member and holds the kill for the app's drain delay (:mod:`.discovery`);
   the move ends when Mesos says the old one is gone.

When the bounds allow no instance more, the old one is stopped first (``first``), then the new one
launched and waited for: the app's healthy count stays at or above ``minimumHealthCapacity``.
A move starts only while every instance of the app counts. When the deployment ends otherwise
(cancelled, superseded, timed out) the remaining moves are dropped, and a new instance not yet
counted is killed (the old one still serves).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..cluster.mesos_types import TERMINAL
from ..errors import ConflictError
from ..rebalance.planner import Move
from .app_records import AppRecord, DeploymentRecord, TaskRecord
from .converge import capacity_bounds
from .deployments import DeploymentBook
from .messages import Instruction, Kill, Persist, StartRebalance
from .readiness import Readiness
from .task_index import TaskIndex

LAUNCH_TIMEOUT = 60.0  # seconds to wait for an offer from the target agent before the move is dropped


@dataclass
class ActiveMove:
    """The move under way for one app, and its phase: first | launch | wait | stop."""

    move: Move
    phase: str
    since: float
    new_task: str | None = None
    first: bool = False   # the old instance stopped before the new one starts


class MoveRunner:
    """The moves of every rebalance deployment under way: queued and active, one per app."""

    def __init__(self, book: DeploymentBook, index: TaskIndex, clock: Callable[[], float],
                 kill: Callable[[str, str | None, float], Kill], app: Callable[[str], AppRecord]):
        self.book, self.index, self.clock, self.kill = book, index, clock, kill
        self.app = app  # the app of an id, or NotFoundError
        self.queues: dict[str, deque[Move]] = {}     # app id -> moves left
        self.active: dict[str, ActiveMove] = {}      # app id -> the move under way
        self.deployment: dict[str, str] = {}         # app id -> its rebalance deployment's id
        self.failed: set[str] = set()                # apps whose deployment has a failed move
        self.extra: set[str] = set()                 # new instances not counted yet: not the app's (converge)

    def held_launches(self, app_id: str) -> int:
        """Launches the move owns (its old instance stopped first): converge launches fewer."""
        active = self.active.get(app_id)
        return 1 if active is not None and active.first and active.phase in ("first", "launch") else 0

    def waiting_for_offers(self) -> list[ActiveMove]:
        """The moves whose new instance waits for an offer from its target."""
        return [a for a in self.active.values() if a.phase == "launch"]

    def wants_offers(self) -> bool:
        return bool(self.waiting_for_offers())

    def start(self, event: StartRebalance) -> list[Instruction]:
        """Start one ``rebalance`` deployment per app, with its moves. Every app is checked first (an
        unknown one is a NotFoundError; one being deleted, or deploying unless ``force``, a
        ConflictError): all or nothing. With ``force`` a deployment under way is superseded."""
        for app_id, _, _ in event.apps:
            if self.app(app_id).deleting:
                raise ConflictError(f"App '{app_id}' is being deleted")
            self.book.check_free(app_id, event.force)
        persist = Persist()
        for app_id, deployment_id, moves in event.apps:
            spec = self.app(app_id).spec.to_json()
            record = self.book.start(app_id, "rebalance", spec, deployment_id, event.force, persist, target=spec)
            self.queues[app_id] = deque(moves)
            self.deployment[app_id] = record.id
            self.failed.discard(app_id)
        return [persist]

    def launched(self, active: ActiveMove, task_id: str) -> None:
        """The move's new instance was launched (:mod:`.rebalance_launch`): it waits until it counts."""
        if not active.first:
            self.extra.add(task_id)
        active.phase, active.since, active.new_task = "wait", self.clock(), task_id

    def end_orphans(self, persist: Persist) -> None:
        """End, as failed, the rebalance deployments a leader before this one started (their moves
        lived in its memory only). Called once, after the state is loaded."""
        for record in [d for d in self.book.running.values() if d.kind == "rebalance"]:
            if self.deployment.get(record.app_id) != record.id:
                self._note(record.app_id, "moves lost with the leader that started them", persist, record)
                self.book.end(record.app_id, "failed", persist)

    # --- after every event ----------------------------------------------------------------------

    def step(self, apps: Mapping[str, AppRecord], readiness: Readiness, persist: Persist,
             out: list[Instruction]) -> bool:
        """Advance every app's moves; kills go to ``out``. True when a move now waits for an offer
        from its target (the engine revives, clearing decline filters)."""
        revive = False
        for app_id in list(self.deployment):
            record = self.book.of_app(app_id)
            app = apps.get(app_id)
            if record is None or record.id != self.deployment[app_id] or app is None:
                self._abandon(app_id, persist, out)
                continue
            revive |= self._advance(app, readiness, persist, out)
        return revive

    def _advance(self, app: AppRecord, readiness: Readiness, persist: Persist, out: list[Instruction]) -> bool:
        app_id, now = app.app_id, self.clock()
        active = self.active.get(app_id)
        if active is None:
            return self._next(app, readiness, persist, out)
        move = active.move
        if active.phase == "first":
            old = self.index.get(move.task_id)
            if old is None or old.state in TERMINAL:
                active.phase, active.since = "launch", now
                return True
        elif active.phase == "launch" and now - active.since > LAUNCH_TIMEOUT:
            self.drop(app_id, f"no offer from {move.to_host} in {LAUNCH_TIMEOUT:g}s", persist)
        elif active.phase == "wait":
            new = self.index.get(active.new_task or "")
            if new is None or new.state in TERMINAL:
                state = new.state if new is not None else "gone"
                self.drop(app_id, f"new instance {active.new_task} on {move.to_host} ended ({state})", persist,
                          failed=True)
            elif readiness.counts(app, new):
                self.extra.discard(new.task_id)
                self.index.dirty.add(app_id)   # the new instance is now one of the app's for converge
                if active.first:
                    self._done(app_id, persist)
                else:
                    self._stop_old(app_id, persist, out)
                    active.phase, active.since = "stop", now
        elif active.phase == "stop":
            old = self.index.get(move.task_id)
            if old is None or old.state in TERMINAL:
                self._done(app_id, persist)
        if app_id not in self.active:  # the move ended: the next one (or the deployment's end) now
            return self._next(app, readiness, persist, out)
        return False

    def _next(self, app: AppRecord, readiness: Readiness, persist: Persist, out: list[Instruction]) -> bool:
        """Start the app's next move when every instance counts; end the deployment when none is left."""
        app_id = app.app_id
        queue = self.queues[app_id]
        while queue:
            move = queue[0]
            old = self.index.get(move.task_id)
            why = None
            if old is None or not old.live:
                why = f"instance {move.task_id} is gone"
            elif old.agent_id != move.from_agent:
                why = f"instance {move.task_id} is no longer on {move.from_host}"
            if why is None:
                break
            queue.popleft()
            self._note(app_id, f"dropped {move.task_id} {move.from_host} -> {move.to_host}: {why}", persist)
        if not queue:
            self.book.end(app_id, "failed" if app_id in self.failed else "succeeded", persist)
            self.forget(app_id, persist)
            return False
        tasks = self.index.of_app(app_id)
        counted = sum(1 for t in tasks if readiness.counts(app, t) and not t.killing)
        if counted < app.spec.instances or any(t.killing and t.state not in TERMINAL for t in tasks):
            return False  # not every instance up, or one still going: wait
        move = queue.popleft()
        _, max_total = capacity_bounds(app)  # the stop-first order keeps n - 1 >= the minimum
        first = app.spec.instances + 1 > max_total
        self.active[app_id] = ActiveMove(move, "first" if first else "launch", self.clock(), first=first)
        if first:
            self._stop_old(app_id, persist, out)
            return False
        return True

    # --- endings --------------------------------------------------------------------------------

    def _stop_old(self, app_id: str, persist: Persist, out: list[Instruction]) -> None:
        old = self.index.get(self.active[app_id].move.task_id)
        if old is not None and old.state not in TERMINAL and not old.killing:
            self._kill(old, persist, out)

    def _kill(self, task: TaskRecord, persist: Persist, out: list[Instruction]) -> None:
        marked = task.evolve(killing=True)
        self.index.set(marked)
        persist.tasks.append(marked)
        out.append(self.kill(task.task_id, task.agent_id, self.clock()))

    def _done(self, app_id: str, persist: Persist) -> None:
        active = self.active.pop(app_id)
        m = active.move
        self._note(app_id, f"moved {m.task_id} {m.from_host} -> {m.to_host} (new {active.new_task})", persist)
        self.index.dirty.add(app_id)

    def drop(self, app_id: str, why: str, persist: Persist, failed: bool = False) -> None:
        """End the app's move under way, saying ``why`` in its deployment."""
        active = self.active.pop(app_id)
        if active.new_task:
            self.extra.discard(active.new_task)
        m = active.move
        self._note(app_id, f"{'failed' if failed else 'dropped'} {m.task_id} {m.from_host} -> {m.to_host}: {why}",
                   persist)
        if failed:
            self.failed.add(app_id)
        self.index.dirty.add(app_id)

    def _note(self, app_id: str, text: str, persist: Persist, record: DeploymentRecord | None = None) -> None:
        """Say what became of a move in the app's deployment (``moves``, shown by /v2/deployments)."""
        record = record or self.book.of_app(app_id)
        if record is not None:
            self.book.note(record, text, persist)

    def _abandon(self, app_id: str, persist: Persist, out: list[Instruction]) -> None:
        """The deployment ended otherwise (cancelled, superseded, timed out): drop what is left;
        a new instance that does not count yet is killed (the old one still serves)."""
        active = self.active.get(app_id)
        if active is not None and active.new_task in self.extra:
            self.extra.discard(active.new_task)
            new = self.index.get(active.new_task or "")
            if new is not None and new.live:
                self._kill(new, persist, out)
        self.forget(app_id, persist)
        self.index.dirty.add(app_id)

    def forget(self, app_id: str, persist: Persist) -> None:
        """The app's moves are over (or the app is gone): drop what is left of them."""
        active = self.active.pop(app_id, None)
        if active is not None and active.new_task:
            self.extra.discard(active.new_task)
        self.queues.pop(app_id, None)
        self.deployment.pop(app_id, None)
        self.failed.discard(app_id)
