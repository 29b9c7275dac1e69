"""Desired vs actual for one app, as a pure diff: how many tasks to launch, which to kill.

Rules (Marathon's, with its upgrade strategy):

* tasks of the current configuration beyond ``instances`` are killed, chosen by ``killSelection``
  and so that every ``GROUP_BY`` constraint stays balanced (``kill_selection.py``);
* tasks of an older configuration (after a config change or a restart) are replaced, gated by
  health (Marathon's TaskReplaceActor): a new task counts only once it is up (running, healthy if
  the app has a health check, running ``minReadySeconds``: :mod:`.readiness`), an old one while it
  runs and has not failed its health check. An old task is killed only while at least
  ``ceil(instances * minimumHealthCapacity)`` tasks that count or serve remain after it; those
  that do not serve (not running yet, or unhealthy) go first, then by ``killSelection``. New tasks
  are launched while the total, old tasks still dying included, stays within
  ``floor(instances * (1 + maximumOverCapacity))``; when that bound equals the minimum (e.g.
  1 and 0), one task more is allowed, as in Marathon, or no old task could ever go;
* when the new tasks could not be placed in the last offer cycle (``stuck``: e.g. UNIQUE hostname
  with old tasks on every host) one old task is killed to make room, one at a time, each once the
  new tasks placed so far count;
* a task given up on (unreachable past the grace period) that comes back is killed;
* a deleted app's tasks are all killed.
"""
from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field

from ..cluster.mesos_types import TERMINAL
from .app_records import AppRecord, TaskRecord
from .kill_selection import AgentValues, select_kills
from .readiness import Readiness


@dataclass
class Decision:
    launch: int = 0
    kill: list[TaskRecord] = field(default_factory=list)


def by_kill_selection(tasks: list[TaskRecord], selection: str) -> list[TaskRecord]:
    """Tasks in the order they should be killed: not yet running first, then youngest or oldest."""
    youngest_first = selection == "YOUNGEST_FIRST"

    def key(t: TaskRecord) -> tuple:
        started = t.started_at if t.started_at is not None else float("inf")
        return (t.running, -started if youngest_first else started, -t.staged_at if youngest_first else t.staged_at)

    return sorted(tasks, key=key)


def converge(app: AppRecord, tasks: list[TaskRecord], readiness: Readiness, stuck: bool = False,
             agent_values: AgentValues | None = None, leaving: Collection[str] = ()) -> Decision:
    """What to do now for ``app`` given its known ``tasks``; ``readiness``: when a task counts, now;
    ``stuck``: its new tasks found no room; ``agent_values``: what is known of each agent (for
    ``GROUP_BY`` when scaling down); ``leaving``: agents being drained, whose tasks are replaced
    as old ones are (never killed to make room: the new ones cannot go there)."""
    present = [t for t in tasks if t.state not in TERMINAL and not t.killing]
    if app.deleting:
        return Decision(kill=present)
    decision = Decision()
    decision.kill += [t for t in present if t.expired and t.state != "TASK_UNREACHABLE"]
    live = [t for t in present if t.live]
    new = [t for t in live if t.config_version == app.config_version and t.agent_id not in leaving]
    old = [t for t in live if t.config_version != app.config_version or t.agent_id in leaving]
    if leaving and any(t.agent_id in leaving for t in old):
        stuck = False
    n = app.spec.instances
    selection = app.spec.kill_selection
    if len(new) > n:
        surplus = select_kills(by_kill_selection(new, selection), len(new) - n, app.spec.constraints, agent_values)
        decision.kill += surplus
        new = [t for t in new if t not in surplus]
    decision.launch = _replace(app, new, old, _dying_old(app, tasks, leaving), readiness, stuck, decision.kill)
    return decision


def capacity_bounds(app: AppRecord) -> tuple[int, int]:
    """(tasks that must count or serve, most tasks at once) while the app's tasks are replaced."""
    n, strategy = app.spec.instances, app.spec.upgrade_strategy
    min_healthy = math.ceil(n * strategy.minimum_health_capacity)
    max_total = math.floor(n * (1 + strategy.maximum_over_capacity))
    if max_total <= min_healthy:
        max_total = min_healthy + 1  # Marathon's temporary over-capacity of one: else no old task could go
    return min_healthy, max_total


def _dying_old(app: AppRecord, tasks: list[TaskRecord], leaving: Collection[str] = ()) -> int:
    """Old tasks asked to stop that have not stopped yet: they still hold their place in the total."""
    return sum(1 for t in tasks if t.killing and t.state not in TERMINAL
               and (t.config_version != app.config_version or t.agent_id in leaving)
               and not t.expired and t.unreachable_since is None)


def _replace(app: AppRecord, new: list[TaskRecord], old: list[TaskRecord], dying: int, readiness: Readiness,
             stuck: bool, kill: list[TaskRecord]) -> int:
    """Old tasks to kill (appended to ``kill``) and how many new tasks to launch, within the bounds."""
    n = app.spec.instances
    min_healthy, max_total = capacity_bounds(app)
    counted = sum(1 for t in new if readiness.counts(app, t))
    up = counted + sum(1 for t in old if readiness.serves(t))
    kept_old = []
    for t in sorted(by_kill_selection(old, app.spec.kill_selection), key=readiness.serves):  # not serving first
        serves = readiness.serves(t)
        if not serves or up - 1 >= min_healthy:
            kill.append(t)
            up -= int(serves)
        else:
            kept_old.append(t)
    # Every old task, kept or dying (killed now or before), holds its place until it is gone.
    launch = max(0, min(n - len(new), max_total - len(new) - len(old) - dying))
    if stuck and kept_old and launch > 0 and not dying and len(kept_old) == len(old) and counted == len(new):
        kill.append(kept_old.pop(0))  # no other way forward: make room
    return launch
