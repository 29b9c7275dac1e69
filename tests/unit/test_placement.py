"""The planner: constraints, resources, ports, roles, strategies, reasons."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from halyard.cluster.agents import Resources
from halyard.errors import DuplicatePluginError, PluginError, ValidationError
from halyard.placement import (
    OK,
    AgentState,
    Demand,
    Filter,
    PlacementContext,
    PlacementRequest,
    Planner,
    Scope,
    Scorer,
    Strategy,
    StrategyRegistry,
    unfit,
)
from halyard.placement.registry import BUILTINS
from halyard.spec.app import StrategyRef

from .builders import agent, app


def place(agents, *apps, strategy=None, seed=0, registry=None):
    """Plan the instances each app still lacks on ``agents``."""
    ref = StrategyRef(name=strategy) if strategy else None
    running = Counter()
    for ag in agents:
        running.update(ag.app_tasks)
    return Planner(registry or StrategyRegistry(), seed).plan(
        agents, [PlacementRequest(a.workload(), a.instances - running[a.id], ref) for a in apps])


def per_agent(plan):
    return Counter(p.agent_id for p in plan.placements)


RACKS = [agent("a", attrs={"rack": "r1"}, zone="z1"), agent("b", attrs={"rack": "r1"}, zone="z2"),
         agent("c", attrs={"rack": "r2"}, zone="z3"), agent("d", zone="z1")]


@pytest.mark.parametrize("constraints, instances, expect_counts, unplaced, reason", [
    ([["hostname", "UNIQUE"]], 6, {"a": 1, "b": 1, "c": 1, "d": 1}, 2, "constraint [hostname, UNIQUE]: an instance already runs on this hostname on 4 of 4 agents"),
    ([["@hostname", "UNIQUE"]], 2, {"a": 1, "b": 1}, 0, None),
    ([["rack", "UNIQUE"]], 3, {"a": 1, "c": 1}, 1, "agent has no rack on 1 of 4 agents"),
    ([["rack", "CLUSTER", "r2"]], 3, {"c": 3}, 0, None),
    ([["rack", "CLUSTER"]], 5, {"a": 5}, 0, None),
    ([["@zone", "GROUP_BY"]], 6, {"a": 2, "b": 2, "c": 2}, 0, None),
    # Marathon's rule: no used value again until 4 values are used, and there are 3
    ([["@zone", "GROUP_BY", "4"]], 8, {"a": 1, "b": 1, "c": 1}, 5,
     "constraint [@zone, GROUP_BY, 4]: fewer than 4 @zone values in use: the next instance goes to an unused one "
     "on 4 of 4 agents"),
    ([["rack", "LIKE", "r[12]"]], 3, {"a": 3}, 0, None),
    ([["rack", "LIKE", "r"]], 1, {}, 1, "constraint [rack, LIKE, r]: rack does not match r on 3 of 4 agents"),
    ([["rack", "UNLIKE", "r1"]], 2, {"c": 2}, 0, None),
    ([["rack", "UNLIKE", "r1"], ["hostname", "UNIQUE"]], 3, {"c": 1, "d": 1}, 1, None),
    ([["rack", "MAX_PER", "2"]], 6, {"a": 2, "c": 2}, 2, "2 instance(s) per rack already"),
    ([["@zone", "IS", "z1"]], 2, {"a": 2}, 0, None),
    ([["@region", "IS", "eu"]], 1, {}, 1, "agent has no @region on 4 of 4 agents"),
])
def test_constraint_operators(constraints, instances, expect_counts, unplaced, reason):
    plan = place(RACKS, app(instances=instances, constraints=constraints, cpus=0.1, mem=1))
    assert dict(per_agent(plan)) == expect_counts
    assert sum(u.count for u in plan.unplaced) == unplaced
    if reason:
        assert any(reason in r for r in plan.unplaced[0].reasons), plan.unplaced[0].reasons


def test_cluster_without_value_stays_on_the_first_value_when_it_fills():
    plan = place(RACKS, app(instances=5, constraints=[["rack", "CLUSTER"]], cpus=1.5, mem=1))
    assert dict(per_agent(plan)) == {"a": 2, "b": 2}
    assert any("instances run on rack=r1 on 1 of 4 agents" in r for r in plan.unplaced[0].reasons)


def test_cluster_without_value_follows_existing_tasks():
    agents = [agent("a", attrs={"rack": "r1"}), agent("b", attrs={"rack": "r2"}, tasks={"/web": 1})]
    plan = place(agents, app(instances=3, constraints=[["rack", "CLUSTER"]], cpus=0.1, mem=1))
    assert dict(per_agent(plan)) == {"b": 2}
    assert [p.instance for p in plan.placements] == [1, 2]


def test_unique_counts_tasks_already_running():
    agents = [agent("a", tasks={"/web": 1}), agent("b")]
    plan = place(agents, app(instances=3, constraints=[["hostname", "UNIQUE"]]))
    assert dict(per_agent(plan)) == {"b": 1} and plan.unplaced[0].count == 1


@pytest.mark.parametrize("value, matches", [("10", True), ("10.0004", True), ("10.001", False), ("x", False)])
def test_is_on_scalar_attributes_rounds_to_three_decimals(value, matches):
    plan = place([agent("a", attrs={"level": 10.0})], app(constraints=[["level", "IS", value]]))
    assert bool(plan.placements) == matches


def test_like_on_scalar_attribute_uses_its_text():
    plan = place([agent("a", attrs={"level": 2.5})], app(constraints=[["level", "LIKE", "2\\.5"]]))
    assert len(plan.placements) == 1


def test_insufficient_resources_are_explained_per_resource():
    agents = [agent("a", mem=1024), agent("b", mem=1024), agent("c", cpus=0.5)]
    plan = place(agents, app(instances=1, cpus=1, mem=2048))
    assert plan.placements == ()
    assert plan.unplaced[0].reasons == ("insufficient mem (needs 2048 MB) on 2 of 3 agents",
                                        "insufficient cpus (needs 1) on 1 of 3 agents")


@pytest.mark.parametrize("agents, need, reasons", [
    ([agent("a", cpus=1)], dict(cpus=2, mem=1024),
     ("insufficient cpus (needs 2) on 1 of 1 agents",)),
    ([agent("a", cpus=1, mem=1024)], dict(cpus=2, mem=4096),
     ("insufficient cpus (needs 2), mem (needs 4096 MB) on 1 of 1 agents",)),
    ([agent("a", mem=1024, disk=10)], dict(cpus=1, mem=4096, disk=100, gpus=1),
     ("insufficient mem (needs 4096 MB), disk (needs 100 MB), gpus (needs 1) on 1 of 1 agents",)),
    # different free amounts, the same resources short: one reason, counted over both agents
    ([agent("a", cpus=1, mem=1024), agent("b", cpus=0.5, mem=2048)], dict(cpus=2, mem=4096),
     ("insufficient cpus (needs 2), mem (needs 4096 MB) on 2 of 2 agents",)),
    ([agent("a", cpus=1, mem=1024), agent("b", mem=1024), agent("c", mem=512)], dict(cpus=2, mem=4096),
     ("insufficient mem (needs 4096 MB) on 2 of 3 agents",
      "insufficient cpus (needs 2), mem (needs 4096 MB) on 1 of 3 agents")),
    # several roles: what is short is the sum over the accepted roles
    ([agent("a", cpus=1.5, mem=64, reserved={"prod": (Resources(cpus=1, mem=64), ())})],
     dict(cpus=2, mem=256, acceptedResourceRoles=["prod", "*"]),
     ("insufficient mem (needs 256 MB) on 1 of 1 agents",)),
    ([agent("a", cpus=0.5, mem=64, reserved={"prod": (Resources(cpus=1, mem=64), ())})],
     dict(cpus=2, mem=256, acceptedResourceRoles=["prod", "*"]),
     ("insufficient cpus (needs 2), mem (needs 256 MB) on 1 of 1 agents",)),
])
def test_every_short_resource_is_named_in_one_reason(agents, need, reasons):
    plan = place(agents, app(instances=1, portDefinitions=[], **need))
    assert plan.placements == ()
    assert plan.unplaced[0].reasons == reasons


def test_no_agents_is_explained():
    assert place([], app()).unplaced[0].reasons == ("no agents in the cluster",)


def test_never_overcommits_an_agent():
    plan = place([agent("a", cpus=2.5, mem=1000)], app(instances=5, cpus=1, mem=100))
    assert len(plan.placements) == 2 and plan.unplaced[0].count == 3


def test_host_ports_are_distinct_and_from_the_agents_range():
    plan = place([agent("a", ports=((31000, 31002),))], app(instances=3, cpus=0.1, mem=1,
                                                            portDefinitions=[{"port": 0}]))
    assert [p.ports for p in plan.placements] == [(31000,), (31001,), (31002,)]
    more = place([agent("a", ports=((31000, 31002),))], app(instances=2, cpus=0.1, mem=1,
                                                           portDefinitions=[{"port": 0}, {"port": 0}]))
    assert len(more.placements) == 1
    assert more.unplaced[0].reasons == ("not enough free host ports (needs 2) on 1 of 1 agents",)


def test_required_ports_go_only_where_that_port_is_free():
    agents = [agent("a", ports=((31000, 31009),)), agent("b", ports=((8080, 8080), (31000, 31009)))]
    plan = place(agents, app(instances=2, cpus=0.1, mem=1, requirePorts=True,
                             portDefinitions=[{"port": 8080}, {"port": 31005}]))
    assert [(p.agent_id, p.ports) for p in plan.placements] == [("b", (8080, 31005))]
    assert "host port 8080 not free on 2 of 2 agents" in plan.unplaced[0].reasons


def test_fixed_port_is_not_taken_by_an_any_port_of_the_same_task():
    agents = [agent("a", ports=((31000, 31001),))]
    plan = place(agents, app(container={"docker": {"image": "i", "network": "BRIDGE"},
                                        "portMappings": [{"containerPort": 1},
                                                         {"containerPort": 2, "hostPort": 31000}]}))
    assert plan.placements[0].ports == (31001, 31000)


def test_roles_reserved_resources_are_used_only_when_accepted():
    reserved = {"prod": (Resources(cpus=4, mem=4096), ((32000, 32009),))}
    agents = [agent("a", cpus=0, mem=0, ports=(), reserved=reserved)]
    assert place(agents, app(cpus=1)).placements == ()
    plan = place(agents, app(cpus=1, acceptedResourceRoles=["prod"]))
    assert plan.placements[0].allocation == (("cpus", "prod", 1), ("mem", "prod", 128.0))
    assert plan.placements[0].ports == (32000,)


def test_roles_combine_reserved_before_unreserved():
    reserved = {"prod": (Resources(cpus=1, mem=64), ())}
    agents = [agent("a", cpus=4, mem=4096, reserved=reserved)]
    plan = place(agents, app(cpus=2, mem=100, acceptedResourceRoles=["*", "prod"]))
    assert plan.placements[0].allocation == (("cpus", "prod", 1), ("cpus", "*", 1), ("mem", "prod", 64),
                                             ("mem", "*", 36))


# --- strategies -------------------------------------------------------------------------------

def test_binpack_fills_the_fullest_agent_first():
    agents = [agent("a"), agent("b", tasks={"/other": 1}, cpus=4), agent("c")]
    agents[1] = agent("b", cpus=2)  # b is smaller: same use is a larger share
    plan = place(agents, app(instances=3, cpus=1, mem=1024), strategy="binpack")
    assert [p.agent_id for p in plan.placements] == ["b", "b", "a"]


def test_spread_keeps_counts_even_and_prefers_empty_agents():
    agents = [agent(f"a{i}", cpus=8, mem=8192) for i in range(4)]
    other = app("other", instances=2, cpus=4, mem=1)
    plan = place(agents, other, app(instances=6, cpus=1, mem=1), strategy="spread")
    counts = Counter(p.agent_id for p in plan.placements if p.app_id == "/web")
    assert max(counts.values()) - min(counts.values()) <= 1 and len(counts) == 4


def test_random_is_reproducible_by_seed_and_uses_many_agents():
    agents = [agent(f"a{i}", cpus=100, mem=100000, ports=((31000, 31999),)) for i in range(20)]
    web = app(instances=200, cpus=0.1, mem=1)
    one = [p.agent_id for p in place(agents, web, strategy="random", seed=7).placements]
    again = [p.agent_id for p in place(agents, web, strategy="random", seed=7).placements]
    other = [p.agent_id for p in place(agents, web, strategy="random", seed=8).placements]
    assert one == again and one != other
    assert len(set(one)) == 20 and max(Counter(one).values()) < 30  # ~10 each, not clumped


def test_app_strategy_field_is_used_unless_overridden():
    agents = [agent("a"), agent("b")]
    spread_app = app(instances=2, cpus=0.1, mem=1, strategy="spread")
    assert len(per_agent(place(agents, spread_app))) == 2
    assert len(per_agent(place(agents, spread_app, strategy="binpack"))) == 1


# --- plugins ----------------------------------------------------------------------------------

class NoOddAgents(Filter):
    name = "no-odd"
    scope = Scope.AGENT

    def filter(self, ctx, agent):
        return unfit("odd agent") if int(agent.id[1:]) % 2 else OK


class PreferHighIndex(Scorer):
    name = "high-index"
    scope = Scope.GLOBAL  # declared global: forces the full scan path

    def score(self, ctx, agent):
        return float(int(agent.id[1:]))


def test_a_custom_strategy_filters_with_reasons_and_scores():
    registry = StrategyRegistry({**BUILTINS, "custom": lambda args: Strategy(
        "custom", scorers=((PreferHighIndex(), 1.0),), filters=(NoOddAgents(),))})
    agents = [agent(f"a{i}", cpus=1) for i in range(6)]
    plan = place(agents, app(instances=4), strategy="custom", registry=registry)
    assert [p.agent_id for p in plan.placements] == ["a4", "a2", "a0"]
    assert "odd agent on 3 of 6 agents" in plan.unplaced[0].reasons


# --- why this agent: the picked agent's scores ------------------------------------------------

class InZone(Scorer):
    """100 in zone z1, else 0: fixed per agent."""

    name = "in-z1"
    scope = Scope.AGENT

    def score(self, ctx, agent):
        return 100.0 if agent.value("@zone") == "z1" else 0.0


class ByIndex(Scorer):
    """10 x the agent's number (a0 -> 0, a3 -> 30)."""

    name = "by-index"
    scope = Scope.AGENT

    def score(self, ctx, agent):
        return 10.0 * int(agent.id[1:])


class Fewest(Scorer):
    """100 minus 10 per task of the workload already on the agent."""

    name = "fewest"
    scope = Scope.GLOBAL  # the full-scan path

    def score(self, ctx, agent):
        return 100.0 - 10 * ctx.count_on(agent)


ZONED = [agent("a0", zone="z1"), agent("a1", zone="z2"), agent("a2", zone="z1"), agent("a3", zone="z2")]
TRIO = [agent("a0"), agent("a1"), agent("a2")]


@pytest.mark.parametrize("agents, scorers, count, expected", [
    # totals a0..a3: 1000, 10, 1020, 30 -> a2
    (ZONED, ((InZone(), 10.0), (ByIndex(), 1.0)), 1,
     [("a2", (("in-z1", 10.0, 100.0), ("by-index", 1.0, 20.0)), 1020.0)]),
    # each task lowers its agent's "fewest" by 10; by-index breaks ties
    (TRIO, ((Fewest(), 1.0), (ByIndex(), 0.01)), 4,
     [("a2", (("fewest", 1.0, 100.0), ("by-index", 0.01, 20.0)), 100.2),
      ("a1", (("fewest", 1.0, 100.0), ("by-index", 0.01, 10.0)), 100.1),
      ("a0", (("fewest", 1.0, 100.0), ("by-index", 0.01, 0.0)), 100.0),
      ("a2", (("fewest", 1.0, 90.0), ("by-index", 0.01, 20.0)), 90.2)]),
])
def test_a_placement_keeps_what_each_scorer_gave_the_picked_agent(agents, scorers, count, expected):
    registry = StrategyRegistry({"why": lambda args: Strategy("why", scorers=scorers)})
    plan = place(agents, app(instances=count, cpus=0.1, mem=1), strategy="why", registry=registry)
    assert [(p.agent_id, p.scores) for p in plan.placements] == [(a, scores) for a, scores, _ in expected]
    for p, (_, _, best_total) in zip(plan.placements, expected):
        assert sum(w * s for _, w, s in p.scores) == pytest.approx(best_total)


@pytest.mark.parametrize("strategy", ["binpack", "spread"])
def test_the_picked_agents_scores_sum_to_the_best_total_over_the_agents(strategy):
    """One task on agents of different fullness: the scores add up to the highest weighted total
    that the strategy's own scorers give any agent (computed here, outside the planner)."""
    agents = [agent("a", cpus=4, mem=4096, tasks={"/web": 1}), agent("b", cpus=2, mem=1024),
              agent("c", cpus=8, mem=2048), agent("d", cpus=3, mem=8192)]
    web = app(instances=2, cpus=1, mem=512)
    (p,) = place(agents, web, strategy=strategy).placements
    states = [AgentState(info, i) for i, info in enumerate(agents)]
    ctx = PlacementContext(web.workload(), Demand.of(web.workload()), states, 2, random.Random(0), lambda: states)
    scorers = StrategyRegistry().create(strategy).scorers
    for scorer, _ in scorers:
        scorer.prepare(ctx)
    totals = {s.id: sum(w * scorer.score(ctx, s) for scorer, w in scorers) for s in states}
    assert [(name, w) for name, w, _ in p.scores] == [(scorer.name, w) for scorer, w in scorers]
    assert sum(w * s for _, w, s in p.scores) == pytest.approx(max(totals.values()))
    assert totals[p.agent_id] == pytest.approx(max(totals.values()))


def test_scores_are_in_the_plans_json_and_empty_for_random():
    agents = [agent("a"), agent("b", cpus=2)]
    binpack = place(agents, app(instances=1, cpus=1, mem=1024), strategy="binpack").to_json()
    (only,) = binpack["placements"]
    assert only["agent_id"] == "b"
    assert only["scores"] == [{"scorer": "binpack", "weight": 1.0, "score": pytest.approx(37.5)}]  # (1/2 + 1/4) / 2
    drawn = place(agents, app(instances=1), strategy="random").to_json()
    assert drawn["placements"][0]["scores"] == []


# --- a broken strategy fails its own workload, not the plan -----------------------------------

class Boom(Filter, Scorer):
    """Raises in ``where`` (prepare, filter or score) once ``after`` calls there succeeded."""

    name = "boom"

    def __init__(self, where, scope=Scope.AGENT, after=0):
        self.where, self.scope, self.after = where, scope, after

    def _maybe_raise(self, where):
        if where == self.where:
            if self.after <= 0:
                raise RuntimeError(f"boom in {where}")
            self.after -= 1

    def prepare(self, ctx):
        self._maybe_raise("prepare")

    def filter(self, ctx, agent):
        self._maybe_raise("filter")
        return OK

    def score(self, ctx, agent):
        self._maybe_raise("score")
        return 50.0


class StaticBoom(Filter):
    """A filter whose ``filter`` is a static method (no ``__self__`` to find the plugin by)."""

    name = "static-boom"
    scope = Scope.AGENT

    @staticmethod
    def filter(ctx, agent):
        raise RuntimeError("boom in a static filter")


class Scores(Scorer):
    """Gives every agent ``value`` (out of range for the tests that want it so)."""

    name = "fixed"

    def __init__(self, value, scope=Scope.AGENT):
        self.value, self.scope = value, scope

    def score(self, ctx, agent):
        return self.value


def _broken_registry(**strategies):
    return StrategyRegistry({**BUILTINS, **strategies})


@pytest.mark.parametrize("strategy, reason", [
    (lambda a: Strategy("x", filters=(Boom("prepare"),)), "filter 'boom' raised RuntimeError('boom in prepare')"),
    (lambda a: Strategy("x", filters=(Boom("filter"),)), "filter 'boom' raised RuntimeError('boom in filter')"),
    (lambda a: Strategy("x", filters=(Boom("filter", Scope.GLOBAL),)),  # the full-scan path
     "filter 'boom' raised RuntimeError('boom in filter')"),
    (lambda a: Strategy("x", filters=(Boom("filter", Scope.MONOTONE),)),  # re-checked at the top of the heap
     "filter 'boom' raised RuntimeError('boom in filter')"),
    (lambda a: Strategy("x", select="random", filters=(Boom("filter"),)),
     "filter 'boom' raised RuntimeError('boom in filter')"),
    (lambda a: Strategy("x", filters=(StaticBoom(),)),
     "filter 'static-boom' raised RuntimeError('boom in a static filter')"),
    (lambda a: Strategy("x", filters=(Boom("nowhere", Scope.REVERSIBLE), StaticBoom())),  # the judged path
     "filter 'static-boom' raised RuntimeError('boom in a static filter')"),
    (lambda a: Strategy("x", scorers=((Boom("prepare"), 1.0),)),
     "scorer 'boom' raised RuntimeError('boom in prepare')"),
    (lambda a: Strategy("x", scorers=((Boom("score"), 1.0),)), "scorer 'boom' raised RuntimeError('boom in score')"),
    (lambda a: Strategy("x", scorers=((Boom("score", Scope.GLOBAL), 1.0),)),
     "scorer 'boom' raised RuntimeError('boom in score')"),
    (lambda a: Strategy("x", scorers=((Scores(150.0), 1.0),)), "scorer 'fixed' returned 150.0, outside 0..100"),
    (lambda a: Strategy("x", scorers=((Scores(-1.0, Scope.GLOBAL), 1.0),)),
     "scorer 'fixed' returned -1.0, outside 0..100"),
    (lambda a: Strategy("x", scorers=((Scores(None), 1.0),)), "scorer 'fixed' raised TypeError("),
    (lambda a: 1 / 0, "strategy 'x' failed to start: ZeroDivisionError('division by zero')"),
    (lambda a: "not a strategy", "strategy 'x' returned str, not a Strategy"),
])
def test_a_strategy_that_fails_leaves_its_workload_unplaced_and_places_the_others(strategy, reason):
    registry = _broken_registry(x=strategy)
    agents = [agent(f"a{i}", cpus=2) for i in range(3)]
    plan = place(agents, app("healthy", instances=4), app("broken", instances=2, strategy="x"), registry=registry)
    assert [p.app_id for p in plan.placements] == ["/healthy"] * 4
    (unplaced,) = plan.unplaced
    assert unplaced.app_id == "/broken" and unplaced.count == 2 and unplaced.failed
    (text,) = unplaced.reasons
    assert text.startswith(f"strategy 'x' failed: {reason}")


def test_a_strategy_that_no_longer_exists_leaves_its_workload_unplaced():
    plan = place([agent("a")], app("gone", strategy="uninstalled"), app("healthy"))
    assert [p.app_id for p in plan.placements] == ["/healthy"]
    assert plan.unplaced[0].reasons == ("strategy 'uninstalled' failed: strategy.name: unknown strategy "
                                        "'uninstalled' (known: binpack, random, spread, weighted)",)


def test_a_failure_after_some_placements_keeps_them_and_leaves_the_rest_unplaced():
    """The scorer breaks on its 5th call: the first task was placed (3 agents scored, then the
    picked one asked again for its scores), the rest wait; the healthy app interleaved with it
    finds every agent's resources as the placements left them."""
    registry = _broken_registry(x=lambda a: Strategy("x", scorers=((Boom("score", Scope.GLOBAL, after=4), 1.0),)))
    agents = [agent(f"a{i}", cpus=2, mem=1024) for i in range(3)]
    plan = place(agents, app("broken", instances=3, cpus=1, strategy="x"), app("healthy", instances=5, cpus=1),
                 registry=registry)
    broken = [p for p in plan.placements if p.app_id == "/broken"]
    assert len(broken) == 1 and broken[0].scores == (("boom", 1.0, 50.0),)
    assert plan.unplaced[0].app_id == "/broken" and plan.unplaced[0].count == 2 and plan.unplaced[0].failed
    assert plan.unplaced[0].reasons == ("strategy 'x' failed: scorer 'boom' raised RuntimeError('boom in score')",)
    # 6 CPUs in all: the broken app's one task and 5 healthy ones, no agent over its 2 CPUs
    assert len(plan.placements) == 6 and max(per_agent(plan).values()) == 2


def test_a_failing_strategy_in_a_dry_run_is_a_reason_in_the_json():
    registry = _broken_registry(x=lambda a: Strategy("x", scorers=((Scores(150.0), 1.0),)))
    doc = place([agent("a")], app("broken", strategy="x"), registry=registry).to_json()
    assert doc == {"placements": [], "unplaced": [{"app": "/broken", "count": 1, "reasons": [
        "strategy 'x' failed: scorer 'fixed' returned 150.0, outside 0..100"]}]}


def test_registry_rejects_duplicates_unknown_names_and_bad_args():
    registry = StrategyRegistry()
    with pytest.raises(DuplicatePluginError):
        registry.register("binpack", lambda args: Strategy("x"))
    with pytest.raises(ValidationError) as err:
        registry.create(StrategyRef(name="packbin"))
    assert str(err.value.problems[0]).startswith("strategy.name: unknown strategy 'packbin' (known: binpack")
    with pytest.raises(ValidationError) as err:
        registry.create(StrategyRef(name="spread", args={"width": 3}))
    assert err.value.problems[0].path == "strategy.args.width"


def test_a_factory_that_crashes_or_returns_junk_is_a_plugin_error():
    registry = StrategyRegistry({"boom": lambda args: 1 / 0, "junk": lambda args: "nope"})
    with pytest.raises(PluginError, match="failed to start"):
        registry.create("boom")
    with pytest.raises(PluginError, match="not a Strategy"):
        registry.create("junk")


def test_installed_builtins_are_found_through_entry_points():
    assert {"binpack", "spread", "random"} <= set(StrategyRegistry.discover().names())


def test_strategy_select_random_takes_no_scorers():
    with pytest.raises(ValueError):
        Strategy("x", scorers=((PreferHighIndex(), 1.0),), select="random")


def test_duplicate_app_in_one_plan_is_refused():
    with pytest.raises(ValidationError):
        Planner(StrategyRegistry()).plan([agent("a")], [PlacementRequest(app().workload(), 1),
                                                    PlacementRequest(app().workload(), 1)])


def test_a_plan_places_a_bounded_number_of_tasks_and_says_why_the_rest_waits(monkeypatch):
    """A tiny app with a huge instance count is not planned without bound (issue 17's fuzzing
    found ``instances: 2147483647, cpus: 1e-10`` running for minutes): the rest is unplaced, with
    the reason, and requests after the limit are not planned at all."""
    from halyard.placement import pipeline

    monkeypatch.setattr(pipeline, "MAX_PLACEMENTS", 50)
    tiny = app("tiny", instances=2_147_483_647, cpus=1e-10, mem=0, portDefinitions=[])
    other = app("other", instances=3, cpus=0.1, mem=1)
    plan = place([agent("a", cpus=1000, mem=1000)], tiny, other)
    assert len(plan.placements) == 50 and {p.app_id for p in plan.placements} == {tiny.id}
    assert {(u.app_id, u.count) for u in plan.unplaced} == {(tiny.id, 2_147_483_647 - 50), (other.id, 3)}
    assert all(u.reasons == ("not planned: a plan places at most 50 tasks",) for u in plan.unplaced)
