"""What the planner places: workloads from apps and from job runs, their kinds, the dry run's
requests, and the deprecated ``ctx.app`` that plugins may still read."""
from __future__ import annotations

import pytest

from halyard.engine.messages import Offers, PutJob, StartRun, Subscribed
from halyard.errors import ValidationError
from halyard.placement import (
    OK,
    Filter,
    PlacementRequest,
    Planner,
    Scope,
    Scorer,
    Strategy,
    StrategyRegistry,
    Workload,
    requests_for,
    unfit,
)
from halyard.placement.registry import BUILTINS
from halyard.spec.app import Constraint, Operator, StrategyRef
from halyard.spec.validation import parse_job

from .builders import agent, app
from .test_engine import make_engine, offer

JOB_KEY = "/halyard-jobs/reports.daily/r1"


def job(**extra):
    return parse_job({"id": "reports.daily", "cmd": "make-report", "cpus": 0.5, "mem": 64, **extra})


# --- workloads from apps and jobs -------------------------------------------------------------

@pytest.mark.parametrize("spec, expected", [
    (app(), dict(id="/web", kind="app", instances=1, cpus=1.0, mem=128.0, disk=0.0, gpus=0.0, roles=("*",),
                 host_ports=(0,), constraints=(), strategy=None, labels={})),
    (app(instances=4, cpus=2, mem=512, disk=10, gpus=1, acceptedResourceRoles=["prod", "*"],
         constraints=[["@zone", "GROUP_BY"]], strategy="spread", labels={"team": "a"},
         requirePorts=True, portDefinitions=[{"port": 8080}, {"port": 8081}]),
     dict(id="/web", kind="app", instances=4, cpus=2.0, mem=512.0, disk=10.0, gpus=1.0, roles=("prod", "*"),
          host_ports=(8080, 8081), constraints=(Constraint("@zone", Operator.GROUP_BY),),
          strategy=StrategyRef(name="spread"), labels={"team": "a"})),
    (app(container={"docker": {"image": "i", "network": "BRIDGE"},
                    "portMappings": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 31005}]}),
     dict(host_ports=(0, 31005))),
    # a run: the job's resources plus the executor's, one task, no host ports
    (job(disk=5, constraints=[["hostname", "UNIQUE"]], acceptedResourceRoles=["batch"], strategy="spread",
         labels={"team": "b"}).workload(JOB_KEY, 0.25, 32),
     dict(id=JOB_KEY, kind="job", instances=1, cpus=0.75, mem=96.0, disk=5.0, gpus=0.0, roles=("batch",),
          host_ports=(), constraints=(Constraint("hostname", Operator.UNIQUE),),
          strategy=StrategyRef(name="spread"), labels={"team": "b"})),
    (job().workload(JOB_KEY, 0.0, 0.0), dict(kind="job", cpus=0.5, mem=64.0, roles=("*",), host_ports=())),
])
def test_apps_and_job_runs_become_workloads(spec, expected):
    workload = spec if isinstance(spec, Workload) else spec.workload()
    assert {name: getattr(workload, name) for name in expected} == expected


def test_a_workload_refuses_an_unknown_kind_and_no_roles():
    with pytest.raises(ValueError, match="kind must be one of app, job"):
        Workload(id="/x", kind="service", instances=1, cpus=1, mem=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one role"):
        Workload(id="/x", kind="app", instances=1, cpus=1, mem=1, roles=())


# --- placing a job run ------------------------------------------------------------------------

def test_a_job_run_is_placed_as_a_job_next_to_an_app():
    run = job().workload(JOB_KEY, 0.25, 32)
    requests = [PlacementRequest(app(instances=1).workload(), 1), PlacementRequest(run, 1)]
    plan = Planner(StrategyRegistry()).plan([agent("a", ports=((31000, 31000),))], requests)
    assert sorted((p.app_id, p.kind, p.ports) for p in plan.placements) == [
        ("/halyard-jobs/reports.daily/r1", "job", ()), ("/web", "app", (31000,))]
    (job_placement,) = [p for p in plan.placements if p.kind == "job"]
    assert job_placement.resources == (0.75, 96.0, 0.0, 0.0)


def test_a_job_run_that_fits_nowhere_is_unplaced_as_a_job():
    run = job(cpus=8).workload(JOB_KEY, 0.25, 32)
    plan = Planner(StrategyRegistry()).plan([agent("a")], [PlacementRequest(run, 1)])
    assert [(u.app_id, u.kind, u.count) for u in plan.unplaced] == [(JOB_KEY, "job", 1)]
    assert plan.unplaced[0].reasons == ("insufficient cpus (needs 8.25) on 1 of 1 agents",)


def test_the_engine_files_a_run_that_fits_nowhere_under_the_run_not_under_apps():
    engine, _ = make_engine()
    engine.handle(PutJob(job(cpus=4)))
    engine.handle(Subscribed("F1"))
    engine.handle(StartRun("reports.daily", "r1"))
    engine.handle(Offers((offer(1),)))  # 2 CPUs
    needs = 4 + engine.config.executor.cpus
    assert engine.jobs.waiting == {"r1": (f"insufficient cpus (needs {needs:g}) on 1 of 1 agents",)}
    assert engine.waiting == {}


def test_the_same_id_twice_is_refused_naming_its_kind():
    run = job().workload(JOB_KEY, 0, 0)
    with pytest.raises(ValidationError) as err:
        Planner(StrategyRegistry()).plan([agent("a")], [PlacementRequest(run, 1), PlacementRequest(run, 1)])
    assert f"job {JOB_KEY} requested more than once" in str(err.value)


# --- the dry run's requests -------------------------------------------------------------------

@pytest.mark.parametrize("running, strategy, expected", [
    ({}, None, [("/web", 3, None), ("/db", 2, None)]),
    ({"/web": 1, "/db": 5}, None, [("/web", 2, None), ("/db", 0, None)]),  # never fewer than none
    ({"/web": 3}, "spread", [("/web", 0, "spread"), ("/db", 2, "spread")]),
])
def test_requests_for_asks_for_what_the_cluster_lacks(running, strategy, expected):
    agents = [agent("a", tasks={k: 1 for k in running}), agent("b", tasks={k: n - 1 for k, n in running.items()})]
    specs = [app(instances=3), app("db", instances=2).workload()]  # a spec or a workload
    got = requests_for(specs, agents, strategy)
    assert [(r.workload.id, r.count, r.strategy.name if r.strategy else None) for r in got] == expected


# --- plugins written against ctx.app ----------------------------------------------------------

class SameTeam(Filter):
    """Reads the workload through the deprecated ``ctx.app``: agents of the app's team only."""

    name = "same-team"
    scope = Scope.AGENT
    static = True

    def prepare(self, ctx):
        self.seen = (ctx.app, ctx.workload, ctx.app_id)

    def filter(self, ctx, agent):
        return OK if agent.value("team") == ctx.app.labels.get("team") else unfit("another team's agent")


class RoomForAll(Scorer):
    """100 when the agent could hold every instance: reads ``ctx.app.instances`` and ``ctx.app.cpus``."""

    name = "room-for-all"
    scope = Scope.AGENT

    def score(self, ctx, agent):
        return 100.0 if agent.free_total[0] >= ctx.app.instances * ctx.app.cpus else 0.0


def test_a_plugin_reading_ctx_app_still_works():
    team = SameTeam()
    registry = StrategyRegistry({**BUILTINS, "teams": lambda args: Strategy(
        "teams", filters=(team,), scorers=((RoomForAll(), 1.0),))})
    agents = [agent("a", attrs={"team": "x"}, cpus=8), agent("b", attrs={"team": "y"}, cpus=2),
              agent("c", attrs={"team": "y"}, cpus=16)]
    web = app(instances=3, cpus=2, mem=1, labels={"team": "y"})
    plan = Planner(registry).plan(agents, [PlacementRequest(web.workload(), 3, StrategyRef(name="teams"))])
    assert [p.agent_id for p in plan.placements] == ["c", "c", "c"]
    workload, alias_of, app_id = team.seen[1], team.seen[0], team.seen[2]
    assert alias_of is workload and workload.id == app_id == "/web"
