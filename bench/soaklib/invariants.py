"""The soak's invariants, as pure checks on recorded snapshots (no I/O: unit-tested on samples).

A :class:`Sample` is what ``observe`` reads in one second: the master's tasks of the framework,
which schedulers say they lead (with their epoch), and Halyard's state in ZooKeeper. The checks:

* :class:`CapacityWatch` -- never more running tasks of an app than ``instances x (1 + maximumOverCapacity)``
  (``instances`` the largest the app had within the kill window: a scale-down or a destroy kills
  what is over, which takes a moment), for longer than a tolerance;
* :class:`LeaderWatch` -- the epoch in ZooKeeper never goes back, no two schedulers lead with the
  same epoch, and a leadership that starts has a larger epoch than every earlier one;
* :func:`unsettled` -- after a fault settles: every app that is not deploying has exactly its
  instances running, with no orphan either way (a task in Mesos that Halyard does not know, or
  one Halyard counts as live that Mesos does not know);
* :func:`cron_problems` -- every cron firing ran exactly once (none doubled, none missed);
* :func:`restarted_by_failover` -- a master failover (``--ha``) restarts no task: the untouched
  app's running task ids are the same after it;
* :func:`lost_objects`, :func:`stuck_deployments`, :func:`server_errors`, :func:`missed_events`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Optional

JOB_TASK_PREFIX = "job."


@dataclass(frozen=True)
class AppState:
    """One app as Halyard stores it."""

    instances: int
    max_over: float = 1.0     # upgradeStrategy.maximumOverCapacity
    deploying: bool = False   # a deployment of it is running
    deleting: bool = False
    min_health: float = 1.0   # upgradeStrategy.minimumHealthCapacity


@dataclass(frozen=True)
class TaskState:
    """One task as Halyard stores it."""

    app_id: str
    state: str
    live: bool                # counts towards the app (not terminal, not being killed, not given up on)
    note: str = ""            # for the log: killing, expired, agent


@dataclass
class Sample:
    """One second's reading. ``None`` for a part that could not be read then."""

    t: float
    master: Optional[dict[str, str]] = None        # task id -> Mesos state, of the framework's non-terminal
    #                                                tasks (unreachable ones too)
    leaders: dict[int, Optional[int]] = field(default_factory=dict)  # scheduler index -> epoch, of those leading
    zk_epoch: Optional[int] = None
    apps: Optional[dict[str, AppState]] = None
    tasks: Optional[dict[str, TaskState]] = None


def task_prefix(app_id: str) -> str:
    """The part of an app's task ids before the unique part (``/soak/web`` -> ``soak_web``)."""
    return "_".join(app_id.strip("/").split("/"))


def app_of_task(task_id: str, app_ids: Iterable[str]) -> Optional[str]:
    prefix = task_id.rpartition(".")[0]
    return next((a for a in app_ids if task_prefix(a) == prefix), None)


def capacity_bound(instances: int, max_over: float, min_health: float = 1.0) -> int:
    """The most tasks of an app at once: ``instances x (1 + maximumOverCapacity)``, plus
    Marathon's temporary over-capacity of one when that bound leaves no room to replace a task
    without going under ``minimumHealthCapacity`` (its TaskReplaceActor: "make sure at least one
    task can be started to get the ball rolling"; Halyard's ``engine/converge.capacity_bounds``)."""
    if instances <= 0:
        return 0
    bound = instances + math.ceil(instances * max_over)
    min_healthy = math.ceil(instances * min_health)
    return max(bound, min_healthy + 1) if math.floor(instances * (1 + max_over)) <= min_healthy else bound


class CapacityWatch:
    """Over-capacity: more TASK_RUNNING tasks of an app in Mesos than its bound, for longer than
    ``tolerance`` seconds (a kill takes a moment). ``window``: how long an app's larger earlier
    ``instances`` still count (a scale-down or restart kills the surplus)."""

    def __init__(self, tolerance: float = 15.0, window: float = 20.0):
        self.tolerance, self.window = tolerance, window
        self.history: dict[str, list[tuple[float, int, float, float]]] = {}   # app -> [(t, instances, max_over, min_health)]
        self.over_since: dict[str, float] = {}
        self.reported: set[str] = set()

    def feed(self, sample: Sample) -> list[str]:
        if sample.master is None or sample.apps is None:
            return []
        for app_id, app in sample.apps.items():
            self.history.setdefault(app_id, []).append((sample.t, app.instances, app.max_over, app.min_health))
        for app_id in list(self.history):
            self.history[app_id] = [h for h in self.history[app_id] if h[0] >= sample.t - self.window]
        running: dict[str, int] = {}
        known = list(self.history)
        for task_id, state in sample.master.items():
            app_id = app_of_task(task_id, known)
            if app_id is not None and state == "TASK_RUNNING":
                running[app_id] = running.get(app_id, 0) + 1
        problems = []
        for app_id in known:
            history = self.history[app_id]
            bound = max((capacity_bound(n, over, health) for _, n, over, health in history), default=0)
            if running.get(app_id, 0) > bound:
                since = self.over_since.setdefault(app_id, sample.t)
                key = f"{app_id}@{since:.0f}"
                if sample.t - since > self.tolerance and key not in self.reported:
                    self.reported.add(key)
                    problems.append(f"over capacity: {app_id} has {running[app_id]} running tasks in Mesos, "
                                    f"bound {bound}, for {sample.t - since:.0f}s")
            else:
                self.over_since.pop(app_id, None)
        return problems


class LeaderWatch:
    """One leader at a time, and epochs that only grow."""

    def __init__(self) -> None:
        self.max_zk_epoch: Optional[int] = None
        self.epoch_owner: dict[int, int] = {}     # epoch -> the scheduler that led with it
        self.leader_epochs: dict[int, int] = {}   # scheduler -> the epoch it led with last
        self.max_leader_epoch = 0

    def feed(self, sample: Sample) -> list[str]:
        problems = []
        if sample.zk_epoch is not None:
            if self.max_zk_epoch is not None and sample.zk_epoch < self.max_zk_epoch:
                problems.append(f"epoch went back in ZooKeeper: {self.max_zk_epoch} -> {sample.zk_epoch}")
            self.max_zk_epoch = max(sample.zk_epoch, self.max_zk_epoch or 0)
        claims = {i: e for i, e in sample.leaders.items() if e is not None}
        by_epoch: dict[int, list[int]] = {}
        for index, epoch in claims.items():
            by_epoch.setdefault(epoch, []).append(index)
        for epoch, indexes in by_epoch.items():
            if len(indexes) > 1:
                problems.append(f"schedulers {sorted(indexes)} lead at once with the same epoch {epoch}")
        for index, epoch in sorted(claims.items(), key=lambda c: c[1]):
            owner = self.epoch_owner.setdefault(epoch, index)
            if owner != index:
                problems.append(f"scheduler {index} leads with epoch {epoch}, which scheduler {owner} led with")
            if self.leader_epochs.get(index) != epoch:   # a leadership starts (or is first seen)
                if epoch < self.max_leader_epoch:
                    problems.append(f"scheduler {index} starts leading with epoch {epoch} < {self.max_leader_epoch}")
                self.leader_epochs[index] = epoch
            self.max_leader_epoch = max(self.max_leader_epoch, epoch)
        return problems

    def stale(self, sample: Sample) -> list[int]:
        """Schedulers that say they lead with an epoch older than the newest known: deposed ones
        (their writes must be refused)."""
        newest = max([self.max_leader_epoch, self.max_zk_epoch or 0])
        return [i for i, e in sample.leaders.items() if e is not None and e < newest]


def unsettled(sample: Sample) -> list[str]:
    """Why the cluster is not settled now (empty: it is): a leader, ZooKeeper and the master
    readable, every app not deploying at exactly its instances, and no orphan either way."""
    if sample.master is None:
        return ["the master's state cannot be read"]
    if sample.apps is None or sample.tasks is None:
        return ["ZooKeeper cannot be read"]
    if not sample.leaders:
        return ["no leader"]
    problems = []
    app_ids = list(sample.apps)
    for app_id, app in sorted(sample.apps.items()):
        if app.deploying or app.deleting:
            continue
        running_mesos = sum(1 for t, s in sample.master.items()
                            if s == "TASK_RUNNING" and app_of_task(t, [app_id]) == app_id)
        live_halyard = sum(1 for t in sample.tasks.values() if t.app_id == app_id and t.live)
        if running_mesos != app.instances or live_halyard != app.instances:
            problems.append(f"{app_id}: {app.instances} instances, {running_mesos} running in Mesos, "
                            f"{live_halyard} live in Halyard")
    for task_id, state in sorted(sample.master.items()):
        if task_id.startswith(JOB_TASK_PREFIX) or state == "TASK_UNREACHABLE":   # none can be killed until it is back
            continue
        if task_id not in sample.tasks:
            owner = app_of_task(task_id, app_ids) or "no app"
            problems.append(f"orphan in Mesos: {task_id} ({state}, {owner}) unknown to Halyard")
    for task_id, task in sorted(sample.tasks.items()):
        if task.live and task_id not in sample.master:
            problems.append(f"unknown to Mesos: {task_id} ({task.app_id}, {task.state}) live in Halyard")
    return problems


def cron_problems(runs: list[dict], first_fire: float, last_fire: float, period: float = 60.0) -> list[str]:
    """Every scheduled firing in ``[first_fire, last_fire]`` (epoch seconds, on the period) ran exactly once.
    ``runs``: the job's runs as ``/v1/jobs/<id>/runs`` gives them, ``scheduledFor`` as epoch seconds."""
    counts: dict[float, list[str]] = {}
    for run in runs:
        if run.get("trigger") == "schedule" and run.get("scheduledFor") is not None:
            counts.setdefault(float(run["scheduledFor"]), []).append(run["id"])
    problems = [f"cron firing at {at:.0f} ran {len(ids)} times: {sorted(ids)}" for at, ids in sorted(counts.items())
                if len(ids) > 1]
    at = math.ceil(first_fire / period) * period
    while at <= last_fire:
        if at not in counts:
            problems.append(f"cron firing at {at:.0f} never ran")
        at += period
    return problems


def restarted_by_failover(before: Iterable[str], after: Iterable[str], what: str) -> list[str]:
    """The running task ids of an app that nothing else changes, before a master failover and
    once it settled: every one is still there, and no other runs (a task killed or relaunched on
    failover is Marathon's #1553/#2308)."""
    gone, new = sorted(set(before) - set(after)), sorted(set(after) - set(before))
    if not gone and not new:
        return []
    return [f"{what} restarted tasks: {len(gone)} gone ({', '.join(gone[:3])}), {len(new)} new ({', '.join(new[:3])})"]


def lost_objects(expected: Iterable[str], present: Iterable[str], kind: str) -> list[str]:
    """What was created (and not removed) but is gone."""
    missing = sorted(set(expected) - set(present))
    return [f"{kind} lost: {name}" for name in missing]


def stuck_deployments(running: dict[str, float], now: float, bound: float,
                      said: Optional[set[str]] = None) -> list[str]:
    """Deployments (id -> start time) running for longer than ``bound`` seconds; with ``said``, only
    those not in it, which are added to it (a stuck deployment is reported once, not every sample)."""
    stuck = [(d, t) for d, t in sorted(running.items())
             if now - t > bound and (said is None or d not in said)]
    if said is not None:
        said.update(d for d, _ in stuck)
    return [f"deployment {d} has run for {now - t:.0f}s (> {bound:.0f}s)" for d, t in stuck]


def leaderless_intervals(samples: list[Sample]) -> list[tuple[float, float]]:
    """When no scheduler led (or ZooKeeper, where leadership lives, could not be read), as [start, end).
    A change of leader between two readings counts as leaderless from the one to the other: the
    old leader stepped down, and the new one was elected, somewhere in between."""
    intervals: list[tuple[float, float]] = []
    start: Optional[float] = None
    previous: Optional[Sample] = None
    for s in samples:
        without = not s.leaders or s.zk_epoch is None
        if without and start is None:
            start = s.t
        elif not without and start is not None:
            intervals.append((start, s.t))
            start = None
        elif not without and previous is not None and previous.leaders and \
                max(previous.leaders.items(), key=lambda c: c[1] or 0) != max(s.leaders.items(), key=lambda c: c[1] or 0):
            intervals.append((previous.t, s.t))
        previous = s
    if start is not None and samples:
        intervals.append((start, samples[-1].t + 1))
    return intervals


#: in a 503's body: the scheduler that answered had lost ZooKeeper (a leader accepts no change
#: then, and a standby cannot read who leads): by design (issue 24, rule 2), whoever else leads
ZOOKEEPER_UNREACHABLE = '"reason":"ZooKeeper unreachable'


def server_errors(responses: list[tuple], leaderless: list[tuple[float, float]],
                  slack: float = 5.0) -> list[str]:
    """5xx answers (answered at, status, what[, sent at]) other than a 503 to a request that was
    under way while no leader existed (``slack`` seconds either side: the reading is once a
    second and a failover is noticed late), or a 503 from a scheduler that said it had lost
    ZooKeeper. A request sent while leaderless and answered later (it waited at a frozen leader,
    then was refused) is such a request."""
    problems = []
    for t, status, what, *rest in responses:
        if status < 500 or (status == 503 and ZOOKEEPER_UNREACHABLE in what):
            continue
        sent = rest[0] if rest and rest[0] is not None else t
        if status == 503 and any(sent - slack <= b and a <= t + slack for a, b in leaderless):
            continue
        problems.append(f"{status} from {what} at {t:.1f}" + (" while a leader existed" if status == 503 else ""))
    return problems


def missed_events(running_at: dict[str, float], seen: set[str], connected: list[tuple[float, float]],
                  margin: float = 3.0, first_listed: Optional[dict[str, float]] = None,
                  late: float = 10.0) -> list[str]:
    """Tasks that Mesos says reached TASK_RUNNING at a time (task id -> time) the event subscriber
    was connected (from ``margin`` before to ``margin`` after) but whose TASK_RUNNING it never saw.

    ``first_listed`` (task id -> when the master first listed it with its TASK_RUNNING status;
    the sampler reads it every second): a task the master listed so only more than ``late``
    seconds after it ran is not checked. Either no master could be read then (a failover: the check is weaker during one), or
    the master had lost track of the task. The second was seen with ``--hosts``: the master offered
    a cut-off agent's resources for the seconds before it marked the agent unreachable; a task
    launched there became TASK_UNREACHABLE within a second, and Halyard replaced it. The launch
    reached the agent only at the heal, and the agent ran the task; the master answered "Could
    not lookup task" to its updates (it still forwarded them) and refused Halyard's kill as
    "unknown", until a restarted master learned the task from the agent. Halyard had given that
    task up: as Marathon does with an unknown task, it asked to kill it and published no event."""
    problems = []
    for task_id, at in sorted(running_at.items()):
        if task_id.startswith(JOB_TASK_PREFIX):   # a job's run is not a Marathon task: no status_update_event
            continue
        if first_listed is not None and first_listed.get(task_id, at) - at > late:
            continue
        covered = any(a <= at - margin and at + margin <= b for a, b in connected)
        if covered and task_id not in seen:
            problems.append(f"event stream missed TASK_RUNNING of {task_id} (at {at:.1f})")
    return problems
