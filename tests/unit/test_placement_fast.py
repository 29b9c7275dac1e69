"""The built-ins' heap kernels (placement/fast_heap.py) against the generic path: on randomized
small clusters they place the same tasks on the same agents with the same scores and explain the
same unplaced tasks; and the quality bounds (binpack near the lower bound, spread even) hold."""
from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halyard.cluster.agents import AgentInfo, Resources
from halyard.placement import PlacementRequest, Planner, StrategyRegistry, fast_heap
from halyard.spec.app import AppSpec, StrategyRef

from .test_placement_properties import check_plan, requests_for

RACKS = ["r1", "r2", "r3", "r4"]
ZONES = ["z1", "z2", "z3"]


@st.composite
def clusters(draw):
    n = draw(st.integers(0, 16))
    out = []
    for i in range(n):
        attrs = {"rack": draw(st.sampled_from(RACKS))} if draw(st.booleans()) else {}
        start = 31000 + 100 * i
        res = Resources(cpus=draw(st.sampled_from([1, 2, 4, 8])), mem=draw(st.sampled_from([512, 1024, 4096])),
                        disk=draw(st.sampled_from([0, 1000])))
        used = draw(st.sampled_from([0.0, 0.5]))
        available = Resources(cpus=res.cpus * (1 - used), mem=res.mem * (1 - used), disk=res.disk)
        tasks = {f"/app-{draw(st.integers(0, 2))}": draw(st.integers(1, 2))} if draw(st.booleans()) else {}
        out.append(AgentInfo(id=f"a{i}", hostname=f"h{i % 12}", available={"*": available},
                             ports={"*": ((start, start + draw(st.integers(0, 6))),)}, capacity=res,
                             attributes=attrs, region="eu", zone=draw(st.sampled_from(ZONES + [None])),
                             app_tasks=tasks))
    return out


CONSTRAINTS = [[], [["hostname", "UNIQUE"]], [["@zone", "GROUP_BY"]], [["rack", "GROUP_BY", "2"]],
               [["@zone", "GROUP_BY"], ["hostname", "UNIQUE"]], [["rack", "MAX_PER", "2"]],
               [["rack", "CLUSTER"]], [["@zone", "LIKE", "z[12]"]], [["rack", "UNLIKE", "r1"], ["@zone", "GROUP_BY"]],
               [["@zone", "GROUP_BY"], ["rack", "GROUP_BY"]]]


@st.composite
def workloads(draw):
    out = []
    for i in range(draw(st.integers(1, 3))):
        out.append(AppSpec.model_validate({
            "id": f"app-{i}", "cmd": "x", "instances": draw(st.integers(0, 14)),
            "cpus": draw(st.sampled_from([0.1, 0.5, 1, 1.5])), "mem": draw(st.sampled_from([16, 256, 1024])),
            "disk": draw(st.sampled_from([0, 0, 100])),
            "portDefinitions": [{"port": 0}] * draw(st.integers(0, 2)),
            "constraints": draw(st.sampled_from(CONSTRAINTS)),
        }))
    return out


STRATEGIES = [StrategyRef(name="binpack"), StrategyRef(name="spread"), StrategyRef(name="random"),
              StrategyRef(name="spread", args={"by": "@zone"}), StrategyRef(name="spread", args={"by": "rack"}),
              StrategyRef(name="binpack", args={"resources": ["mem"]}),
              StrategyRef(name="weighted", args={"scorers": [{"name": "binpack", "weight": 2},
                                                             {"name": "spread", "weight": 1}]})]


def _plan(cluster, requested, strategy, fast, seed=0):
    requests = [PlacementRequest(r.workload, r.count, strategy) for r in requests_for(cluster, requested, "binpack")]
    return Planner(StrategyRegistry(), seed, fast=fast).plan(cluster, requests)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), workloads(), st.sampled_from(STRATEGIES), st.integers(0, 2))
def test_the_kernels_place_exactly_what_the_generic_path_places(cluster, requested, strategy, seed):
    fast, generic = _plan(cluster, requested, strategy, True, seed), _plan(cluster, requested, strategy, False, seed)
    assert [(p.app_id, p.instance, p.agent_id, p.ports, p.allocation, p.scores) for p in fast.placements] == \
           [(p.app_id, p.instance, p.agent_id, p.ports, p.allocation, p.scores) for p in generic.placements]
    assert [(u.app_id, u.count, u.reasons) for u in fast.unplaced] == \
           [(u.app_id, u.count, u.reasons) for u in generic.unplaced]
    check_plan(cluster, requested, fast)  # every resource, port and constraint held


def test_the_kernels_are_used_for_the_builtins_and_not_for_what_they_do_not_cover(monkeypatch):
    made = []
    real = fast_heap.heap_kernel

    def spy(*args, **kwargs):
        kernel = real(*args, **kwargs)
        made.append(kernel is not None)
        return kernel
    monkeypatch.setattr("halyard.placement.placer.heap_kernel", spy)
    cluster = [AgentInfo(id=f"a{i}", hostname=f"h{i}", available={"*": Resources(cpus=4, mem=4096)},
                         ports={"*": ((31000, 31010),)}, capacity=Resources(cpus=4, mem=4096), zone=f"z{i % 3}")
               for i in range(6)]
    for strategy, constraints, used in [("binpack", [], True), ("spread", [["@zone", "GROUP_BY"]], True),
                                        ("binpack", [["hostname", "UNIQUE"]], True),
                                        ("spread", [["@zone", "GROUP_BY"], ["hostname", "GROUP_BY"]], False)]:
        made.clear()
        web = AppSpec.model_validate({"id": "web", "cmd": "x", "instances": 3, "cpus": 0.5, "mem": 64,
                                      "constraints": constraints})
        Planner(StrategyRegistry()).plan(cluster, [PlacementRequest(web.workload(), 3, StrategyRef(name=strategy))])
        assert made == [used], (strategy, constraints)


def _cluster(n: int) -> list[AgentInfo]:
    cap = Resources(cpus=16, mem=65536, disk=500_000)
    return [AgentInfo(id=f"agent-{i}", hostname=f"10.0.0.{i}", available={"*": cap}, ports={"*": ((31000, 32999),)},
                      capacity=cap, attributes={"rack": f"rack-{i % 8}"}, region="eu", zone=f"zone-{i % 3}")
            for i in range(n)]


SHAPES = [(4, 2048), (0.5, 12288), (2, 1024), (0.25, 6144), (1, 4096), (3, 3072), (0.5, 8192), (1.5, 512)]


@pytest.mark.parametrize("fast", [True, False])
def test_binpack_stays_within_five_percent_of_the_lower_bound(fast):
    apps = [AppSpec.model_validate({"id": f"app-{i}", "cmd": "x", "cpus": c, "mem": m, "instances": 60})
            for i, (c, m) in enumerate(SHAPES)]
    plan = Planner(StrategyRegistry(), fast=fast).plan(
        _cluster(200), [PlacementRequest(a.workload(), a.instances, StrategyRef(name="binpack")) for a in apps])
    assert not plan.unplaced
    bound = math.ceil(max(sum(c * 60 for c, _ in SHAPES) / 16, sum(m * 60 for _, m in SHAPES) / 65536))
    assert len({p.agent_id for p in plan.placements}) <= 1.05 * bound


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("by, constraints", [(None, []), (None, [["@zone", "GROUP_BY"]]), ("@zone", []),
                                             ("rack", [])])
def test_spread_keeps_every_app_even(fast, by, constraints):
    apps = [AppSpec.model_validate({"id": f"app-{i}", "cmd": "x", "cpus": c, "mem": m, "instances": 30,
                                    "constraints": constraints}) for i, (c, m) in enumerate(SHAPES)]
    ref = StrategyRef(name="spread", args={"by": by} if by else {})
    cluster = _cluster(60)
    plan = Planner(StrategyRegistry(), fast=fast).plan(
        cluster, [PlacementRequest(a.workload(), a.instances, ref) for a in apps])
    assert not plan.unplaced
    field = by or "hostname"
    values = {a.id: (a.hostname if field == "hostname" else a.zone if field == "@zone" else a.attributes[field])
              for a in cluster}
    for app in apps:
        counts = Counter(values[p.agent_id] for p in plan.placements if p.app_id == app.id)
        every = [counts.get(v, 0) for v in set(values.values())]
        assert max(every) - min(every) <= 1, (app.id, counts)
