"""The rebalance planner (engine/rebalance.py): moves toward each app's strategy goal, table-driven."""
from __future__ import annotations

from collections import Counter
from typing import Optional

import pytest

from halyard.cluster.agents import AgentInfo
from halyard.placement import Planner, StrategyRegistry
from halyard.rebalance.planner import RebalanceApp, RebalancePlanner
from halyard.rebalance.state import RunningTask, imbalance
from halyard.spec.app import Workload

from .builders import agent, app

NOW = 10_000.0


def _tasks(app_id: str, layout: dict[str, int], age: float = 3600.0) -> tuple[RunningTask, ...]:
    out = []
    for agent_id, n in layout.items():
        out += [RunningTask(f"{app_id.strip('/')}.{agent_id}.{i}", agent_id, NOW - age, (0.1, 32.0, 0.0, 0.0))
                for i in range(n)]
    return tuple(out)


def _plan(apps: list[RebalanceApp], agents: list[AgentInfo], min_age: float = 0.0, max_moves: Optional[int] = None):
    return RebalancePlanner(Planner(StrategyRegistry()), min_age=min_age, max_moves=max_moves).plan(apps, agents, NOW)


def _after(apps: list[RebalanceApp], plan) -> Counter:
    where = {t.task_id: t.agent_id for a in apps for t in a.tasks}
    for m in plan.moves:
        where[m.task_id] = m.to_agent
    return Counter(where.values())


def _three(**extra) -> list[AgentInfo]:
    return [agent(f"a{i}", hostname=f"127.0.0.{i}", **extra) for i in (1, 2, 3)]


def _spread_app(n: int = 6, **extra) -> Workload:
    return app("/web", instances=n, cpus=0.1, mem=32, strategy="spread", **extra).workload()


@pytest.mark.parametrize("counts,score", [([3, 3, 0], 4), ([2, 2, 2], 0), ([3, 2, 2], 0), ([3, 3, 0, 0], 4),
                                          ([2, 2, 2, 0], 1), ([], 0), ([1], 0)])
def test_imbalance_is_zero_exactly_when_max_minus_min_is_at_most_one(counts, score):
    assert imbalance(counts) == score


def test_spread_3_3_0_moves_to_2_2_2_with_reasons_and_scores():
    apps = [RebalanceApp(_spread_app(), _tasks("/web", {"a1": 3, "a2": 3}))]
    plan = _plan(apps, _three())
    assert len(plan.moves) == 2
    assert sorted(_after(apps, plan).values()) == [2, 2, 2]
    first = plan.moves[0]
    assert first.reason == "/web: 127.0.0.1 has 3, 127.0.0.3 has 0 (spread)"
    assert (first.score_before, first.score_after) == (4, 2)
    assert plan.moves[1].score_after == 0
    assert {m.to_agent for m in plan.moves} == {"a3"}


def test_spread_four_agents_3_3_0_0_reaches_the_goal():
    agents = [agent(f"a{i}", hostname=f"h{i}") for i in range(1, 5)]
    apps = [RebalanceApp(_spread_app(), _tasks("/web", {"a1": 3, "a2": 3}))]
    plan = _plan(apps, agents)
    counts = _after(apps, plan)
    assert max(counts[a.id] for a in agents) - min(counts[a.id] for a in agents) <= 1


def test_spread_balances_zones_when_they_differ():
    agents = [agent("a1", zone="z1"), agent("a2", zone="z1"), agent("a3", zone="z2"), agent("a4", zone="z2")]
    # 2/2 per agent in z1, nothing in z2: per agent and per zone both off.
    apps = [RebalanceApp(_spread_app(4), _tasks("/web", {"a1": 2, "a2": 2}))]
    plan = _plan(apps, agents)
    after = _after(apps, plan)
    assert after["a1"] + after["a2"] == 2 and after["a3"] + after["a4"] == 2
    assert all(after[a] == 1 for a in ("a1", "a2", "a3", "a4"))
    assert "zone z1 has" in plan.moves[0].reason


def test_spread_ignores_agents_where_the_app_cannot_run():
    agents = _three()[:2] + [agent("a3", hostname="127.0.0.3", cpus=0.05)]  # too small for one instance
    apps = [RebalanceApp(_spread_app(), _tasks("/web", {"a1": 3, "a2": 3}))]
    assert _plan(apps, agents).moves == ()


def test_binpack_frees_the_least_used_agent():
    agents = _three()
    w = app("/pack", instances=4, cpus=0.5, mem=64, strategy="binpack").workload()
    apps = [RebalanceApp(w, _tasks("/pack", {"a1": 3, "a2": 1}))]
    plan = _plan(apps, agents)
    assert [(m.from_agent, m.to_agent) for m in plan.moves] == [("a2", "a1")]
    assert (plan.moves[0].score_before, plan.moves[0].score_after) == (2, 1)
    assert plan.moves[0].reason.endswith("(binpack)")


def test_binpack_does_not_move_when_the_others_cannot_take_them():
    w = app("/pack", instances=3, cpus=0.5, mem=64, strategy="binpack").workload()
    apps = [RebalanceApp(w, _tasks("/pack", {"a1": 1, "a2": 2}))]
    plan = _plan(apps, [agent("a1", cpus=0.0), agent("a2", cpus=0.4)])  # what is free besides their tasks
    assert plan.moves == ()


def test_an_instance_that_violates_a_constraint_moves_whatever_the_strategy():
    agents = [agent("a1", attrs={"rack": "r1"}), agent("a2", attrs={"rack": "r2"})]
    w = app("/c", instances=2, cpus=0.1, mem=32, strategy="random", constraints=[["rack", "IS", "r2"]]).workload()
    apps = [RebalanceApp(w, _tasks("/c", {"a1": 1, "a2": 1}))]
    plan = _plan(apps, agents)
    assert [(m.from_agent, m.to_agent, m.goal) for m in plan.moves] == [("a1", "a2", "constraint")]
    assert "rack is not r2" in plan.moves[0].reason


def test_unique_hostname_violation_moves_the_second_instance_away():
    agents = _three()
    w = app("/u", instances=2, cpus=0.1, mem=32, constraints=[["hostname", "UNIQUE"]]).workload()
    apps = [RebalanceApp(w, _tasks("/u", {"a1": 2}))]
    plan = _plan(apps, agents)
    assert len(plan.moves) == 1 and plan.moves[0].from_agent == "a1" and plan.moves[0].to_agent != "a1"


def test_label_opt_out_and_jobs_never_move():
    opted = app("/web", instances=6, cpus=0.1, mem=32, strategy="spread",
                labels={"halyard.rebalance": "false"}).workload()
    job = Workload(id="/halyard-jobs/j/r1", kind="job", instances=1, cpus=0.1, mem=32,
                   strategy=_spread_app().strategy)
    apps = [RebalanceApp(opted, _tasks("/web", {"a1": 3, "a2": 3})),
            RebalanceApp(job, _tasks("/halyard-jobs/j/r1", {"a1": 1}))]
    plan = _plan(apps, _three())
    assert plan.moves == ()
    assert dict(plan.skipped) == {"/web": "label halyard.rebalance=false", "/halyard-jobs/j/r1": "jobs never move"}


def test_young_instances_do_not_move():
    apps = [RebalanceApp(_spread_app(), _tasks("/web", {"a1": 3, "a2": 3}, age=60))]
    assert _plan(apps, _three(), min_age=300).moves == ()
    assert len(_plan(apps, _three(), min_age=30).moves) == 2


def test_a_second_plan_after_the_moves_plans_nothing():
    agents = _three()
    apps = [RebalanceApp(_spread_app(), _tasks("/web", {"a1": 3, "a2": 3})),
            RebalanceApp(app("/pack", instances=4, cpus=0.5, mem=64).workload(), _tasks("/pack", {"a1": 3, "a2": 1}))]
    first = _plan(apps, agents)
    assert first.moves
    moved = {m.task_id: m.to_agent for m in first.moves}
    again = [RebalanceApp(a.workload, tuple(RunningTask(t.task_id, moved.get(t.task_id, t.agent_id), t.started_at,
                                                        t.resources) for t in a.tasks)) for a in apps]
    assert _plan(again, agents).moves == ()


def test_below_the_threshold_nothing_moves():
    apps = [RebalanceApp(_spread_app(5), _tasks("/web", {"a1": 2, "a2": 2, "a3": 1}))]  # max - min = 1
    assert _plan(apps, _three()).moves == ()


def test_max_moves_bounds_the_plan_and_busy_apps_wait():
    apps = [RebalanceApp(_spread_app(), _tasks("/web", {"a1": 3, "a2": 3}))]
    assert len(_plan(apps, _three(), max_moves=1).moves) == 1
    busy = [RebalanceApp(_spread_app(), _tasks("/web", {"a1": 3, "a2": 3}), busy="deployment d1 under way")]
    plan = _plan(busy, _three())
    assert plan.moves == () and plan.skipped == (("/web", "deployment d1 under way"),)
