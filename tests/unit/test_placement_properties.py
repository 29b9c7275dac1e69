"""Properties of every plan: no agent over its resources, ports valid and distinct, every
constraint held, every requested task either placed or explained; and the fast heap path chooses
exactly what a full re-evaluation of every agent would."""
from __future__ import annotations

import re
from collections import Counter, defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halyard.cluster.agents import SCALARS, AgentInfo, Resources
from halyard.placement import PlacementRequest, Planner, Scope, Strategy, StrategyRegistry
from halyard.placement.registry import BUILTINS
from halyard.placement.state import format_scalar
from halyard.placement.strategies.scorers import BinpackScorer, LeastAllocatedScorer, SpreadScorer
from halyard.spec.app import AppSpec, Operator, StrategyRef

EPS = 1e-6
RACKS = ["r1", "r2", "r3"]
ZONES = ["z1", "z2"]


@st.composite
def agents(draw):
    n = draw(st.integers(0, 12))
    out = []
    for i in range(n):
        attrs = {}
        if draw(st.booleans()):
            attrs["rack"] = draw(st.sampled_from(RACKS))
        if draw(st.booleans()):
            attrs["level"] = float(draw(st.integers(1, 3)))
        start = 31000 + 100 * i
        ports = ((start, start + draw(st.integers(0, 6))),)
        res = Resources(cpus=draw(st.sampled_from([1, 2, 4])), mem=draw(st.sampled_from([512, 1024, 4096])), disk=1000)
        tasks = {"/app-0": draw(st.integers(0, 1))} if draw(st.booleans()) else {}
        out.append(AgentInfo(id=f"a{i}", hostname=f"h{i % 10}", available={"*": res}, ports={"*": ports},
                             capacity=res, attributes=attrs, region="eu",
                             zone=draw(st.sampled_from(ZONES + [None])), app_tasks=tasks))
    return out


FIELDS = ["hostname", "rack", "@zone", "level"]


@st.composite
def constraint(draw):
    field = draw(st.sampled_from(FIELDS))
    op = draw(st.sampled_from(list(Operator)))
    if op is Operator.UNIQUE:
        return [field, op.value]
    if op in (Operator.CLUSTER, Operator.GROUP_BY) and draw(st.booleans()):
        return [field, op.value]
    if op in (Operator.MAX_PER, Operator.GROUP_BY):
        return [field, op.value, str(draw(st.integers(1, 3)))]
    if op in (Operator.LIKE, Operator.UNLIKE):
        return [field, op.value, draw(st.sampled_from(["r1", "r[12]", "z.*", "h[0-4]", "1"]))]
    return [field, op.value, draw(st.sampled_from(["r2", "z1", "h3", "2", "2.0"]))]


@st.composite
def apps(draw):
    n = draw(st.integers(1, 3))
    out = []
    for i in range(n):
        out.append(AppSpec.model_validate({
            "id": f"app-{i}", "cmd": "x", "instances": draw(st.integers(0, 10)),
            "cpus": draw(st.sampled_from([0.1, 0.5, 1, 1.5])), "mem": draw(st.sampled_from([16, 256, 1024])),
            "portDefinitions": [{"port": 0}] * draw(st.integers(0, 2)),
            "constraints": draw(st.lists(constraint(), max_size=2)),
        }))
    return out


def _value(agent: AgentInfo, field: str):
    if field in ("hostname", "@hostname"):
        return agent.hostname
    if field == "@zone":
        return agent.zone
    v = agent.attributes.get(field)
    return format_scalar(v) if isinstance(v, float) else v


def _static_ok(agent: AgentInfo, c) -> bool:
    v = _value(agent, c.field)
    if c.operator is Operator.UNLIKE:
        return v is None or not re.fullmatch(c.value, v)
    if v is None:
        return False
    if c.operator is Operator.LIKE:
        return re.fullmatch(c.value, v) is not None
    if c.operator is Operator.IS or (c.operator is Operator.CLUSTER and c.value is not None):
        if isinstance(agent.attributes.get(c.field), float):
            try:
                return round(agent.attributes[c.field], 3) == round(float(c.value), 3)
            except ValueError:
                return False
        return v == c.value
    return True


def check_plan(cluster, requested, plan):
    by_id = {a.id: a for a in cluster}
    used = defaultdict(lambda: [0.0] * 4)
    ports = defaultdict(list)
    for p in plan.placements:
        for k in range(4):
            used[p.agent_id][k] += p.resources[k]
        ports[p.agent_id] += list(p.ports)
    for agent_id, vec in used.items():
        free = by_id[agent_id].available["*"].as_tuple()
        assert all(vec[k] <= free[k] + EPS for k in range(4)), (agent_id, SCALARS, vec, free)
        got = ports[agent_id]
        assert len(got) == len(set(got)), got
        assert all(any(b <= x <= e for b, e in by_id[agent_id].ports["*"]) for x in got)
    placed = Counter(p.app_id for p in plan.placements)
    unplaced = {u.app_id: u for u in plan.unplaced}
    for app in requested:
        count = app.instances - sum(a.app_tasks.get(app.id, 0) for a in cluster)
        count = max(0, count)
        assert placed[app.id] + (unplaced[app.id].count if app.id in unplaced else 0) == count
        if app.id in unplaced:
            assert unplaced[app.id].reasons, "an unplaced task must say why"
        tasks = [a for a in cluster for _ in range(a.app_tasks.get(app.id, 0))]
        tasks += [by_id[p.agent_id] for p in plan.placements if p.app_id == app.id]
        new = [by_id[p.agent_id] for p in plan.placements if p.app_id == app.id]
        for c in app.constraints:
            for agent in new:  # static operators: every new task's agent qualifies
                assert _static_ok(agent, c), (c, agent.id)
            values = Counter(_value(a, c.field) for a in tasks)
            values.pop(None, None)  # tasks that ran before on agents without the field
            existing = {_value(a, c.field) for a in cluster if a.app_tasks.get(app.id)} - {None}
            if c.operator is Operator.UNIQUE and new:
                assert all(values[_value(a, c.field)] <= 1 for a in new), (c, values)
            if c.operator is Operator.MAX_PER and new:
                new_values = {_value(a, c.field) for a in new}
                assert all(values[v] <= int(c.value) for v in new_values), (c, values)
            if c.operator is Operator.CLUSTER and c.value is None and new:
                new_values = {_value(a, c.field) for a in new}
                assert new_values <= existing if existing else len(new_values) == 1, (c, values)
            if c.operator is Operator.GROUP_BY and new:
                # Marathon's checkGroupBy at every step: an unused value, or, once at least
                # ``minimum`` values are used, a value with the fewest tasks.
                eligible = [a for a in cluster if all(_static_ok(a, s) for s in app.constraints
                                                      if s.operator in (Operator.LIKE, Operator.UNLIKE, Operator.IS)
                                                      or (s.operator is Operator.CLUSTER and s.value is not None))]
                present = {_value(a, c.field) for a in eligible} - {None}
                minimum = int(c.value) if c.value is not None else len(present)
                counts = Counter(_value(a, c.field) for a in cluster for _ in range(a.app_tasks.get(app.id, 0)))
                counts.pop(None, None)
                for agent in new:
                    v = _value(agent, c.field)
                    if counts[v]:
                        assert len(counts) >= minimum and counts[v] == min(counts.values()), (c, counts, v)
                    counts[v] += 1


def requests_for(cluster, requested, strategy):
    running = Counter()
    for a in cluster:
        running.update(a.app_tasks)
    return [PlacementRequest(a.workload(), max(0, a.instances - running[a.id]), StrategyRef(name=strategy))
            for a in requested]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agents(), apps(), st.sampled_from(["binpack", "spread", "random"]), st.integers(0, 3))
def test_every_plan_respects_resources_ports_and_constraints(cluster, requested, strategy, seed):
    plan = Planner(StrategyRegistry(), seed).plan(cluster, requests_for(cluster, requested, strategy))
    check_plan(cluster, requested, plan)


class _Global:
    """Wrap a scorer so it declares GLOBAL scope: the planner then re-scores every agent each time."""

    def __init__(self, inner):
        self.inner, self.name, self.scope = inner, inner.name, Scope.GLOBAL

    def prepare(self, ctx):
        self.inner.prepare(ctx)

    def score(self, ctx, agent):
        return self.inner.score(ctx, agent)


def _slow(name, scorers):
    return lambda args: Strategy(name, scorers=tuple((_Global(s()), w) for s, w in scorers))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agents(), apps(), st.sampled_from(["binpack", "spread"]))
def test_heap_path_chooses_what_a_full_scan_chooses(cluster, requested, strategy):
    slow = StrategyRegistry({**BUILTINS,
                             "slow-binpack": _slow("binpack", [(BinpackScorer, 1.0)]),
                             "slow-spread": _slow("spread", [(SpreadScorer, 1.0), (LeastAllocatedScorer, 0.009)])})
    fast_plan = Planner(StrategyRegistry()).plan(cluster, requests_for(cluster, requested, strategy))
    slow_plan = Planner(slow).plan(cluster, requests_for(cluster, requested, "slow-" + strategy))
    assert [(p.app_id, p.agent_id, p.ports) for p in fast_plan.placements] == \
           [(p.app_id, p.agent_id, p.ports) for p in slow_plan.placements]
    assert [(u.app_id, u.count) for u in fast_plan.unplaced] == [(u.app_id, u.count) for u in slow_plan.unplaced]
