"""Service discovery's rules (engine/discovery.py): events in, Announce/Withdraw/SyncMembers out;
the drain before a kill; the shards; a new leader's synchronisation; DiscoveryInfo; the paths."""
from __future__ import annotations

import itertools

import pytest

from halyard.engine.app_records import Snapshot
from halyard.engine.members import Announce, Member, SyncMembers, Withdraw, dns_label
from halyard.engine.messages import Kill, KillTasks, Persist, PutApp, StatusUpdate, Subscribed, Tick
from halyard.errors import ValidationError
from halyard.mesos.app_tasks import task_info
from halyard.spec.validation import parse_app
from halyard.store.serverset_format import curator_body, serverset_body
from halyard.store.serversets import discovery_root

from .test_engine import app, launch_all, make_engine, status

CHECK = {"protocol": "HTTP", "path": "/", "portIndex": 0}
_uuids = (f"u{i}" for i in itertools.count())


def web(instances=2, **extra):
    return app(instances, portDefinitions=[{"port": 0, "name": "http"}, {"port": 0, "name": "admin"}], **extra)


def update(engine, task_id, state, healthy=None):
    extra = {} if healthy is None else {"healthy": healthy}
    return engine.handle(StatusUpdate(status(task_id, state, agent=engine.tasks[task_id].agent_id,
                                             uuid=next(_uuids), **extra)))


def found(out, kind):
    return [i for i in out if isinstance(i, kind)]


def started(spec, healthy=True, **config):
    """An engine (discovery on) where ``spec``'s tasks run (healthy when checked), synchronised."""
    engine, clock = make_engine(discovery=True, **config)
    engine.handle(PutApp(spec))
    out = engine.handle(Subscribed("F1"))
    assert found(out, SyncMembers) == [SyncMembers((), full=True)]  # nothing to reconcile: synchronised at once
    for task_id in launch_all(engine):
        update(engine, task_id, "TASK_RUNNING")
        if spec.health_checks and healthy:
            update(engine, task_id, "TASK_RUNNING", healthy=True)
    return engine, clock


def test_a_checked_task_is_announced_once_healthy_after_its_shard_is_persisted():
    engine, clock = make_engine(discovery=True)
    engine.handle(PutApp(web(1, healthChecks=[CHECK])))
    engine.handle(Subscribed("F1"))
    [task_id] = launch_all(engine)
    assert engine.tasks[task_id].shard == 0
    assert found(update(engine, task_id, "TASK_RUNNING"), Announce) == []  # running, no health result
    assert engine.discovery.status(engine.apps["/web"], engine.tasks_of("/web"))[0].reason == "not yet healthy"
    out = update(engine, task_id, "TASK_RUNNING", healthy=True)
    [announce] = found(out, Announce)
    task = engine.tasks[task_id]
    assert announce.member == Member("/web", task_id, task.hostname, task.ports, ("http", "admin"), 0,
                                     task.started_at)
    assert serverset_body(announce.member) == {
        "serviceEndpoint": {"host": task.hostname, "port": task.ports[0]},
        "additionalEndpoints": {"http": {"host": task.hostname, "port": task.ports[0]},
                                "admin": {"host": task.hostname, "port": task.ports[1]}},
        "status": "ALIVE", "shard": 0}
    out = update(engine, task_id, "TASK_RUNNING", healthy=False)
    assert found(out, Withdraw) == [Withdraw(announce.member)]


def test_without_checks_a_running_task_is_announced_and_readiness_gates_it():
    engine, clock = started(web(1))
    assert len(engine.discovery.members) == 1
    rc = {"name": "ready", "portName": "http", "path": "/ready"}
    engine2, _ = started(web(1, readinessChecks=[rc]))
    [s] = engine2.discovery.status(engine2.apps["/web"], engine2.tasks_of("/web"))
    assert s.member is None and s.reason == "not yet ready"


def test_a_scale_down_withdraws_before_the_kill():
    engine, clock = started(web(2, healthChecks=[CHECK]))
    assert len(engine.discovery.members) == 2
    out = engine.handle(PutApp(web(1, healthChecks=[CHECK])))
    kinds = [type(i).__name__ for i in out if isinstance(i, (Persist, Withdraw, Kill))]
    assert kinds == ["Persist", "Withdraw", "Kill"]
    assert found(out, Withdraw)[0].member.task_id == found(out, Kill)[0].task_id


@pytest.mark.parametrize("how", [{"drainSeconds": 5}, {"labels": {"HALYARD_DRAIN_SECONDS": "5"}}])
def test_a_kill_of_an_announced_task_waits_the_drain_delay_after_its_withdrawal(how):
    engine, clock = started(web(2, healthChecks=[CHECK], **how))
    out = engine.handle(PutApp(web(1, healthChecks=[CHECK], **how)))
    [withdraw] = found(out, Withdraw)
    assert found(out, Kill) == []  # held back
    victim = withdraw.member.task_id
    assert engine.tasks[victim].killing
    [s] = [s for s in engine.discovery.status(engine.apps["/web"], engine.tasks_of("/web")) if s.task.task_id == victim]
    assert s.reason == "draining before its kill" and s.drain_until == clock.now + 5
    for _ in range(4):
        clock.now += 1
        assert found(engine.handle(Tick()), Kill) == []
    clock.now += 1.5
    assert [k.task_id for k in found(engine.handle(Tick()), Kill)] == [victim]
    clock.now += 1
    assert found(engine.handle(Tick()), Kill) == []  # once (a retry only after kill_retry)


def test_an_explicit_kill_of_an_announced_task_drains_too_and_an_unannounced_one_dies_at_once():
    engine, clock = started(web(2, healthChecks=[CHECK], drainSeconds=3))
    member = next(iter(engine.discovery.members.values()))
    out = engine.handle(KillTasks("/web", (member.task_id,)))
    assert found(out, Withdraw) == [Withdraw(member)] and found(out, Kill) == []
    engine2, _ = started(web(1, healthChecks=[CHECK], drainSeconds=3), healthy=False)
    task_id = next(iter(engine2.tasks))
    assert [k.task_id for k in found(engine2.handle(KillTasks("/web", (task_id,))), Kill)] == [task_id]


def test_the_drain_label_must_be_a_number():
    with pytest.raises(ValidationError) as exc:
        parse_app({"id": "/web", "cmd": "x", "labels": {"HALYARD_DRAIN_SECONDS": "soon"}})
    assert [str(p) for p in exc.value.problems] == [
        "labels.HALYARD_DRAIN_SECONDS: must be a number of seconds >= 0, got 'soon'"]
    with pytest.raises(ValidationError) as exc:
        parse_app({"id": "/web", "cmd": "x", "drainSeconds": -1})
    assert [p.path for p in exc.value.problems] == ["drainSeconds"]


def test_a_rolling_upgrade_keeps_old_members_until_new_ones_are_healthy_and_reuses_shards():
    engine, clock = started(web(2, healthChecks=[CHECK]))
    old = {m.task_id: m.shard for m in engine.discovery.members.values()}
    assert sorted(old.values()) == [0, 1]
    engine.handle(PutApp(web(2, healthChecks=[CHECK], cpus=0.25)))
    fresh = launch_all(engine)
    assert fresh and {engine.tasks[t].shard for t in fresh} <= {0, 1}
    for t in fresh:
        out = update(engine, t, "TASK_RUNNING")
        assert found(out, Withdraw) == []  # nothing goes before a new task is healthy
    assert set(engine.discovery.members) == set(old)
    out = update(engine, fresh[0], "TASK_RUNNING", healthy=True)
    withdrawn = [w.member.task_id for w in found(out, Withdraw)]
    killed = [k.task_id for k in found(out, Kill)]
    assert withdrawn and withdrawn == killed and set(killed) <= set(old)
    assert out.index(found(out, Withdraw)[0]) < out.index(found(out, Kill)[0])
    [announce] = found(out, Announce)  # the new member first: never fewer members than before
    assert announce.member.task_id == fresh[0] and out.index(announce) < out.index(found(out, Withdraw)[0])
    assert fresh[0] in engine.discovery.members


def test_a_replaced_instance_reuses_its_shard():
    engine, clock = started(web(3))
    shards = {t.task_id: t.shard for t in engine.tasks.values()}
    gone = next(t for t, s in shards.items() if s == 1)
    out = update(engine, gone, "TASK_FAILED")
    assert [w.member.task_id for w in found(out, Withdraw)] == [gone]
    clock.now += 600  # past the restart backoff
    [fresh] = launch_all(engine)
    assert engine.tasks[fresh].shard == 1


def test_a_new_leader_synchronises_members_after_reconciliation_only():
    engine, clock = started(web(3))
    snapshot = Snapshot(framework_id="F1", apps=dict(engine.apps), tasks=dict(engine.tasks))
    before = {m.task_id: m for m in engine.discovery.members.values()}
    leader, clock2 = make_engine(discovery=True)
    leader.load(snapshot)
    out = leader.handle(Subscribed("F1"))
    assert found(out, SyncMembers) == [] and found(out, Announce) == []  # tasks not reconciled yet
    ids = sorted(before)
    lost = ids[0]
    out = leader.handle(StatusUpdate(status(lost, "TASK_LOST", agent=snapshot.tasks[lost].agent_id, uuid=None)))
    assert found(out, SyncMembers) == [] and found(out, Withdraw) == []
    for task_id in ids[1:-1]:
        leader.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=snapshot.tasks[task_id].agent_id, uuid=None)))
    out = leader.handle(StatusUpdate(status(ids[-1], "TASK_RUNNING", agent=snapshot.tasks[ids[-1]].agent_id, uuid=None)))
    [sync] = found(out, SyncMembers)
    assert {m.task_id for m in sync.members} == set(ids[1:])
    assert {m.task_id: m.shard for m in sync.members} == {t: before[t].shard for t in ids[1:]}
    assert sync.full
    clock2.now += 61
    [again] = found(leader.handle(Tick()), SyncMembers)  # and periodically, from what the writer wrote
    assert not again.full and again.members == sync.members


def test_with_discovery_off_nothing_is_announced_and_kills_are_not_held():
    engine, clock = make_engine()
    engine.handle(PutApp(web(1, drainSeconds=5)))
    engine.handle(Subscribed("F1"))
    [task_id] = launch_all(engine)
    out = update(engine, task_id, "TASK_RUNNING")
    assert not found(out, Announce) and engine.tasks[task_id].shard is None
    assert found(engine.handle(KillTasks("/web", (task_id,))), Kill)
    [s] = engine.discovery.status(engine.apps["/web"], engine.tasks_of("/web"))
    assert s.reason == "discovery is off (--no-discovery)"


def test_dns_labels_and_curator_instances():
    assert dns_label("/examples/hello") == "hello-examples"
    assert dns_label("/a.b/C_d") == "c-d-a-b"
    m = Member("/examples/hello", "t1", "h1", (31000, 31001), ("http", None), 2, 1_700_000_000.5)
    body = curator_body(m)
    assert {k: body[k] for k in ("name", "id", "address", "port", "sslPort", "registrationTimeUTC", "serviceType")} == {
        "name": "hello-examples", "id": "t1", "address": "h1", "port": 31000, "sslPort": None,
        "registrationTimeUTC": 1_700_000_000_500, "serviceType": "PERMANENT"}
    assert body["payload"]["metadata"]["port.http"] == "31000" and "uriSpec" in body


@pytest.mark.parametrize("root, path, expected", [
    ("/halyard", "discovery", "/halyard/discovery"),
    ("", "discovery", "/discovery"),
    ("", "/services/serversets", "/services/serversets"),
    ("/halyard", "/serversets", "/serversets"),
])
def test_discovery_paths(root, path, expected):
    assert discovery_root(root, path) == expected


@pytest.mark.parametrize("root, path", [("/halyard", "/halyard"), ("/halyard", "/"), ("", "/"), ("", "."),
                                        ("/halyard", "apps"), ("/halyard", "tasks/x"), ("", "/leader"),
                                        ("/a/b", "/a"), ("/halyard", "../halyard")])
def test_a_discovery_path_colliding_with_the_state_is_refused(root, path):
    with pytest.raises(ValidationError) as exc:
        discovery_root(root, path)
    assert exc.value.problems[0].path == "--discovery-path"


def test_every_taskinfo_carries_discovery_info():
    spec = parse_app({"id": "/examples/hello", "cmd": "serve", "labels": {"HALYARD_ENVIRONMENT": "prod", "team": "a"},
                      "portDefinitions": [{"port": 0, "name": "http", "labels": {"VIP_0": "x"}},
                                          {"port": 0, "protocol": "udp,tcp"}]})
    info = task_info(spec, "2026-01-01T00:00:00.000Z", "t1", "S1", "h1", [], (31000, 31001))
    assert info["discovery"] == {
        "visibility": "FRAMEWORK", "name": "hello-examples", "environment": "prod",
        "version": "2026-01-01T00:00:00.000Z",
        "ports": {"ports": [{"number": 31000, "protocol": "tcp", "name": "http",
                             "labels": {"labels": [{"key": "VIP_0", "value": "x"}]}},
                            {"number": 31001, "protocol": "udp"}, {"number": 31001, "protocol": "tcp"}]},
        "labels": {"labels": [{"key": "HALYARD_ENVIRONMENT", "value": "prod"}, {"key": "team", "value": "a"}]}}


def test_the_endpoints_api_says_what_is_announced_and_why_not():
    from halyard.api.server import create_app

    from .test_api import FakeBackend, call

    backend = FakeBackend()
    engine, clock = started(web(2, healthChecks=[CHECK]))
    engine.handle(PutApp(web(3, healthChecks=[CHECK])))
    [fresh] = launch_all(engine, agents=(4,))
    update(engine, fresh, "TASK_RUNNING")
    backend.engine = engine
    api = create_app(backend)
    status_, body = call(api, "GET", "/v1/apps/web/endpoints")
    assert status_ == 200 and body["app"] == "/web" and body["discovery"] is True and body["announced"] == 2
    waiting = [e for e in body["endpoints"] if not e["announced"]]
    assert [(e["taskId"], e["reason"]) for e in waiting] == [(fresh, "not yet healthy")]
    announced = [e for e in body["endpoints"] if e["announced"]]
    assert all(set(e["additionalEndpoints"]) == {"http", "admin"} for e in announced)
    assert sorted(e["shard"] for e in announced) == [0, 1]
    assert call(api, "GET", "/v1/apps/nope/endpoints")[0] == 404


def test_the_cli_watch_reports_announcements_withdrawals_and_reasons():
    from halyard.cli.endpoints import changes

    def e(task, announced, reason=None):
        return {"taskId": task, "host": "h", "ports": [1], "shard": 0, "announced": announced, "reason": reason}

    before = {"endpoints": [e("a", True), e("b", False, "not yet healthy"), e("c", True)]}
    after = {"endpoints": [e("a", False, "draining before its kill"), e("b", True), e("d", False, "not running yet")]}
    assert [(c["change"], c["taskId"]) for c in changes(before, after)] == [
        ("withdrawn", "a"), ("announced", "b"), ("waiting", "d"), ("gone", "c")]
    assert changes(after, after) == []


@pytest.mark.parametrize("zk, path", [("zk://z:2181/halyard", "apps"), ("zk://z:2181", "/halyard"),
                                      ("zk://z:2181/h", "/")])
def test_the_scheduler_refuses_a_discovery_path_in_its_state_at_start(zk, path):
    from click.testing import CliRunner

    from halyard.cli.main import cli

    result = CliRunner().invoke(cli, ["scheduler", "--master", "m:5050", "--zk", zk, "--discovery-path", path])
    assert result.exit_code == 2 and "--discovery-path" in result.output and "state" in result.output
