"""Service discovery's rules: which tasks are announced, each task's stable shard, and the drain
before a kill. Pure: the engine calls it after every event; what it decides leaves as
:class:`~.members.Announce`, :class:`~.members.Withdraw` and :class:`~.members.SyncMembers`
instructions, which the leader's writer (``store/serversets.py``) carries out.

A task is **announced** while

* it runs (``TASK_RUNNING``), is not being killed or drained, and its agent is reachable;
* it is healthy, when its app has a health check, and ready, when it has a readiness check
  (for a task of an older config, during a rolling upgrade: it has not failed its health check,
  and it was announced already: members follow the health gates);
* it has host ports (a member is an endpoint).

Each live task gets a **shard** (Aurora's instance index) once: the smallest index no other live
task of the same config holds, so a replaced instance's index is reused (a task of the new config
takes the index of the old one it replaces). It is persisted with the task.

A **kill** of an announced task waits: its member is withdrawn first (the ``Withdraw`` comes before
any ``Kill`` in the same batch) and, when the app's drain delay (``drainSeconds``, or the label
``HALYARD_DRAIN_SECONDS``) is above 0, the ``Kill`` is held back until that many seconds have
passed (the clock moves with ``Tick``). The task is marked as being killed at once, so the rolling
upgrade counts it as gone.

A new leader (and a leader that subscribed again) announces nothing until the reconciliation
after subscribing is answered (or ``sync_after`` seconds have passed); then it sends one
``SyncMembers`` with every member, which removes the members of tasks that went meanwhile and adds
the missing ones. Every ``resync_every`` seconds it sends another (this heals a failed write).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..cluster.mesos_types import TERMINAL
from ..spec.app import AppSpec
from .app_records import AppRecord, TaskRecord
from .members import Announce, Member, SyncMembers, Withdraw
from .messages import Instruction, Kill, Persist
from .task_index import TaskIndex

DRAIN_LABEL = "HALYARD_DRAIN_SECONDS"
OFF = "discovery is off (--no-discovery)"


def drain_seconds(spec: AppSpec) -> float:
    """How long a kill of an announced task waits after its member is withdrawn: ``drainSeconds``,
    else the label ``HALYARD_DRAIN_SECONDS`` (validated as a number), else 0."""
    if spec.drain_seconds is not None:
        return spec.drain_seconds
    raw = spec.labels.get(DRAIN_LABEL)
    return float(raw) if raw not in (None, "") else 0.0


@dataclass(frozen=True)
class EndpointStatus:
    """One task as discovery sees it: announced (``member``), or why not (``reason``)."""

    task: TaskRecord
    member: Member | None
    reason: str | None
    drain_until: float | None = None


class Announcements:
    """What is announced (by task id), what drains, and when to synchronise the whole tree."""

    def __init__(self, enabled: bool = False, sync_after: float = 30.0, resync_every: float = 60.0):
        self.enabled = enabled
        self.sync_after, self.resync_every = sync_after, resync_every
        self.members: dict[str, Member] = {}                     # task id -> announced member
        self.draining: dict[str, tuple[str | None, float]] = {}  # task id -> (agent id, kill at)
        self.synced = False
        self._subscribed_at: float | None = None
        self._next_sync = 0.0

    # --- after every event ---------------------------------------------------------------------

    def step(self, out: list[Instruction], apps: Mapping[str, AppRecord], changed_apps: set[str], index: TaskIndex,
             now: float, reconciling: int) -> list[Instruction]:
        """``out`` (an event's instructions) with discovery's: shards for new tasks (written with
        the first Persist), Kills of announced tasks held back for their drain delay, and
        Withdraws/Announces (or a SyncMembers when due) after the first Persist and before the
        first Kill. Looks only at what changed: the tasks ``index`` says changed, and every task
        of the apps in ``changed_apps`` (their records set or removed since the last step: the
        engine's :class:`~.app_table.AppTable` notes them)."""
        changed = index.take_changed()
        need_shards = set(changed_apps) | {t.app_id for t in map(index.get, changed)
                                           if t is not None and t.shard is None}
        shards = [t for app_id in need_shards for t in self.assign_shards(index.of_app(app_id))]
        for task in shards:
            index.set(task)
        index.take_changed()  # the shards just set: looked at below
        if shards:
            out = _with_writes(out, shards)
        kept = [ins for ins in out if not (isinstance(ins, Kill) and (killed := index.get(ins.task_id)) is not None
                                           and self.hold_kill(killed, apps.get(killed.app_id), now))]
        changes: list[Instruction]
        if self.sync_due(now, reconciling):
            changes = [self.sync(self.desired(apps, index.tasks.values()), now)]
        else:
            scope = set(changed) | {t.task_id for a in changed_apps for t in index.of_app(a)}
            scope |= {m.task_id for m in self.members.values() if m.app_id in changed_apps} if changed_apps else set()
            tasks = [t for t in map(index.get, scope) if t is not None]
            changes = list(self.diff(self.desired(apps, tasks), scope))
        if not changes:
            return kept
        at = next((i for i, ins in enumerate(kept) if isinstance(ins, Kill)), None)
        if at is None:
            at = next((i + 1 for i, ins in enumerate(kept) if isinstance(ins, Persist)), 0)
        return kept[:at] + changes + kept[at:]

    # --- the rules ----------------------------------------------------------------------------

    def reason(self, app: AppRecord | None, task: TaskRecord) -> str | None:
        """Why ``task`` is not to be announced now; None: it is."""
        if app is None:
            return "its app is gone"
        if task.state in TERMINAL:
            return f"ended ({task.state})"
        if task.task_id in self.draining:
            return "draining before its kill"
        if task.killing or app.deleting:
            return "being killed"
        if task.expired or task.unreachable_since is not None or task.state == "TASK_UNREACHABLE":
            return "agent unreachable"
        if task.state != "TASK_RUNNING":
            return f"not running yet ({task.state})"
        spec = app.spec
        if task.config_version == app.config_version:
            if spec.health_checks and task.healthy is not True:
                return "unhealthy" if task.healthy is False else "not yet healthy"
            if spec.readiness_checks and task.ready is not True:
                return "not ready" if task.ready is False else "not yet ready"
        else:  # an older config, being replaced: it stays while it serves
            if task.healthy is False:
                return "unhealthy"
            if self.synced and task.task_id not in self.members:
                return "of an older configuration, never announced"
        if not task.ports:
            return "no host ports"
        if task.shard is None:
            return "no shard yet"
        return None

    def member(self, app: AppRecord, task: TaskRecord) -> Member:
        """``task``'s member (its shard assigned)."""
        assert task.shard is not None
        return Member(app_id=app.app_id, task_id=task.task_id, host=task.hostname, ports=task.ports,
                      port_names=app.spec.port_names()[:len(task.ports)], shard=task.shard,
                      since=task.started_at or task.staged_at)

    def desired(self, apps: Mapping[str, AppRecord], tasks: Iterable[TaskRecord]) -> dict[str, Member]:
        """Task id -> member, for every task to be announced now."""
        out: dict[str, Member] = {}
        for task in tasks:
            app = apps.get(task.app_id)
            if app is not None and self.reason(app, task) is None:
                out[task.task_id] = self.member(app, task)
        return out

    # --- shards -------------------------------------------------------------------------------

    @staticmethod
    def assign_shards(tasks: list[TaskRecord]) -> list[TaskRecord]:
        """One app's live tasks without a shard, each given the smallest index no other live task
        of its config holds (returned as changed records)."""
        live = [t for t in tasks if t.live]
        changed: list[TaskRecord] = []
        held: dict[float, set[int]] = {}
        for t in live:
            if t.shard is not None:
                held.setdefault(t.config_version, set()).add(t.shard)
        for t in sorted((t for t in live if t.shard is None), key=lambda t: (t.staged_at, t.task_id)):
            taken = held.setdefault(t.config_version, set())
            shard = next(i for i in range(len(taken) + 1) if i not in taken)
            taken.add(shard)
            changed.append(t.evolve(shard=shard))
        return changed

    # --- subscription and synchronisation -----------------------------------------------------

    def subscribed(self, now: float) -> None:
        """(Re)subscribed: hold the diffs until reconciliation is answered, then synchronise."""
        self.synced = False
        self._subscribed_at = now

    def sync_due(self, now: float, reconciling: int) -> bool:
        """Time for a ``SyncMembers``: the first after subscribing, or the periodic one."""
        if not self.enabled or self._subscribed_at is None:
            return False
        if not self.synced:
            return reconciling == 0 or now - self._subscribed_at >= self.sync_after
        return now >= self._next_sync

    def sync(self, desired: dict[str, Member], now: float) -> SyncMembers:
        """The whole tree, as it should be."""
        full = not self.synced
        self.members = dict(desired)
        self.synced = True
        self._next_sync = now + self.resync_every
        return SyncMembers(tuple(sorted(desired.values(), key=lambda m: (m.app_id, m.shard, m.task_id))), full)

    def diff(self, desired: dict[str, Member], scope: set[str] | None = None) -> list[Withdraw | Announce]:
        """Announce what should be announced, withdraw what should not; ``desired`` covers
        the task ids in ``scope`` (None: every task), the other members stay."""
        if not self.synced:
            return []
        ids = set(self.members) | set(desired) if scope is None else scope
        withdraw = [self.members.pop(t) for t in ids if t in self.members and self.members[t] != desired.get(t)]
        announce = [desired[t] for t in ids if t in desired and t not in self.members]
        for member in announce:
            self.members[member.task_id] = member
        order = (lambda m: (m.app_id, m.shard, m.task_id))
        # New members first: a task replacing another is announced before the other is withdrawn.
        return [Announce(m) for m in sorted(announce, key=order)] + [Withdraw(m) for m in sorted(withdraw, key=order)]

    # --- the drain before a kill --------------------------------------------------------------

    def hold_kill(self, task: TaskRecord, app: AppRecord | None, now: float) -> bool:
        """Should a Kill of ``task`` wait (its member is withdrawn now; it is killed at
        ``now + drain``)? Only an announced task of an app with a drain delay waits."""
        if not self.enabled or app is None or task.task_id not in self.members:
            return task.task_id in self.draining
        drain = drain_seconds(app.spec)
        if drain <= 0:
            return False
        self.draining.setdefault(task.task_id, (task.agent_id, now + drain))
        return True

    def drained(self, now: float, alive: Callable[[str], bool]) -> list[tuple[str, str | None]]:
        """(task id, agent id) of the tasks whose drain is over: kill them now. Tasks that ended
        meanwhile are forgotten."""
        due = []
        for task_id, (agent_id, at) in list(self.draining.items()):
            if not alive(task_id):
                del self.draining[task_id]
            elif now >= at:
                del self.draining[task_id]
                due.append((task_id, agent_id))
        return due

    def status(self, app: AppRecord, tasks: list[TaskRecord]) -> list[EndpointStatus]:
        """Each of the app's tasks: its member if announced, else why not."""
        out = []
        for task in sorted(tasks, key=lambda t: (t.shard if t.shard is not None else 1 << 30, t.staged_at)):
            member = self.members.get(task.task_id) if self.enabled else None
            if member is not None:
                out.append(EndpointStatus(task, member, None))
                continue
            if not self.enabled:
                reason: str | None = OFF
            elif not self.synced:
                reason = self.reason(app, task) or "waiting for the reconciliation after subscribing"
            else:
                reason = self.reason(app, task) or "announced with the next change"
            drain = self.draining.get(task.task_id)
            out.append(EndpointStatus(task, None, reason, drain[1] if drain else None))
        return out


def _with_writes(out: list[Instruction], tasks: list[TaskRecord]) -> list[Instruction]:
    """``tasks`` written with the first Persist (replacing its older records of them), or in a new
    Persist first."""
    for ins in out:
        if isinstance(ins, Persist):
            ids = {t.task_id for t in tasks}
            ins.tasks = [t for t in ins.tasks if t.task_id not in ids] + tasks
            return out
    return [Persist(tasks=tasks)] + out
