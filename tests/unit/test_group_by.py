"""GROUP_BY as Marathon's ``checkGroupBy``: balanced at every step, not a quota."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from halyard.placement import AgentState, Demand, PlacementContext, PlacementRequest, Planner, StrategyRegistry
from halyard.placement.constraints import constraint_filter
from halyard.spec.app import Constraint, StrategyRef

from .builders import agent, app

# --- the filter, one step at a time ------------------------------------------------------------

# Two agents per rack (one with tasks of the app already, as ``counts`` says), one without a rack.
def rack_agents(counts: dict[str, int]) -> list:
    out = []
    for rack in ("r1", "r2", "r3"):
        out.append(agent(f"{rack}-busy", attrs={"rack": rack}, tasks={"/web": counts[rack]} if counts.get(rack) else {}))
        out.append(agent(f"{rack}-idle", attrs={"rack": rack}))
    return out + [agent("bare")]


def passing(constraint: list[str], counts: dict[str, int]) -> dict[str, str]:
    """Each agent's verdict ("ok" or the reason) for one more task of /web."""
    web = app(instances=10, constraints=[constraint])
    states = [AgentState(info, i) for i, info in enumerate(rack_agents(counts))]
    ctx = PlacementContext(web.workload(), Demand.of(web.workload()), states, 10, random.Random(0),
                           lambda: [s for s in states if "rack" in s.values])
    f = constraint_filter(Constraint.parse(constraint))
    f.prepare(ctx)
    return {s.id.split("-")[0]: f.filter(ctx, s).reason or "ok" for s in states}


UNUSED_FIRST = "constraint [rack, GROUP_BY, 3]: fewer than 3 rack values in use: the next instance goes to an unused one"
ABOVE_LEAST = "more instances on this rack than on the least used one"


@pytest.mark.parametrize("constraint, counts, verdicts", [
    # nothing placed: any value
    (["rack", "GROUP_BY", "3"], {}, {"r1": "ok", "r2": "ok", "r3": "ok"}),
    # fewer values used than asked for: only unused values
    (["rack", "GROUP_BY", "3"], {"r1": 1}, {"r1": UNUSED_FIRST, "r2": "ok", "r3": "ok"}),
    (["rack", "GROUP_BY", "3"], {"r1": 1, "r2": 1}, {"r1": UNUSED_FIRST, "r2": UNUSED_FIRST, "r3": "ok"}),
    # enough values used: only those with the fewest tasks
    (["rack", "GROUP_BY", "3"], {"r1": 2, "r2": 1, "r3": 1}, {"r1": ABOVE_LEAST, "r2": "ok", "r3": "ok"}),
    (["rack", "GROUP_BY", "3"], {"r1": 2, "r2": 2, "r3": 1}, {"r1": ABOVE_LEAST, "r2": ABOVE_LEAST, "r3": "ok"}),
    (["rack", "GROUP_BY", "3"], {"r1": 2, "r2": 2, "r3": 2}, {"r1": "ok", "r2": "ok", "r3": "ok"}),
    # an unused value is always fine, even when the used ones are uneven
    (["rack", "GROUP_BY", "2"], {"r1": 3, "r2": 1}, {"r1": ABOVE_LEAST, "r2": "ok", "r3": "ok"}),
    # 2 values asked for and used: a used value at the least count is fine
    (["rack", "GROUP_BY", "2"], {"r1": 1, "r2": 1}, {"r1": "ok", "r2": "ok", "r3": "ok"}),
    # without a value: every value among the agents the app could run on (3 racks)
    (["rack", "GROUP_BY"], {"r1": 1, "r2": 1}, {"r1": "fewer than 3 rack values in use", "r2": "fewer than 3",
                                                "r3": "ok"}),
    (["rack", "GROUP_BY"], {"r1": 2, "r2": 1, "r3": 1}, {"r1": ABOVE_LEAST, "r2": "ok", "r3": "ok"}),
])
def test_group_by_allows_unused_values_then_only_the_least_used(constraint, counts, verdicts):
    got = passing(constraint, counts)
    assert got.pop("bare").endswith("agent has no rack")
    for rack, verdict in verdicts.items():
        assert verdict in got[rack], (rack, got[rack])


def test_tasks_on_agents_without_the_field_are_no_group():
    # 2 tasks on an agent without a rack: r1 and r2 are the values in use, both at the least count
    agents = [agent("bare", tasks={"/web": 2}), agent("a", attrs={"rack": "r1"}, tasks={"/web": 1}),
              agent("b", attrs={"rack": "r2"}, tasks={"/web": 1})]
    plan = place(agents, app(instances=6, constraints=[["rack", "GROUP_BY", "2"]], cpus=0.1, mem=1), "binpack")
    assert sorted(Counter(p.agent_id for p in plan.placements).values()) == [1, 1]


# --- whole plans --------------------------------------------------------------------------------

def place(agents, web, strategy, seed=0):
    running = sum(a.app_tasks.get(web.id, 0) for a in agents)
    return Planner(StrategyRegistry(), seed).plan(
        agents, [PlacementRequest(web.workload(), web.instances - running, StrategyRef(name=strategy))])


# Three racks of different sizes: binpack would rather fill the big rack.
RACKS = [agent("big-1", cpus=16, attrs={"rack_id": "rack-1"}), agent("big-2", cpus=16, attrs={"rack_id": "rack-1"}),
         agent("mid", cpus=8, attrs={"rack_id": "rack-2"}), agent("small", cpus=2, attrs={"rack_id": "rack-3"})]
RACK_OF = {a.id: a.attributes["rack_id"] for a in RACKS}


@pytest.mark.parametrize("strategy", ["binpack", "spread", "random"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seven_over_three_racks_is_3_2_2_whatever_the_strategy(strategy, seed):
    plan = place(RACKS, app(instances=7, cpus=0.5, constraints=[["rack_id", "GROUP_BY", "3"]]), strategy, seed)
    assert not plan.unplaced
    assert sorted(Counter(RACK_OF[p.agent_id] for p in plan.placements).values()) == [2, 2, 3]
    # and balanced after every placement, not only at the end
    counts: Counter = Counter()
    for p in plan.placements:
        counts[RACK_OF[p.agent_id]] += 1
        assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_group_by_catches_up_from_where_the_tasks_are():
    agents = [agent("a", attrs={"rack": "r1"}, tasks={"/web": 3}), agent("b", attrs={"rack": "r2"}),
              agent("c", attrs={"rack": "r3"}, tasks={"/web": 1})]
    plan = place(agents, app(instances=9, cpus=0.1, mem=1, constraints=[["rack", "GROUP_BY"]]), "binpack")
    assert plan.placements[0].agent_id == "b"  # the unused value first
    assert Counter(p.agent_id for p in plan.placements) == Counter({"b": 3, "c": 2})


def test_a_full_value_holds_the_others_back_one_step_and_says_why():
    agents = [agent("a", attrs={"rack": "r1"}), agent("b", attrs={"rack": "r2"}),
              agent("c", cpus=0.5, attrs={"rack": "r3"})]
    plan = place(agents, app(instances=6, cpus=0.5, mem=1, constraints=[["rack", "GROUP_BY"]]), "binpack")
    assert Counter(p.agent_id for p in plan.placements) == Counter({"a": 2, "b": 2, "c": 1})
    assert plan.unplaced[0].count == 1
    assert ("constraint [rack, GROUP_BY]: more instances on this rack than on the least used one on 2 of 3 agents"
            in plan.unplaced[0].reasons)
