"""Strategies that weigh several goals (``weighted``), and the built-ins' own args (spread ``by``,
binpack ``resources``); the fused fast forms agree with the plugins' own methods."""
from __future__ import annotations

from collections import Counter

import pytest

from halyard.errors import ValidationError
from halyard.placement import PlacementRequest, Planner, Scope, Scorer, Strategy, StrategyRegistry
from halyard.placement.registry import BUILTINS
from halyard.spec.app import StrategyRef

from .builders import agent, app


def _plan(agents, spec, strategy, registry=None):
    ref = StrategyRef.model_validate(strategy)
    return Planner(registry or StrategyRegistry()).plan(agents, [PlacementRequest(spec.workload(), spec.instances, ref)])


def _problems(args, registry=None):
    with pytest.raises(ValidationError) as err:
        (registry or StrategyRegistry()).create(StrategyRef(name="weighted", args=args))
    return {p.path: p.message for p in err.value.problems}


def test_weighted_combines_scorers_with_multiplied_weights():
    strategy = StrategyRegistry().create(StrategyRef(name="weighted", args={"scorers": [
        {"name": "binpack", "weight": 2}, {"name": "spread", "weight": 1, "by": "@zone"}]}))
    assert [(s.name, w) for s, w in strategy.scorers] == [("binpack", 2.0), ("spread", 1.0), ("least-allocated", 0.009)]
    assert strategy.scorers[1][0].by == "@zone" and strategy.scorers[1][0].scope is Scope.GLOBAL


def test_weighted_spread_by_zone_beats_binpack_when_weighed_more():
    agents = [agent(f"a{i}", cpus=8, mem=8192, zone=f"z{i % 2}") for i in range(4)]
    spread_heavy = {"name": "weighted", "args": {"scorers": [{"name": "binpack", "weight": 1},
                                                             {"name": "spread", "weight": 10, "by": "@zone"}]}}
    plan = _plan(agents, app("/w", instances=4, cpus=1, mem=128), spread_heavy)
    zones = Counter(next(a.zone for a in agents if a.id == p.agent_id) for p in plan.placements)
    assert zones == {"z0": 2, "z1": 2}
    binpack_heavy = {"name": "weighted", "args": {"scorers": [{"name": "binpack", "weight": 10},
                                                              {"name": "spread", "weight": 1, "by": "@zone"}]}}
    plan = _plan(agents, app("/w", instances=4, cpus=1, mem=128), binpack_heavy)
    assert len({p.agent_id for p in plan.placements}) == 1
    assert [name for name, _, _ in plan.placements[0].scores] == ["binpack", "spread", "least-allocated"]


def test_a_plugins_strategy_can_be_weighed():
    class Prefer(Scorer):
        name, scope = "prefer-a3", Scope.AGENT

        def score(self, ctx, agent):
            return 100.0 if agent.id == "a3" else 0.0

    registry = StrategyRegistry({**BUILTINS, "prefer": lambda args: Strategy("prefer", scorers=((Prefer(), 1.0),))})
    agents = [agent(f"a{i}") for i in range(4)]
    plan = _plan(agents, app("/w", instances=1), {"name": "weighted", "args": {"scorers": [
        {"name": "binpack", "weight": 1}, {"name": "prefer", "weight": 5}]}}, registry)
    assert [p.agent_id for p in plan.placements] == ["a3"]


def test_unknown_names_and_bad_weights_are_validation_errors_with_their_path():
    assert _problems({"scorers": [{"name": "nope", "weight": 2}]})["strategy.args.scorers[0].name"].startswith(
        "unknown strategy 'nope'")
    problems = _problems({"scorers": [{"name": "binpack", "weight": 0}, {"name": "spread", "weight": "2"},
                                      {"name": "binpack", "weight": True}, {"name": "random"},
                                      {"name": "binpack", "resources": ["cpus", "ram"]},
                                      {"name": "spread", "by": 3}, {"name": "weighted"}]})
    assert set(problems) == {"strategy.args.scorers[0].weight", "strategy.args.scorers[1].weight",
                             "strategy.args.scorers[2].weight", "strategy.args.scorers[3].name",
                             "strategy.args.scorers[4].resources[1]", "strategy.args.scorers[5].by",
                             "strategy.args.scorers[6].name"}
    assert "above 0" in problems["strategy.args.scorers[0].weight"]
    assert _problems({}) == {"strategy.args.scorers": "expected a non-empty list of {name, weight}"}
    assert "unknown argument" in _problems({"scorers": [{"name": "binpack"}], "extra": 1})["strategy.args.extra"]


def test_an_app_file_with_a_bad_weighted_strategy_names_the_path(tmp_path):
    from halyard.cli.main import main

    path = tmp_path / "app.yaml"
    path.write_text("id: /w\ncmd: x\nstrategy: {name: weighted, args: {scorers: [{name: binpack, weight: -2}]}}\n")
    assert main(["validate", str(path)]) == 1
    path.write_text("id: /w\ncmd: x\nstrategy: {name: weighted, args: {scorers: [{name: binpack, weight: 2}]}}\n")
    assert main(["validate", str(path)]) == 0


def test_a_plugin_cannot_take_the_name_weighted():
    from halyard.errors import DuplicatePluginError

    with pytest.raises(DuplicatePluginError):
        StrategyRegistry({**BUILTINS, "weighted": BUILTINS["binpack"]})


def test_spread_by_a_field_evens_the_count_per_value():
    agents = [agent(f"a{i}", attrs={"rack": f"r{i % 2}"}) for i in range(6)] + [agent("bare")]
    plan = _plan(agents, app("/w", instances=6, cpus=0.1, mem=16), {"name": "spread", "args": {"by": "rack"}})
    racks = Counter(next(a.attributes.get("rack") for a in agents if a.id == p.agent_id) for p in plan.placements)
    assert racks == {"r0": 3, "r1": 3}
    with pytest.raises(ValidationError) as err:
        StrategyRegistry().create(StrategyRef(name="spread", args={"by": "@nowhere"}))
    assert err.value.problems[0].path == "strategy.args.by"


def test_binpack_weighs_only_the_resources_it_is_given():
    # a0 is full on memory, a1 on CPUs: binpack by mem prefers a0, by cpus a1.
    agents = [agent("a0", cpus=8, mem=1024, tasks={}), agent("a1", cpus=2, mem=8192)]
    by_mem = _plan(agents, app("/w", instances=1, cpus=1, mem=512), {"name": "binpack", "args": {"resources": ["mem"]}})
    by_cpu = _plan(agents, app("/w", instances=1, cpus=1, mem=512), {"name": "binpack", "args": {"resources": ["cpus"]}})
    assert by_mem.placements[0].agent_id == "a0" and by_cpu.placements[0].agent_id == "a1"
    for bad in ([], ["cpus", "cpus"], ["ram"]):
        with pytest.raises(ValidationError):
            StrategyRegistry().create(StrategyRef(name="binpack", args={"resources": bad}))


def test_fast_forms_agree_with_filter_and_score():
    import random

    from halyard.placement import AgentState, Demand, PlacementContext
    from halyard.placement.pipeline import build_pipeline

    infos = [agent(f"a{i}", cpus=2 + i % 3, mem=1024 * (1 + i % 4), zone=f"z{i % 3}", attrs={"rack": f"r{i % 2}"},
                   tasks={"/w": i % 3}) for i in range(12)]
    spec = app("/w", instances=5, cpus=0.5, mem=600, constraints=[["@zone", "GROUP_BY"], ["rack", "MAX_PER", "4"],
                                                                  ["hostname", "UNIQUE"], ["rack", "LIKE", "r.*"]])
    for name, args in [("binpack", {}), ("spread", {}), ("spread", {"by": "@zone"}), ("binpack", {"resources": ["mem"]})]:
        strategy = StrategyRegistry().create(StrategyRef(name=name, args=args))
        filters, scorers = build_pipeline(spec.workload(), strategy)
        states = [AgentState(info, i) for i, info in enumerate(infos)]
        ctx = PlacementContext(spec.workload(), Demand.of(spec.workload()), states, 10, random.Random(0), lambda: states)
        for f in sorted(filters, key=lambda f: not f.static):
            f.prepare(ctx)
        for s, _ in scorers:
            s.prepare(ctx)
        checks = [f.compile(ctx) for f in filters]
        rates = [s.compile(ctx) for s, _ in scorers]
        for step in range(6):
            for state in states:
                assert [c(state) for c in checks] == [f.filter(ctx, state).reason is None for f in filters]
                assert [r(state) for r in rates] == [s.score(ctx, state) for s, _ in scorers]
            chosen = states[step * 5 % len(states)]
            chosen.allocate(ctx.demand)
            ctx.record(chosen)
