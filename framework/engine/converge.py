"""Desired vs actual for one app, as a pure diff: how many tasks to launch, which to kill.

Rules (Marathon's, with its upgrade strategy):

* tasks of the current configuration beyond ``instances`` are killed, chosen by ``killSelection``
  and so that every ``GROUP_BY`` constraint stays balanced (``kill_selection.py``);
* tasks of an older configuration (after a config change or a restart) are replaced: new tasks
  are launched while the total stays within ``instances * (1 + maximumOverCapacity)``, and old
  ones are killed while at least ``instances * minimumHealthCapacity`` tasks keep running; when
  neither rule allows progress, one old task is killed to make room;
* when the new tasks could not be placed in the last offer cycle (``stuck``: e.g. UNIQUE hostname
  with old tasks on every host) one old task is killed to make room, one at a time;
* a task given up on (unreachable past the grace period) that comes back is killed;
* a deleted app's tasks are all killed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from .app_records import TERMINAL, AppRecord, TaskRecord
from .kill_selection import AgentValues, select_kills


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


def converge(app: AppRecord, tasks: list[TaskRecord], stuck: bool = False,
             agent_values: Optional[AgentValues] = None) -> Decision:
    """What to do now for ``app`` given its known ``tasks``; ``stuck``: its new tasks found no room;
    ``agent_values``: what is known of each agent (for ``GROUP_BY`` when scaling down)."""
    present = [t for t in tasks if t.state not in TERMINAL and not t.killing]
    if app.deleting:
        return Decision(kill=present)
    decision = Decision()
    decision.kill += [t for t in present if t.expired and t.state != "TASK_UNREACHABLE"]
    live = [t for t in present if t.live]
    new = [t for t in live if t.config_version == app.config_version]
    old = [t for t in live if t.config_version != app.config_version]
    n = app.spec.instances
    selection = app.spec.kill_selection
    if len(new) > n:
        surplus = select_kills(by_kill_selection(new, selection), len(new) - n, app.spec.constraints, agent_values)
        decision.kill += surplus
        new = [t for t in new if t not in surplus]
    strategy = app.spec.upgrade_strategy
    min_running = math.ceil(n * strategy.minimum_health_capacity)
    max_total = n + math.floor(n * strategy.maximum_over_capacity)
    running = sum(1 for t in new + old if t.running)
    new_running = sum(1 for t in new if t.running)
    kept_old = []
    for t in by_kill_selection(old, selection):
        if not t.running or new_running >= n or running - 1 >= min_running:
            decision.kill.append(t)
            running -= int(t.running)
        else:
            kept_old.append(t)
    decision.launch = max(0, min(n - len(new), max_total - len(new) - len(kept_old)))
    making_room = any(t.killing and t.config_version != app.config_version and t.state not in TERMINAL
                      for t in tasks)
    if kept_old and len(new) < n and (decision.launch == 0 or stuck) and not making_room:
        decision.kill.append(kept_old.pop(0))  # no other way forward: make room
        decision.launch = max(0, min(n - len(new), max_total - len(new) - len(kept_old)))
    return decision
