"""Which tasks a scale-down kills: as Marathon's ``selectTasksToKill``, every GROUP_BY distribution
stays within one (kills come from the largest groups first), then ``killSelection`` decides."""
from __future__ import annotations

from collections import Counter

import pytest

from halyard.engine.app_records import TaskRecord
from halyard.engine.converge import by_kill_selection
from halyard.engine.kill_selection import select_kills
from halyard.spec.app import Constraint, Operator


def task(n: int, agent_id: str, started: float, hostname: str = "") -> TaskRecord:
    return TaskRecord(task_id=f"t{n}", app_id="/web", config_version=1.0, agent_id=agent_id,
                      hostname=hostname or f"{agent_id}.local", ports=(), state="TASK_RUNNING",
                      staged_at=started, started_at=started)


ZONE_OF = {"a": {"@zone": "z1"}, "b": {"@zone": "z2"}, "c": {"@zone": "z3"}}
GROUP_BY_ZONE = (Constraint("@zone", Operator.GROUP_BY),)


def kills(tasks, count, constraints, lookup, selection="YOUNGEST_FIRST") -> list[str]:
    return [t.task_id for t in select_kills(by_kill_selection(tasks, selection), count, constraints, lookup)]


def zones(tasks) -> list[int]:
    return sorted(Counter(ZONE_OF[t.agent_id]["@zone"] for t in tasks).values())


@pytest.mark.parametrize("placed, kill, expect", [
    ("aaabbc", 2, [1, 1, 2]),     # from the largest zone first
    ("aaabbbccc", 5, [1, 1, 2]),
    ("aaaaab", 3, [1, 2]),        # an uneven start gets more even
    ("abcabc", 3, [1, 1, 1]),
])
def test_scale_down_takes_from_the_largest_groups_first(placed, kill, expect):
    tasks = [task(i, a, started=float(i)) for i, a in enumerate(placed)]
    chosen = kills(tasks, kill, GROUP_BY_ZONE, ZONE_OF.get)
    assert len(chosen) == kill
    assert zones([t for t in tasks if t.task_id not in chosen]) == expect


def test_within_a_group_kill_selection_decides():
    tasks = [task(i, a, started=float(i)) for i, a in enumerate("aabc")]
    assert kills(tasks, 1, GROUP_BY_ZONE, ZONE_OF.get) == ["t1"]
    assert kills(tasks, 1, GROUP_BY_ZONE, ZONE_OF.get, "OLDEST_FIRST") == ["t0"]


def test_hostname_needs_no_agent_knowledge_and_unknown_agents_fall_back_to_kill_selection():
    tasks = [task(0, "a", 0.0), task(1, "a", 1.0), task(2, "b", 2.0)]
    hostname = (Constraint("hostname", Operator.GROUP_BY),)
    assert kills(tasks, 1, hostname, lambda agent_id: None) == ["t1"]
    # zones unknown (no offer seen from these agents): youngest first
    assert kills(tasks, 1, GROUP_BY_ZONE, lambda agent_id: None) == ["t2"]


def test_several_group_by_constraints_first_one_first_then_the_next():
    where = {"a": {"@zone": "z1", "rack": "r1"}, "b": {"@zone": "z1", "rack": "r2"}, "c": {"@zone": "z2", "rack": "r3"}}
    tasks = [task(i, a, float(i)) for i, a in enumerate("bbacc")]  # z1: t0-t2 (r2: t0, t1; r1: t2)
    both = (Constraint("@zone", Operator.GROUP_BY), Constraint("rack", Operator.GROUP_BY))
    assert kills(tasks, 1, both[:1], where.get) == ["t2"]  # the youngest of the largest zone
    assert kills(tasks, 1, both, where.get) == ["t1"]      # ... of its largest rack
