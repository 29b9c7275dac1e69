"""The scheduler's state machine, events in and instructions out: no Mesos, no ZooKeeper."""
from __future__ import annotations

import itertools

import pytest

from halyard.api.event_json import marathon_events
from halyard.api.queue import placement_json, queue_json
from halyard.cluster.mesos_types import LAUNCHING
from halyard.engine.app_records import Snapshot, TaskRecord
from halyard.engine.engine import EngineConfig
from halyard.engine.messages import (
    CancelDeployment,
    Decline,
    DeleteApp,
    Kill,
    KillTasks,
    Launch,
    Offers,
    Paused,
    Persist,
    Publish,
    PutApp,
    PutJob,
    Reconcile,
    ResetDelay,
    RestartApp,
    StartRun,
    StatusUpdate,
    Subscribed,
    Suppress,
    Tick,
)
from halyard.engine.view import EngineView
from halyard.errors import ConflictError, NotFoundError
from halyard.mesos.codec import decode_offer, decode_status, task_info
from halyard.placement import Scope, Scorer, Strategy, StrategyRegistry
from halyard.placement.registry import BUILTINS
from halyard.spec.validation import parse_app, parse_job

from ..engine_harness import EngineHarness


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


class RecordingEngine(EngineHarness):
    """The engine, keeping every event it published (rendered as the event stream shows them)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.published = []

    def handle(self, event):
        out = super().handle(event)
        self.published += [e for i in out if isinstance(i, Publish) for e in marathon_events(i.event)]
        return out


def make_engine(registry=None, **config):
    clock = Clock()
    ids = (f"id{i}" for i in itertools.count())
    engine = RecordingEngine(registry or StrategyRegistry(), EngineConfig(**config), clock=clock,
                             new_id=lambda: next(ids))
    return engine, clock


def app(instances=3, **extra):
    return parse_app({"id": "/web", "cmd": "serve", "cpus": 0.5, "mem": 64, "instances": instances, **extra})


def offer(n, agent=None, cpus=2.0, mem=1024.0, ports=(31000, 31009), zone="zone-a"):
    """An offer as the engine gets it: decoded from Mesos' JSON by the codec."""
    agent = agent or f"S{n}"
    return decode_offer({"id": {"value": f"O{n}-{agent}"}, "agent_id": {"value": agent}, "hostname": f"127.0.0.{n}",
            "domain": {"fault_domain": {"region": {"name": "local"}, "zone": {"name": zone}}},
            "attributes": [{"name": "rack_id", "type": "TEXT", "text": {"value": f"rack-{n}"}}],
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}, "role": "*", "allocation_info": {"role": "*"}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}, "role": "*", "allocation_info": {"role": "*"}},
                {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": ports[0], "end": ports[1]}]},
                 "role": "*", "allocation_info": {"role": "*"}}]})


def status(task_id, state, agent="S1", uuid="u1", **extra):
    """A status update as the engine gets it: decoded from Mesos' JSON by the codec."""
    return decode_status({"task_id": {"value": task_id}, "state": state, "agent_id": {"value": agent},
                          **({"uuid": uuid} if uuid is not None else {}), **extra})


def kinds(instructions):
    """The instructions' kinds, in order (events published are left out: see ``published``)."""
    return [type(i).__name__ for i in instructions if not isinstance(i, Publish)]


def running_engine(instances=3, **config):
    engine, clock = make_engine(**config)
    engine.handle(PutApp(app(instances)))
    engine.handle(Subscribed("F1"))
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    launched = [t.task_id for ins in out if isinstance(ins, Launch) for t in ins.tasks]
    for i, task_id in enumerate(launched):
        clock.now += 1  # each starts a second after the previous one
        engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=engine.tasks[task_id].agent_id, uuid=f"r{i}")))
    clock.now += engine.config.min_healthy
    engine.handle(Tick())  # the start deployment is done
    return engine, clock, launched


def test_offers_launch_all_pending_tasks_persisted_before_the_accept():
    engine, _ = make_engine()
    assert kinds(engine.handle(PutApp(app(4, constraints=[["hostname", "MAX_PER", "2"]])))) == ["Persist"]
    # the framework id; the master's agent list read; offers wanted
    assert kinds(engine.handle(Subscribed("F1"))) == ["Persist", "ListAgents", "Revive"]
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    assert isinstance(out[0], Persist) and len(out[0].tasks) == 4
    assert all(t.state == LAUNCHING for t in out[0].tasks)
    launches = [i for i in out if isinstance(i, Launch)]
    assert sum(len(i.tasks) for i in launches) == 4 and out.index(launches[0]) > 0
    info = task_info(launches[0].tasks[0])
    env = {v["name"]: v["value"] for v in info["command"]["environment"]["variables"]}
    assert env["PORT0"] == env["PORT"] == "31000" and env["HALYARD_APP_ID"] == "/web"
    ports = [r for r in info["resources"] if r["name"] == "ports"][0]
    assert ports["ranges"] == {"range": [{"begin": 31000, "end": 31000}]} and ports["allocation_info"] == {"role": "*"}
    assert {"key": "HALYARD_APP_ID", "value": "/web"} in info["labels"]["labels"]
    assert kinds(out)[-1] in ("Decline", "Suppress")  # the unused agent's offer, then no more offers wanted
    assert isinstance(out[-1], Suppress) and engine.offer_cycles == 1


def test_status_updates_are_persisted_then_acknowledged_and_duplicates_change_nothing():
    engine, _, launched = running_engine(1)
    task_id = launched[0]
    agent = engine.tasks[task_id].agent_id
    assert engine.tasks[task_id].state == "TASK_RUNNING" and engine.tasks[task_id].started_at is not None
    again = engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid="dup")))
    assert kinds(again) == ["Acknowledge"]


def test_failed_task_is_replaced_after_a_growing_backoff_that_can_be_reset():
    engine, clock, launched = running_engine(1)
    agent = engine.tasks[launched[0]].agent_id
    out = engine.handle(StatusUpdate(status(launched[0], "TASK_FAILED", agent=agent, message="exit 1")))
    assert kinds(out)[:2] == ["Persist", "Acknowledge"]
    assert out[0].delete_tasks == [launched[0]] and engine.apps["/web"].delay == 1.0
    assert engine.apps["/web"].last_failure.message == "exit 1"
    assert kinds(engine.handle(Offers((offer(1),)))) == ["Decline"]  # still backing off
    clock.now += 1.01
    assert "Revive" in kinds(engine.handle(Tick())) or not engine.suppressed
    out = engine.handle(Offers((offer(1),)))
    new_task = [t.task_id for i in out if isinstance(i, Launch) for t in i.tasks][0]
    engine.handle(StatusUpdate(status(new_task, "TASK_FAILED", agent="S1")))
    assert engine.apps["/web"].delay == pytest.approx(1.15)
    engine.handle(ResetDelay("/web"))
    assert engine.apps["/web"].delay == 0 and engine.apps["/web"].launch_after == 0


def test_many_failures_at_once_are_one_backoff_and_lost_tasks_do_not_back_off():
    engine, clock, launched = running_engine(3)
    for task_id in launched[:2]:
        engine.handle(StatusUpdate(status(task_id, "TASK_FAILED", agent=engine.tasks[task_id].agent_id)))
    assert engine.apps["/web"].delay == 1.0  # not 1.15: the second failure came during the backoff
    clock.now += 2
    engine.handle(StatusUpdate(status(launched[2], "TASK_LOST", agent=engine.tasks[launched[2]].agent_id)))
    assert engine.apps["/web"].delay == 1.0 and engine.apps["/web"].launch_after < clock.now
    assert engine.apps["/web"].last_failure.state == "TASK_LOST"


def test_backoff_is_capped_at_max_launch_delay():
    engine, clock, launched = running_engine(1)
    engine.apps["/web"] = engine.apps["/web"].__class__(**{**engine.apps["/web"].__dict__, "delay": 299.0})
    engine.handle(StatusUpdate(status(launched[0], "TASK_FAILED", agent=engine.tasks[launched[0]].agent_id)))
    assert engine.apps["/web"].delay == 300.0


def test_scale_down_kills_youngest_first_after_persisting():
    engine, clock, launched = running_engine(3)
    clock.now += 1
    out = engine.handle(PutApp(app(1)))
    assert kinds(out)[:1] == ["Persist"]
    killed = [i.task_id for i in out if isinstance(i, Kill)]
    assert sorted(killed) == sorted(launched[1:])  # the youngest two (started last)
    assert all(t.killing for t in out[0].tasks)
    gone = engine.handle(StatusUpdate(status(killed[0], "TASK_KILLED", agent=engine.tasks[killed[0]].agent_id)))
    assert engine.apps["/web"].delay == 0 and kinds(gone)[:2] == ["Persist", "Acknowledge"]


def test_scaling_keeps_tasks_but_a_config_change_replaces_them_rolling():
    engine, clock, launched = running_engine(2)
    clock.now += 1
    engine.handle(PutApp(app(3)))
    assert engine.apps["/web"].config_version != engine.apps["/web"].version
    with pytest.raises(ConflictError, match="locked by one or more deployments"):
        engine.handle(PutApp(app(3, cpus=0.25)))  # the scale to 3 is still under way
    out = engine.handle(PutApp(app(3, cpus=0.25), force=True))
    assert not [i for i in out if isinstance(i, Kill)]  # minimumHealthCapacity 1: keep the old ones running
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    fresh = [t.task_id for i in out if isinstance(i, Launch) for t in i.tasks]
    assert len(fresh) == 3  # maximumOverCapacity 1: 3 new beside 2 old
    kills = []
    for n, task_id in enumerate(fresh):
        out = engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=engine.tasks[task_id].agent_id,
                                                uuid=f"n{n}")))
        kills += [i.task_id for i in out if isinstance(i, Kill)]
    assert sorted(kills) == sorted(launched)


def test_restart_replaces_every_task():
    engine, clock, launched = running_engine(2)
    clock.now += 1
    engine.handle(RestartApp("/web"))
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    assert sum(len(i.tasks) for i in out if isinstance(i, Launch)) == 2


def test_unknown_running_task_is_killed_and_acknowledged():
    engine, _ = make_engine()
    engine.handle(Subscribed("F1"))
    out = engine.handle(StatusUpdate(status("ghost.1", "TASK_RUNNING")))
    assert kinds(out) == ["Kill", "Acknowledge"]
    assert kinds(engine.handle(StatusUpdate(status("ghost.1", "TASK_KILLED")))) == ["Acknowledge"]


def test_reconciliation_after_subscribe_retries_then_replaces_what_mesos_does_not_know():
    engine, clock = make_engine()
    engine.handle(PutApp(app(2)))
    snap = Snapshot(framework_id="F1", apps=dict(engine.apps), tasks={
        "web.a": TaskRecord("web.a", "/web", engine.apps["/web"].config_version, "S1", "127.0.0.1", (31000,),
                            state="TASK_RUNNING", staged_at=clock.now, started_at=clock.now),
        "web.b": TaskRecord("web.b", "/web", engine.apps["/web"].config_version, "S2", "127.0.0.2", (31000,),
                            state=LAUNCHING, staged_at=clock.now)})
    engine, clock = make_engine()
    engine.load(snap)
    out = engine.handle(Subscribed("F1"))
    assert kinds(out) == ["ListAgents", "Reconcile", "Suppress"]
    assert set(out[1].tasks) == {("web.a", "S1"), ("web.b", "S2")}
    assert engine.pending(engine.apps["/web"]) == 0  # unanswered tasks still count
    clock.now += 2.5
    retry = [i for i in engine.handle(Tick()) if isinstance(i, Reconcile)]
    assert retry and set(retry[0].tasks) == {("web.a", "S1"), ("web.b", "S2")}
    engine.handle(StatusUpdate(status("web.a", "TASK_RUNNING", uuid=None, reason="REASON_RECONCILIATION")))
    out = engine.handle(StatusUpdate(decode_status({"task_id": {"value": "web.b"}, "state": "TASK_UNKNOWN",
                                                    "reason": "REASON_RECONCILIATION"})))
    assert out[0].delete_tasks == ["web.b"] and engine.reconciling() == 0
    assert engine.pending(engine.apps["/web"]) == 1
    clock.now += 15
    assert Reconcile(()) in engine.handle(Tick())  # implicit reconciliation


def test_a_task_lost_to_reconciliation_may_come_back_so_it_waits_the_unreachable_grace():
    """After a master failover the master may answer TASK_LOST (REASON_RECONCILIATION) for a task
    whose agent has not re-registered yet (MESOS-6250): as Marathon, Halyard handles it as
    unreachable, not as gone, so it is not replaced at once (a replacement would run beside it:
    over capacity, or two on one agent under UNIQUE); a report of it running takes it back."""
    engine, clock = make_engine(unreachable_grace=30.0)
    engine.handle(PutApp(app(1)))
    snap = Snapshot(framework_id="F1", apps=dict(engine.apps), tasks={
        "web.a": TaskRecord("web.a", "/web", engine.apps["/web"].config_version, "S1", "127.0.0.1", (31000,),
                            state="TASK_RUNNING", staged_at=clock.now, started_at=clock.now)})
    engine, clock = make_engine(unreachable_grace=30.0)
    engine.load(snap)
    engine.handle(Subscribed("F1"))
    lost = decode_status({"task_id": {"value": "web.a"}, "state": "TASK_LOST", "reason": "REASON_RECONCILIATION"})
    out = engine.handle(StatusUpdate(lost))
    assert not any(getattr(i, "delete_tasks", None) for i in out)
    assert engine.tasks["web.a"].state == "TASK_UNREACHABLE" and engine.pending(engine.apps["/web"]) == 0
    clock.now += 10
    engine.handle(Tick())
    engine.handle(StatusUpdate(status("web.a", "TASK_RUNNING", uuid=None, reason="REASON_RECONCILIATION")))
    assert engine.tasks["web.a"].state == "TASK_RUNNING" and engine.tasks["web.a"].unreachable_since is None
    engine.handle(StatusUpdate(lost))   # lost again, and this time it stays away past the grace
    clock.now += 31
    engine.handle(Tick())
    assert engine.pending(engine.apps["/web"]) == 1


def test_unreachable_task_is_replaced_after_the_grace_period_and_killed_if_it_returns():
    engine, clock, launched = running_engine(1, unreachable_grace=30)
    task_id = launched[0]
    agent = engine.tasks[task_id].agent_id
    engine.handle(StatusUpdate(status(task_id, "TASK_UNREACHABLE", agent=agent, uuid="x")))
    assert engine.pending(engine.apps["/web"]) == 0
    clock.now += 31
    engine.handle(Tick())
    assert engine.tasks[task_id].expired and engine.pending(engine.apps["/web"]) == 1
    out = engine.handle(Offers((offer(2),)))
    assert sum(len(i.tasks) for i in out if isinstance(i, Launch)) == 1
    out = engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid="y")))
    assert Kill(task_id, agent) in out


def test_delete_kills_everything_then_forgets_the_app():
    engine, clock, launched = running_engine(2)
    out = engine.handle(DeleteApp("/web"))
    assert sorted(i.task_id for i in out if isinstance(i, Kill)) == sorted(launched)
    with pytest.raises(ConflictError):
        engine.handle(PutApp(app(1)))
    for task_id in launched:
        out = engine.handle(StatusUpdate(status(task_id, "TASK_KILLED", agent=engine.tasks[task_id].agent_id)))
    assert "/web" not in engine.apps and out[0].delete_apps == ["/web"]


def zone_engine(instances, constraints, running_order):
    """An app placed on S1/S2/S3 (zones a/b/c), its tasks started agent by agent in ``running_order``."""
    engine, clock = make_engine()
    engine.handle(PutApp(app(instances, constraints=constraints)))
    engine.handle(Subscribed("F1"))
    engine.handle(Offers((offer(1, zone="zone-a"), offer(2, zone="zone-b"), offer(3, zone="zone-c"))))
    for agent in running_order:
        for task in [t for t in engine.tasks.values() if t.agent_id == agent]:
            clock.now += 1
            engine.handle(StatusUpdate(status(task.task_id, "TASK_RUNNING", agent=agent, uuid=f"r-{task.task_id}")))
    clock.now += engine.config.min_healthy
    engine.handle(Tick())
    return engine, clock


def per_agent(engine):
    counts = {}
    for t in engine.tasks.values():
        if t.live:
            counts[t.agent_id] = counts.get(t.agent_id, 0) + 1
    return counts


def test_scale_down_keeps_group_by_balanced_then_follows_kill_selection():
    # 2/2/2 over three zones; S1's tasks are the youngest: youngest first alone would leave 0/2/2
    engine, clock = zone_engine(6, [["@zone", "GROUP_BY"]], running_order=["S2", "S3", "S1"])
    assert per_agent(engine) == {"S1": 2, "S2": 2, "S3": 2}
    youngest = max((t for t in engine.tasks.values() if t.agent_id == "S1"), key=lambda t: t.started_at)
    clock.now += 1
    out = engine.handle(PutApp(app(4, constraints=[["@zone", "GROUP_BY"]])))
    killed = [i.task_id for i in out if isinstance(i, Kill)]
    assert len(killed) == 2 and youngest.task_id in killed  # all groups equal: the youngest of all goes first
    assert sorted(per_agent(engine).values()) == [1, 1, 2]


@pytest.mark.parametrize("field, expect", [
    ("@zone", [2, 2]),         # the agents' zones are not known yet: youngest first (S1's two)
    ("hostname", [1, 1, 2]),   # a task knows its hostname: balanced even so
])
def test_scale_down_by_a_new_leader_that_has_not_seen_the_agents_yet(field, expect):
    engine, clock = zone_engine(6, [[field, "GROUP_BY"]], running_order=["S2", "S3", "S1"])
    leader, leader_clock = make_engine()
    leader.load(Snapshot(framework_id="F1", apps=dict(engine.apps), tasks=dict(engine.tasks)))
    leader_clock.now = clock.now + 1
    leader.handle(PutApp(app(4, constraints=[[field, "GROUP_BY"]])))
    assert sorted(per_agent(leader).values()) == expect


def test_kill_with_scale_shrinks_instances():
    engine, clock, launched = running_engine(3)
    out = engine.handle(KillTasks("/web", (launched[0],), scale=True))
    assert engine.apps["/web"].spec.instances == 2 and Kill(launched[0], engine.tasks[launched[0]].agent_id) in out
    with pytest.raises(NotFoundError):
        engine.handle(KillTasks("/web", ("nope",)))


def test_unplaced_work_explains_itself_and_retries_soon():
    engine, _ = make_engine()
    engine.handle(PutApp(app(3, constraints=[["hostname", "UNIQUE"]])))
    engine.handle(Subscribed("F1"))
    out = engine.handle(Offers((offer(1), offer(2))))
    assert sum(len(i.tasks) for i in out if isinstance(i, Launch)) == 2
    assert any("UNIQUE" in r for r in engine.waiting["/web"])
    assert "Suppress" not in kinds(out)


# --- a broken placement plugin fails its app, not the offer cycle ----------------------------

class Explode(Scorer):
    """A plugin's scorer that raises ``error`` (None: works, scores 50)."""

    name = "explode"
    scope = Scope.AGENT
    error = RuntimeError("boom")

    def score(self, ctx, agent):
        if Explode.error is not None:
            raise Explode.error
        return 50.0


@pytest.fixture
def explode():
    """A registry with the built-ins and ``broken`` (Explode); Explode.error restored after."""
    yield StrategyRegistry({**BUILTINS, "broken": lambda args: Strategy("broken", scorers=((Explode(), 1.0),))})
    Explode.error = RuntimeError("boom")


BOOM = "strategy 'broken' failed: scorer 'explode' raised RuntimeError('boom')"


def failures(engine):
    return [e for e in engine.published if e["eventType"] == "placement_failed_event"]


def test_a_broken_strategy_leaves_its_app_waiting_the_others_launched_and_the_offers_declined(explode):
    engine, clock = make_engine(explode)
    engine.handle(PutApp(app(2)))
    engine.handle(PutApp(parse_app({"id": "/broken", "cmd": "x", "cpus": 0.1, "mem": 8, "instances": 2,
                                    "strategy": "broken"})))
    engine.handle(Subscribed("F1"))
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))  # raises nothing
    launched = [t for i in out if isinstance(i, Launch) for t in i.tasks]
    assert sorted(t.spec.id for t in launched) == ["/web", "/web"]  # the other app is placed
    used = {i.agent_id for i in out if isinstance(i, Launch)}
    (decline,) = [i for i in out if isinstance(i, Decline)]
    assert set(decline.offer_ids) == {f"O{n}-S{n}" for n in (1, 2, 3) if f"S{n}" not in used}
    assert decline.refuse_seconds == engine.config.refuse_seconds_busy  # something still waits: ask again soon
    assert "Suppress" not in kinds(out)
    assert engine.waiting == {"/broken": (BOOM,)}
    view = EngineView(engine)
    (queued,) = queue_json(view)["queue"]
    assert queued["app"]["id"] == "/broken" and queued["count"] == 2 and queued["reasons"] == [BOOM]
    assert placement_json(view, engine.apps["/broken"])["reasons"] == [BOOM]
    assert [{k: e[k] for k in ("appId", "reason")} for e in failures(engine)] == [{"appId": "/broken", "reason": BOOM}]
    # Next offer cycle, same failure: declined again, not reported again.
    clock.now += 5
    out = engine.handle(Offers((offer(1, agent="S9"),)))
    assert kinds(out) == ["Decline"] and len(failures(engine)) == 1
    # A different failure is news; a strategy that works again places the app.
    Explode.error = KeyError("zone")
    engine.handle(Offers((offer(1, agent="S9"),)))
    assert [e["reason"] for e in failures(engine)][1:] == [
        "strategy 'broken' failed: scorer 'explode' raised KeyError('zone')"]
    Explode.error = None
    out = engine.handle(Offers((offer(1, agent="S9"),)))
    assert sorted(t.spec.id for i in out if isinstance(i, Launch) for t in i.tasks) == ["/broken", "/broken"]
    assert engine.waiting == {} and engine.launcher.failed == {} and len(failures(engine)) == 2


def test_a_restart_onto_a_broken_strategy_keeps_the_old_tasks(explode):
    """Its new tasks cannot be placed, but killing old ones would not make them placeable: the
    app is not "stuck for room", and keeps serving with its old tasks."""
    engine, clock = make_engine(explode)
    engine.handle(PutApp(app(3)))
    engine.handle(Subscribed("F1"))
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    for i, task in enumerate(t for ins in out if isinstance(ins, Launch) for t in ins.tasks):
        engine.handle(StatusUpdate(status(task.task_id, "TASK_RUNNING", agent=task.agent_id, uuid=f"r{i}")))
    clock.now += engine.config.min_healthy
    engine.handle(Tick())
    engine.handle(PutApp(app(3, strategy="broken")))
    for _ in range(3):
        clock.now += 5
        out = engine.handle(Offers((offer(1, agent="S9"),)))
        assert not [i for i in out if isinstance(i, (Kill, Launch))]
    assert engine.waiting["/web"] == (BOOM,)
    assert sum(t.state == "TASK_RUNNING" and not t.killing for t in engine.tasks.values()) == 3


def test_a_job_run_whose_strategy_fails_waits_with_the_reason(explode):
    engine, _ = make_engine(explode)
    engine.handle(PutJob(parse_job({"id": "etl", "cmd": "x", "cpus": 0.1, "mem": 8, "strategy": "broken"})))
    engine.handle(Subscribed("F1"))
    engine.handle(StartRun("etl", "r1"))
    out = engine.handle(Offers((offer(1),)))
    assert kinds(out) == ["Decline"]
    assert engine.jobs.waiting == {"r1": (BOOM,)}
    assert [{k: e[k] for k in ("jobId", "runId", "reason")} for e in failures(engine)] == [
        {"jobId": "etl", "runId": "r1", "reason": BOOM}]


def test_after_resubscribing_offers_are_revived_even_if_an_earlier_leader_suppressed():
    engine, clock, launched = running_engine(1)
    assert engine.suppressed is True
    engine.handle(StatusUpdate(status(launched[0], "TASK_FAILED", agent=engine.tasks[launched[0]].agent_id)))
    fresh, fresh_clock = make_engine()
    fresh.load(Snapshot(framework_id="F1", apps=dict(engine.apps), tasks={}))
    fresh_clock.now = clock.now + 5  # past the backoff
    assert "Revive" in kinds(fresh.handle(Subscribed("F1")))


def test_paused_engine_declines_and_suppresses():
    engine, _ = make_engine()
    engine.handle(PutApp(app(1)))
    engine.handle(Subscribed("F1"))
    out = engine.handle(Paused(True))
    assert kinds(out) == ["Suppress"]
    assert kinds(engine.handle(Offers((offer(1),))))[0] == "Decline"
    assert kinds(engine.handle(Paused(False))) == ["Revive"]


def test_commands_on_missing_apps_are_not_found():
    engine, _ = make_engine()
    for event in (DeleteApp("/x"), RestartApp("/x"), ResetDelay("/x")):
        with pytest.raises(NotFoundError):
            engine.handle(event)


# --- deployments ------------------------------------------------------------------------------

def launch_all(engine, agents=(1, 2, 3)):
    out = engine.handle(Offers(tuple(offer(n) for n in agents)))
    return [t.task_id for i in out if isinstance(i, Launch) for t in i.tasks]


def run(engine, clock, task_ids):
    for n, task_id in enumerate(task_ids):
        clock.now += 0.1
        engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=engine.tasks[task_id].agent_id,
                                          uuid=f"run-{task_id}")))


def test_a_deployment_without_checks_ends_as_soon_as_every_new_instance_runs():
    engine, clock = make_engine()
    out = engine.handle(PutApp(app(2), deployment_id="D0"))
    assert out[0].deployments[0].id == "D0"
    engine.handle(Subscribed("F1"))
    task_ids = launch_all(engine)
    run(engine, clock, task_ids[:1])
    assert engine.deployment_of("/web") is not None
    run(engine, clock, task_ids[1:])
    assert engine.deployment_of("/web") is None  # as in Marathon: no wait, a scale is not a conflict
    assert engine.finished[-1].id == "D0" and engine.finished[-1].status == "succeeded"
    engine.handle(PutApp(app(1)))  # a scale right away, without force: no ConflictError


def test_a_deployment_ends_when_every_new_instance_runs_for_min_ready_seconds():
    engine, clock = make_engine()
    out = engine.handle(PutApp(app(2, minReadySeconds=3), deployment_id="D1"))
    assert out[0].deployments[0].id == "D1" and engine.deployment_of("/web").kind == "start"
    engine.handle(Subscribed("F1"))
    task_ids = launch_all(engine)
    run(engine, clock, task_ids[:1])
    assert engine.deployment_of("/web") is not None
    run(engine, clock, task_ids[1:])
    assert engine.deployment_of("/web") is not None  # running, but not yet for minReadySeconds
    clock.now += 2.5
    engine.handle(Tick())
    assert engine.deployment_of("/web") is not None  # the second has run 2.5 s
    clock.now += 1
    engine.handle(Tick())
    assert engine.deployment_of("/web") is None
    assert engine.finished[-1].id == "D1" and engine.finished[-1].status == "succeeded"


def test_a_failing_config_change_rolls_back_to_the_previous_definition():
    engine, clock, launched = running_engine(2)
    clock.now += 10
    engine.handle(PutApp(app(2, cmd="broken"), deployment_id="D2"))
    failed = 0
    while engine.deployment_of("/web") is not None and engine.deployment_of("/web").id == "D2":
        clock.now += 20  # past the backoff
        engine.handle(Tick())
        for task_id in launch_all(engine):
            engine.handle(StatusUpdate(status(task_id, "TASK_FAILED", agent=engine.tasks[task_id].agent_id,
                                              message="exec: broken: not found")))
            failed += 1
            if engine.deployment_of("/web") is None or engine.deployment_of("/web").id != "D2":
                break
    ended = [d for d in engine.finished if d.id == "D2"][0]
    assert ended.status == "failed" and failed == 3 and "not found" in ended.failures[-1]
    assert engine.apps["/web"].spec.cmd == "serve"  # rolled back
    assert engine.deployment_of("/web").kind == "rollback"
    assert set(launched) <= set(engine.tasks)  # the old tasks were never killed


def test_a_new_app_that_cannot_start_is_removed():
    engine, clock = make_engine(deployment_timeout=60)
    engine.handle(PutApp(app(1, constraints=[["rack_id", "IS", "nowhere"]]), deployment_id="D3"))
    engine.handle(Subscribed("F1"))
    assert launch_all(engine) == []
    clock.now += 61
    engine.handle(Tick())
    assert [d.status for d in engine.finished] == ["failed", "succeeded"]  # D3, then its rollback
    assert "/web" not in engine.apps and "not done after 60s" in engine.finished[0].failures[-1]


def test_cancelling_a_deployment_rolls_back_or_with_force_just_stops_tracking():
    engine, clock, launched = running_engine(1)
    engine.handle(PutApp(app(5), deployment_id="D4"))
    engine.handle(CancelDeployment("D4", rollback_id="R4"))
    assert engine.apps["/web"].spec.instances == 1
    assert [(d.id, d.status) for d in engine.finished][-2:] == [("D4", "cancelled"), ("R4", "succeeded")]
    engine.handle(PutApp(app(5), deployment_id="D5", force=True))
    engine.handle(CancelDeployment("D5", force=True))
    assert engine.apps["/web"].spec.instances == 5 and engine.deployment_of("/web") is None
    with pytest.raises(NotFoundError):
        engine.handle(CancelDeployment("nope"))


def test_a_rolling_change_that_finds_no_room_kills_one_old_task_at_a_time():
    engine, clock = make_engine()
    engine.handle(PutApp(app(2, constraints=[["hostname", "UNIQUE"]])))
    engine.handle(Subscribed("F1"))
    old = launch_all(engine, agents=(1, 2))
    run(engine, clock, old)
    engine.handle(PutApp(app(2, cpus=0.25, constraints=[["hostname", "UNIQUE"]]), force=True))
    out = engine.handle(Offers((offer(1), offer(2))))  # both hosts hold an old task: no room
    kills = [i.task_id for i in out if isinstance(i, Kill)]
    assert len(kills) == 1 and kills[0] in old
    out = engine.handle(Offers((offer(1), offer(2))))
    assert not [i for i in out if isinstance(i, Kill)]  # one at a time: the first is still dying


def test_tasks_that_run_only_for_a_moment_do_not_complete_a_deployment():
    engine, clock = make_engine()
    engine.handle(PutApp(app(2, minReadySeconds=3), deployment_id="D6"))
    engine.handle(Subscribed("F1"))
    task_ids = launch_all(engine)
    run(engine, clock, task_ids)  # both pass through RUNNING...
    for task_id in task_ids:  # ...and exit at once
        engine.handle(StatusUpdate(status(task_id, "TASK_FAILED", agent=engine.tasks[task_id].agent_id)))
    engine.handle(Tick())
    assert engine.deployment_of("/web").id == "D6" and len(engine.deployment_of("/web").failures) == 2


def test_tasks_lost_to_a_failover_do_not_fail_a_deployment():
    engine, clock = make_engine()
    engine.handle(PutApp(app(3), deployment_id="D7"))
    engine.handle(Subscribed("F1"))
    for task_id in launch_all(engine):
        engine.handle(StatusUpdate(decode_status({"task_id": {"value": task_id}, "state": "TASK_UNKNOWN",
                                                 "reason": "REASON_RECONCILIATION"})))
    assert engine.deployment_of("/web").id == "D7" and engine.deployment_of("/web").failures == ()


def test_events_for_deployments_and_status_updates():
    engine, clock = make_engine()
    engine.handle(PutApp(app(1), deployment_id="D8"))
    engine.handle(Subscribed("F1"))
    [task_id] = launch_all(engine, agents=(1,))
    run(engine, clock, [task_id])
    clock.now += 5
    engine.handle(Tick())
    types = [e["eventType"] for e in engine.published]
    assert types == ["deployment_info", "api_post_event", "status_update_event", "instance_changed_event",
                     "deployment_step_success", "deployment_success"]
    update, changed = engine.published[2:4]
    assert (update["taskId"], update["taskStatus"], update["appId"]) == (task_id, "TASK_RUNNING", "/web")
    assert (changed["instanceId"], changed["condition"], changed["runSpecId"]) == (task_id, "Running", "/web")
    plan = engine.published[-1]["plan"]
    assert plan["original"]["apps"] == [] and [a["id"] for a in plan["target"]["apps"]] == ["/web"]


def test_kill_tasks_naming_an_unknown_task_changes_nothing_and_later_commands_still_work():
    engine, clock, launched = running_engine(2)
    first = launched[0]
    with pytest.raises(NotFoundError):
        engine.handle(KillTasks("/web", (first, "web.nope")))
    assert not engine.tasks[first].killing  # all or nothing: the known task was not marked
    clock.now += 1
    assert "Kill" not in kinds(engine.handle(Tick()))
    out = engine.handle(KillTasks("/web", (first,)))
    assert kinds(out)[:2] == ["Persist", "Kill"] and out[0].tasks[0].killing


def test_a_conflicting_change_names_the_deployment_in_the_way():
    engine, _ = make_engine()
    engine.handle(PutApp(app(1), deployment_id="D9"))
    with pytest.raises(ConflictError) as refused:
        engine.handle(PutApp(app(2), deployment_id="D10"))
    assert refused.value.deployment_id == "D9"
    assert engine.apps["/web"].spec.instances == 1 and engine.deployment_of("/web").id == "D9"


def test_every_event_type_has_a_handler():
    import typing

    from halyard.engine.messages import Event

    engine, _ = make_engine()
    assert set(typing.get_args(Event)) == set(engine._handlers)


def test_a_destroy_is_not_rolled_back_and_a_refused_cancel_changes_and_publishes_nothing():
    engine, clock, launched = running_engine(1, deployment_timeout=30)
    engine.handle(DeleteApp("/web", deployment_id="S1"))
    published = len(engine.published)
    with pytest.raises(ConflictError) as refused:
        engine.handle(CancelDeployment("S1", rollback_id="R1"))
    assert refused.value.deployment_id == "S1" and engine.deployment_of("/web").id == "S1"
    clock.now += 1
    engine.handle(Tick())
    assert engine.published[published:] == []  # nothing of the refused cancel is published later
    clock.now += 30  # the destroy times out (its task never reports KILLED): it fails, and is not undone
    out = engine.handle(Tick())
    assert engine.deployment_of("/web") is None and engine.finished[-1].status == "failed"
    assert engine.apps["/web"].deleting and not any(isinstance(i, Launch) for i in out)


def test_an_update_without_a_message_keeps_the_last_one_and_an_empty_one_clears_it():
    engine, clock, launched = running_engine(1)
    task_id = launched[0]
    agent = engine.tasks[task_id].agent_id
    engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid="m1", message="warming up")))
    engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid="m2")))
    assert engine.tasks[task_id].message == "warming up"
    out = engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid="m3", message="")))
    assert engine.tasks[task_id].message == "" and kinds(out) == ["Persist", "Acknowledge"]


def test_a_last_task_failure_persisted_in_marathons_shape_is_still_read():
    from halyard.engine.app_records import AppRecord, TaskFailure
    from halyard.timestamps import iso

    record = AppRecord(app(1), 5.0, 5.0, last_failure=TaskFailure("/web", "web.1", "TASK_FAILED", "exit 1", "h1",
                                                                  "S1", 1_000_000.25, 5.0))
    assert AppRecord.from_json(record.to_json()) == record
    old = {**record.to_json(), "last_failure": {"appId": "/web", "host": "h1", "message": "exit 1",
                                                "state": "TASK_FAILED", "taskId": "web.1", "slaveId": "S1",
                                                "timestamp": iso(1_000_000.25), "version": iso(5.0)}}
    assert AppRecord.from_json(old) == record


def persisted_deployments(instructions_seen):
    """The deployments znodes after these Persists, as the store would hold them."""
    held = {}
    for persist in instructions_seen:
        for d in persist.deployments:
            held[d.id] = d
        for deployment_id in persist.delete_deployments:
            held.pop(deployment_id, None)
    return held


def test_ended_deployments_are_persisted_with_their_result_and_survive_a_new_leader():
    from halyard.engine.view import EngineView

    engine, clock = make_engine()
    writes = [i for i in engine.handle(PutApp(app(1), deployment_id="D1")) if isinstance(i, Persist)]
    engine.handle(Subscribed("F1"))
    [task_id] = launch_all(engine, agents=(1,))
    writes += [i for i in engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent="S1"))) if isinstance(i, Persist)]
    clock.now += 5
    writes += [i for i in engine.handle(Tick()) if isinstance(i, Persist)]
    held = persisted_deployments(writes)
    assert held["D1"].status == "succeeded" and held["D1"].ended_at is not None
    successor, _ = make_engine()
    successor.load(Snapshot(apps=dict(engine.apps), tasks=dict(engine.tasks), deployments=held))
    assert successor.deployment_of("/web") is None  # ended: not running again
    assert EngineView(successor).deployment("D1").status == "succeeded"


def test_ended_deployments_are_kept_per_app_up_to_a_bound():
    from halyard.engine import deployments

    engine, clock = make_engine()
    writes = []
    for n in range(deployments.KEEP_PER_APP + 3):
        clock.now += 1
        writes += [i for i in engine.handle(PutApp(app(0, labels={"n": str(n)}), deployment_id=f"D{n}"))
                   if isinstance(i, Persist)]
    held = persisted_deployments(writes)
    ended = sorted((d for d in held.values() if d.ended), key=lambda d: d.ended_at)
    assert len(ended) == deployments.KEEP_PER_APP and ended[0].id == "D3"
    assert [d.id for d in engine.finished][-1] == f"D{deployments.KEEP_PER_APP + 2}"


def test_constraints_count_tasks_on_agents_outside_the_offer_batch():
    engine, clock = make_engine()
    unique_rack = {"cpus": 0.6, "constraints": [["rack_id", "UNIQUE"]]}
    engine.handle(PutApp(app(1, **unique_rack)))
    engine.handle(Subscribed("F1"))
    [first] = launch_all(engine, agents=(1,))  # S1, rack-1
    engine.handle(StatusUpdate(status(first, "TASK_RUNNING", agent="S1")))
    engine.handle(PutApp(app(2, **unique_rack), force=True))
    # S1 is full (0.4 of its 1 cpu left): only S9, also in rack-1, is offered.
    out = engine.handle(Offers((offer(1, agent="S9", cpus=1.0),)))
    assert not [i for i in out if isinstance(i, Launch)] and kinds(out)[-1] == "Decline"
    assert any("rack_id" in reason for reason in engine.waiting["/web"])
    out = engine.handle(Offers((offer(2, cpus=1.0),)))  # rack-2
    assert [i.agent_id for i in out if isinstance(i, Launch)] == ["S2"]


def test_agents_the_master_lists_count_for_constraints_before_they_are_offered():
    from halyard.cluster.mesos_types import AgentSeen
    from halyard.engine.messages import AgentsListed

    engine, clock = make_engine()
    unique_rack = {"cpus": 0.6, "constraints": [["rack_id", "UNIQUE"]]}
    # A new leader: a task already runs on S1 (rack-1), which is full and never offered.
    engine.load(Snapshot(apps={}, tasks={}))
    engine.handle(PutApp(app(1, **unique_rack)))
    engine.handle(Subscribed("F1"))
    [first] = launch_all(engine, agents=(1,))
    successor, _ = make_engine()
    successor.load(Snapshot(apps=dict(engine.apps), tasks=dict(engine.tasks)))
    successor.handle(Subscribed("F1"))
    successor.handle(PutApp(app(2, **unique_rack), force=True))
    successor.handle(AgentsListed((AgentSeen("S1", "127.0.0.1", {"rack_id": "rack-1"}),)))
    out = successor.handle(Offers((offer(1, agent="S9", cpus=1.0),)))  # rack-1 too
    assert not [i for i in out if isinstance(i, Launch)]


def test_a_readiness_check_gates_the_deployment_and_is_asked_every_interval_until_ready():
    from halyard.engine.messages import CheckReadiness, ReadinessChecked
    from halyard.engine.view import EngineView

    engine, clock = make_engine()
    ready_check = {"portDefinitions": [{"port": 0, "name": "http-api"}],
                   "readinessChecks": [{"path": "/ready", "intervalSeconds": 2, "preserveLastResponse": True}]}
    engine.handle(PutApp(app(1, **ready_check), deployment_id="R1"))
    engine.handle(Subscribed("F1"))
    [task_id] = launch_all(engine, agents=(1,))
    engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent="S1")))
    checks = [i for i in engine.handle(Tick()) if isinstance(i, CheckReadiness)]
    assert checks == [CheckReadiness(task_id, "http://127.0.0.1:31000/ready", 10, (200,), True)]
    engine.handle(ReadinessChecked(task_id, False, 404, "not yet"))
    clock.now += 1
    assert not [i for i in engine.handle(Tick()) if isinstance(i, CheckReadiness)]  # within the interval
    assert engine.deployment_of("/web").id == "R1"  # running, not ready: not done
    clock.now += 1
    assert [i.task_id for i in engine.handle(Tick()) if isinstance(i, CheckReadiness)] == [task_id]
    out = engine.handle(ReadinessChecked(task_id, True, 200, "ok"))
    assert out[0].tasks[0].ready is True and engine.deployment_of("/web") is None
    [result] = EngineView(engine).readiness_results("/web")
    assert (result.ready, result.status, result.body) == (True, 200, "ok")
    clock.now += 5
    assert not [i for i in engine.handle(Tick()) if isinstance(i, CheckReadiness)]  # ready: no more checks


def test_a_task_its_executor_killed_for_its_health_check_is_an_unhealthy_kill_and_one_we_killed_is_not():
    engine, clock, launched = running_engine(2)
    victim, other = launched
    engine.published.clear()
    agent = engine.tasks[victim].agent_id
    engine.handle(StatusUpdate(status(victim, "TASK_RUNNING", agent=agent, uuid="h1", healthy=False,
                                      reason="REASON_TASK_HEALTH_CHECK_STATUS_UPDATED")))
    engine.handle(StatusUpdate(status(victim, "TASK_KILLED", agent=agent, uuid="h2", healthy=False,
                                      message="Container exited with status 143")))
    types = [e["eventType"] for e in engine.published]
    assert types == ["status_update_event", "health_status_changed_event", "instance_health_changed_event",
                     "status_update_event", "instance_changed_event", "unhealthy_task_kill_event",
                     "unhealthy_instance_kill_event"]
    kill = engine.published[-2]
    assert (kill["taskId"], kill["appId"], kill["slaveId"], kill["reason"]) == (
        victim, "/web", agent, "Container exited with status 143")
    engine.published.clear()
    engine.handle(KillTasks("/web", (other,)))  # asked for: not the health check's doing
    engine.handle(StatusUpdate(status(other, "TASK_KILLED", agent=engine.tasks[other].agent_id, uuid="k1",
                                      healthy=False)))
    assert "unhealthy_task_kill_event" not in [e["eventType"] for e in engine.published]


def test_a_huge_scale_up_launches_a_bounded_batch_per_offer_round_and_goes_on():
    """A tiny-resource app with a huge instance count does not hold the leader's loop: each offer
    batch launches at most MAX_LAUNCHES_PER_BATCH, and the rest follows on the next offers."""
    from halyard.engine.launch import MAX_LAUNCHES_PER_BATCH

    engine, _ = make_engine()
    engine.handle(PutApp(parse_app({"id": "/tiny", "cmd": "x", "cpus": 0.0001, "mem": 0, "instances": 2_000_000,
                                    "portDefinitions": []})))
    engine.handle(Subscribed("F1"))
    launched = []
    for n in range(2):
        out = engine.handle(Offers((offer(1 + n, cpus=1e6, mem=1e6),)))
        launched.append(sum(len(i.tasks) for i in out if isinstance(i, Launch)))
        assert not any(isinstance(i, Suppress) for i in out)   # more to launch: offers still wanted
    assert launched == [MAX_LAUNCHES_PER_BATCH, MAX_LAUNCHES_PER_BATCH]


def test_with_discovery_off_no_change_set_grows():
    """Nobody reads the changed apps and tasks then: each event's are dropped, not kept for good."""
    engine, _, _ = running_engine(discovery=False)
    engine.handle(PutApp(app(2)))
    assert engine.apps.take_changed() == set() and engine.index.take_changed() == set()


def test_a_new_leader_kills_and_records_what_its_load_finds_over_the_instances():
    """An app stored with 1 instance and 2 running tasks (a scale-down whose kill the old leader
    never sent): the new leader's first event carries the Kill, and the task's killing mark is
    written, not only held in memory."""
    engine, clock = make_engine()
    engine.handle(PutApp(app(1)))
    version = engine.apps["/web"].config_version
    snap = Snapshot(framework_id="F1", apps=dict(engine.apps), tasks={
        f"web.{x}": TaskRecord(f"web.{x}", "/web", version, f"S{n}", f"127.0.0.{n}", (31000,),
                               state="TASK_RUNNING", staged_at=clock.now, started_at=clock.now)
        for n, x in ((1, "a"), (2, "b"))})
    leader, _ = make_engine()
    leader.load(snap)
    out = leader.handle(Subscribed("F1"))
    kills = [i for i in out if isinstance(i, Kill)]
    assert len(kills) == 1, kinds(out)
    written = [t for i in out if isinstance(i, Persist) for t in i.tasks if t.killing]
    assert [t.task_id for t in written] == [kills[0].task_id]
