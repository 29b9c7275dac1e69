"""What one event costs at scale: work that must not grow with the number of tasks (issue 25)."""
from __future__ import annotations

import random

import pytest

from halyard.engine import convergence as convergence_module
from halyard.engine.app_records import TaskRecord
from halyard.engine.messages import Launch, Offers, PutApp, StatusUpdate, Subscribed
from halyard.engine.task_index import TaskIndex

from .test_engine import app, make_engine, offer, status


def recount(index: TaskIndex, app_id: str, config_version: float) -> tuple[int, int] | None:
    tasks = index.of_app(app_id)
    if any(not t.live or t.config_version != config_version for t in tasks):
        return None
    return len(tasks), sum(1 for t in tasks if t.state == "TASK_RUNNING")


def test_the_index_counts_each_apps_tasks_as_a_recount_would():
    rng = random.Random(5)
    index = TaskIndex()
    states = ["TASK_STAGING", "TASK_RUNNING", "TASK_FINISHED", "TASK_UNREACHABLE"]
    for step in range(2000):
        task_id = f"t{rng.randrange(60)}"
        app_id = f"/a{int(task_id[1:]) % 3}"
        if task_id in index.tasks and rng.random() < 0.2:
            index.drop(task_id)
        else:
            index.set(TaskRecord(task_id=task_id, app_id=app_id, config_version=float(rng.randrange(2)),
                                 agent_id=f"S{rng.randrange(4)}", hostname="h", ports=(), state=rng.choice(states),
                                 killing=rng.random() < 0.1, expired=rng.random() < 0.05))
        for a in ("/a0", "/a1", "/a2"):
            for version in (0.0, 1.0):
                assert index.settled(a, version) == recount(index, a, version), (step, a, version)
    index.load([])
    assert index.settled("/a0", 0.0) == (0, 0)


@pytest.mark.parametrize("instances", [50, 400])
def test_a_status_update_does_not_walk_the_apps_tasks(instances, monkeypatch):
    """Converging after one update of a plain app (all its tasks live, of its config) is O(1):
    neither the pure diff nor the app's task list is consulted, at any size."""
    engine, clock = make_engine()
    engine.handle(PutApp(app(instances, cpus=0.01, mem=1)))
    engine.handle(Subscribed("F1"))
    out = engine.handle(Offers(tuple(offer(n, cpus=8.0, mem=4096.0, ports=(31000, 31999)) for n in range(1, 4))))
    launched = [t for ins in out if isinstance(ins, Launch) for t in ins.tasks]
    assert len(launched) == instances
    calls = {"converge": 0, "of_app": 0}
    real_converge, real_of_app = convergence_module.converge, TaskIndex.of_app

    def counting_converge(*args, **kwargs):
        calls["converge"] += 1
        return real_converge(*args, **kwargs)

    def counting_of_app(self, app_id):
        calls["of_app"] += 1
        return real_of_app(self, app_id)

    monkeypatch.setattr(convergence_module, "converge", counting_converge)
    monkeypatch.setattr(TaskIndex, "of_app", counting_of_app)
    for i, task in enumerate(launched):
        clock.now += 0.01
        engine.handle(StatusUpdate(status(task.task_id, "TASK_RUNNING", agent=task.agent_id, uuid=f"r{i}")))
    assert calls == {"converge": 0, "of_app": 0}
    assert engine.deployments == {}  # the last update ended the start deployment, from the counts
    assert engine.pending(engine.apps["/web"]) == 0


def test_a_quiet_cluster_is_described_once_per_change_of_the_agents_and_per_distinct_need(monkeypatch):
    """WaitingReasons.tick walks the agents only when they changed, once per distinct need: not
    every app against every agent every second (the reasons read the same)."""
    from halyard.cluster.agents import Resources
    from halyard.cluster.mesos_types import AgentSeen
    from halyard.engine import waiting
    from halyard.engine.messages import AgentsListed, Tick
    from halyard.spec.validation import parse_app

    engine, clock = make_engine()
    for i in range(40):
        engine.handle(PutApp(parse_app({"id": f"/a{i}", "cmd": "x", "cpus": 0.6, "mem": 128, "instances": 2})))
    engine.handle(Subscribed("F1"))
    agents = tuple(AgentSeen(f"S{n}", f"127.0.0.{n}", free=Resources(cpus=0.4, mem=1024.0)) for n in range(1, 200))
    engine.handle(AgentsListed(agents))
    walks = []
    real = waiting.describe_unoffered
    monkeypatch.setattr(waiting, "describe_unoffered", lambda need, known: walks.append(need) or real(need, known))
    clock.now += 30
    engine.handle(Tick())
    first = dict(engine.waiting)
    assert len(first) == 40 and all(why[0].startswith("no offer with 0.6 cpus, 128 MB mem for 30 s; agents 127.0.0.1")
                                    for why in first.values()), first["/a0"]
    clock.now += 1
    engine.handle(Tick())
    assert engine.waiting["/a0"][0].startswith("no offer with 0.6 cpus, 128 MB mem for 31 s; agents 127.0.0.1")
    assert len(walks) == 1  # one need, agents unchanged since: one walk over 40 apps and two ticks
    engine.handle(AgentsListed(agents[1:]))  # one agent left
    clock.now += 1
    engine.handle(Tick())
    assert len(walks) == 2 and "127.0.0.1," not in engine.waiting["/a0"][0]


def test_a_reconciliation_answer_that_changes_nothing_is_not_written():
    from .test_engine import running_engine

    engine, clock, launched = running_engine(2)
    task = engine.tasks[launched[0]]
    answer = status(task.task_id, "TASK_RUNNING", agent=task.agent_id, uuid=None, source="SOURCE_MASTER",
                    reason="REASON_RECONCILIATION", message="Reconciliation: Latest task state")
    clock.now += 5
    out = engine.handle(StatusUpdate(answer))
    assert not [i for i in out if type(i).__name__ in ("Persist", "Acknowledge")]
    assert engine.tasks[task.task_id] == task  # nothing changed
    # An answer that does say something new (the task is gone) is written as before.
    gone = status(task.task_id, "TASK_GONE", agent=task.agent_id, uuid=None, source="SOURCE_MASTER",
                  reason="REASON_RECONCILIATION", message="Reconciliation: Task is unknown")
    out = engine.handle(StatusUpdate(gone))
    assert [i.delete_tasks for i in out if type(i).__name__ == "Persist"] == [[task.task_id]]


def test_a_new_leader_reads_the_records_many_at_a_time_not_one_round_trip_each():
    """ZkStore.load sends its reads in batches (kazoo's get_async) and only then waits for them."""
    from halyard.store import codec
    from halyard.store.zk import LOAD_BATCH, ZkStore

    from .test_versions import FakeClient

    class CountingClient(FakeClient):
        def __init__(self, nodes):
            super().__init__(nodes)
            self.in_flight = self.most_in_flight = self.waited_alone = 0

        def get(self, path):  # a read that waits for its answer before the next is sent
            if "/tasks/" in path:
                self.waited_alone += 1
            return super().get(path)

        def get_async(self, path):
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            answer, client = FakeClient.get_async(self, path), self

            class Pending:
                def get(self):
                    client.in_flight -= 1
                    return FakeClient.get(client, path)

            return Pending() if answer else None

    tasks = {f"/h/tasks/t{i}": codec.encode(TaskRecord(task_id=f"t{i}", app_id="/web", config_version=1.0, agent_id="S1",
                                                        hostname="h", ports=()).to_json())
             for i in range(2500)}
    client = CountingClient({"/h/tasks": b"", **tasks})
    snapshot = ZkStore(client, root="/h").load()
    assert len(snapshot.tasks) == 2500 and snapshot.tasks["t7"].agent_id == "S1"
    assert client.waited_alone == 0 and client.most_in_flight == LOAD_BATCH


def test_a_scale_up_larger_than_a_batch_asks_for_the_offers_again_at_once(monkeypatch):
    """More pending than one batch launches (MAX_LAUNCHES_PER_BATCH): what the batch leaves is
    refused for 0 s (offered again at the master's next allocation), not for refuse_seconds_busy."""
    from halyard.engine import launch
    from halyard.engine.messages import Decline

    MAX_LAUNCHES_PER_BATCH = 1000  # noqa: N806 - the bound, smaller here so that four offers hold more
    monkeypatch.setattr(launch, "MAX_LAUNCHES_PER_BATCH", MAX_LAUNCHES_PER_BATCH)
    engine, clock = make_engine()
    engine.handle(PutApp(app(MAX_LAUNCHES_PER_BATCH + 200, cpus=0.01, mem=1)))
    engine.handle(Subscribed("F1"))
    offers = tuple(offer(n, cpus=8.0, mem=4096.0, ports=(31000, 31999)) for n in range(1, 5))
    out = engine.handle(Offers(offers))
    launches = [i for i in out if isinstance(i, Launch)]
    assert sum(len(i.tasks) for i in launches) == MAX_LAUNCHES_PER_BATCH
    assert {i.refuse_seconds for i in out if isinstance(i, (Launch, Decline))} == {0.0}
    clock.now += 1
    out = engine.handle(Offers(tuple(offer(n, cpus=8.0, mem=4096.0, ports=(32000, 32999)) for n in range(5, 9))))
    assert sum(len(i.tasks) for i in out if isinstance(i, Launch)) == 200  # the rest: not capped, filters as before
    assert {i.refuse_seconds for i in out if isinstance(i, Launch)} == {engine.config.refuse_seconds_busy}


def test_a_scale_up_that_keeps_making_progress_is_not_timed_out_and_one_that_stalls_is():
    """--deployment-timeout counts from the deployment's last progress (more tasks up), not from
    its start: a 10,000-instance scale-up that takes longer than the timeout is not rolled back."""
    from halyard.engine.messages import Tick

    engine, clock = make_engine(deployment_timeout=60)
    engine.handle(PutApp(app(30, cpus=0.01, mem=1)))
    engine.handle(Subscribed("F1"))
    started = []
    for minute in range(3):  # ten instances a minute: 150 s in all, each step well within 60 s
        offers = (offer(minute + 1, cpus=0.1, mem=10.0, ports=(31000, 31009)),)
        out = engine.handle(Offers(offers))
        for i, task in enumerate(t for ins in out if isinstance(ins, Launch) for t in ins.tasks):
            engine.handle(StatusUpdate(status(task.task_id, "TASK_RUNNING", agent=task.agent_id, uuid=f"{minute}-{i}")))
            started.append(task.task_id)
        for _ in range(5):
            clock.now += 10
            engine.handle(Tick())
        assert [d.status for d in engine.finished] == ([] if minute < 2 else ["succeeded"]), minute
    assert len(started) == 30 and engine.deployment_of("/web") is None  # it ended as succeeded

    engine.handle(PutApp(app(40, cpus=0.01, mem=1), deployment_id="D2"))  # ten more, and no offer comes
    for _ in range(5):
        clock.now += 10
        engine.handle(Tick())
    assert engine.deployment_of("/web").id == "D2"  # 50 s without progress
    clock.now += 11
    engine.handle(Tick())
    assert engine.finished[-2].id == "D2" and engine.finished[-2].status == "failed"


def test_a_task_records_json_is_every_field_as_asdict_gives_it():
    """``TaskRecord.to_json`` is written out by hand (asdict's deep copy was slow): it must stay
    what ``asdict`` gives, for every field, and read back as the same record."""
    from dataclasses import asdict, fields

    from halyard.cluster.mesos_types import CheckResult, IpAddress
    from halyard.engine.task_health import TaskHealth

    full = TaskRecord(task_id="t1", app_id="/a", config_version=2.0, agent_id="S1", hostname="h", ports=(31000, 31001),
                      state="TASK_RUNNING", staged_at=1.0, started_at=2.0, killing=True, unreachable_since=3.0,
                      expired=True, message="m", resources=(0.1, 8.0, 0.0, 0.0), healthy=False, ready=True,
                      health=TaskHealth(first_success=1.0, last_failure=2.0, last_failure_cause="x",
                                        consecutive_failures=2),
                      check=CheckResult("HTTP", status_code=200), ip_addresses=(IpAddress("10.0.0.1"),
                                                                                  IpAddress("::1", "IPv6")),
                      shard=4)
    bare = TaskRecord(task_id="t2", app_id="/a", config_version=1.0, agent_id="S1", hostname="h", ports=())
    for record in (full, bare):
        expected = asdict(record)
        expected.update(ports=list(record.ports), resources=list(record.resources),
                        ip_addresses=[asdict(ip) for ip in record.ip_addresses])
        assert record.to_json() == expected
        assert set(record.to_json()) == {f.name for f in fields(TaskRecord)}
        assert TaskRecord.from_json(record.to_json()) == record


def test_running_deployments_find_an_apps_as_a_scan_would():
    """``RunningDeployments.of_app`` (an index: asked after every status update) answers what the
    scan over the running deployments answered: the first of the app's still running."""
    from halyard.engine.app_records import DeploymentRecord
    from halyard.engine.deployments import RunningDeployments

    rng = random.Random(7)
    running = RunningDeployments()
    for step in range(3000):
        app_id = f"/a{rng.randrange(6)}"
        if running and rng.random() < 0.4:
            key = rng.choice(list(running))
            running.pop(key) if rng.random() < 0.5 else running.__delitem__(key)
        else:
            multi = rng.random() < 0.3   # a deployment of several apps: keys are id:app
            record = DeploymentRecord(id=f"d{rng.randrange(20)}", app_id=app_id, kind="scale", version=1.0,
                                      started_at=1.0, step=0 if multi else None)
            running[record.key] = record
        for a in (f"/a{i}" for i in range(6)):
            assert running.of_app(a) == next((d for d in running.values() if d.app_id == a), None), (step, a)
    running.clear()
    assert running.of_app("/a0") is None


def test_a_task_records_evolve_is_dataclasses_replace():
    from dataclasses import replace

    record = TaskRecord(task_id="t1", app_id="/a", config_version=1.0, agent_id="S1", hostname="h", ports=(1,))
    for changes in ({}, {"state": "TASK_RUNNING", "started_at": 3.0}, {"killing": True}, {"ports": (2, 3)}):
        evolved = record.evolve(**changes)
        assert evolved == replace(record, **changes) and type(evolved) is TaskRecord
        assert hash(evolved) == hash(replace(record, **changes))
    assert record.state != "TASK_RUNNING"   # the original is unchanged
    with pytest.raises(TypeError, match="nope"):
        record.evolve(nope=1)


def test_a_persist_is_true_when_any_of_its_lists_or_the_framework_id_is_set():
    from halyard.engine.messages import Persist

    assert not Persist()
    assert Persist(framework_id="F1")
    for name in Persist._LISTS:
        assert Persist(**{name: ["x"]}), name


def test_the_apps_wanting_offers_are_those_with_instances_to_launch():
    """Convergence keeps the apps with instances to launch beside its pending counts (asked after
    every event instead of a pass over every app): through launches, updates, a scale and a
    delete, the two agree, and ``wants_offers`` answers as ``launchable`` does."""
    from halyard.engine.messages import DeleteApp
    from halyard.spec.validation import parse_app

    engine, clock = make_engine()
    conv = engine.convergence

    def check():
        assert conv._wanting == {a for a, n in conv._pending.items() if n > 0}
        assert conv.wants_offers() == (not engine.paused and (engine.jobs.wants_offers()
                                                               or engine.rebalancer.wants_offers()
                                                               or bool(conv.launchable())))

    engine.handle(Subscribed("F1"))
    for name, n in (("/web", 4), ("/api", 3)):
        engine.handle(PutApp(parse_app({"id": name, "cmd": "x", "cpus": 0.1, "mem": 8, "instances": n})))
        check()
    out = engine.handle(Offers((offer(1, cpus=1.0, mem=1024.0),)))
    check()
    launched = [t for ins in out if isinstance(ins, Launch) for t in ins.tasks]
    for i, task in enumerate(launched):
        engine.handle(StatusUpdate(status(task.task_id, "TASK_RUNNING", agent=task.agent_id, uuid=f"u{i}")))
        check()
    engine.handle(PutApp(parse_app({"id": "/web", "cmd": "x", "cpus": 0.1, "mem": 8, "instances": 9})))
    check()
    engine.handle(DeleteApp("/api"))
    check()
    clock.advance(5) if hasattr(clock, "advance") else None
    engine.handle(Offers((offer(2, cpus=4.0, mem=4096.0),)))
    check()
    assert conv._wanting == {a for a, n in conv._pending.items() if n > 0}


@pytest.mark.parametrize("extra", [{}, {"minReadySeconds": 5},
                                   {"healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}}]}])
def test_a_deployments_progress_counts_are_what_a_pass_over_its_tasks_gives(extra):
    """The tick's progress counts of a deployment come from the index when every task is live and
    of the current config (else a pass over the tasks): through launches, updates, failures, a
    restart and a scale down, they equal the pass's, whatever the app's checks."""
    from halyard.engine.messages import RestartApp
    from halyard.engine.tick import TickHandler
    from halyard.spec.validation import parse_app

    rng = random.Random(3)
    engine, clock = make_engine()
    ticker = TickHandler(engine)
    definition = {"id": "/web", "cmd": "x", "cpus": 0.01, "mem": 1, **extra}

    def check():
        app = engine.apps.get("/web")
        if app is not None:
            assert ticker._progress_counts(app) == ticker._progress_scan(app, engine.convergence.readiness())
        assert ticker._progress_counts(None) == (0, 0, 0)

    engine.handle(Subscribed("F1"))
    engine.handle(PutApp(parse_app({**definition, "instances": 12})))
    check()
    n, failures = 0, 0
    for round_ in range(4):
        out = engine.handle(Offers((offer(round_ + 1, cpus=8.0, mem=4096.0, ports=(31000, 31999)),)))
        check()
        for task in [t for ins in out if isinstance(ins, Launch) for t in ins.tasks]:
            last = "TASK_FAILED" if failures < 2 and rng.random() < 0.2 else "TASK_RUNNING"   # 3 would roll back
            failures += last == "TASK_FAILED"
            for state in ("TASK_STARTING", last):
                n += 1
                healthy = {"healthy": rng.random() < 0.7} if state == "TASK_RUNNING" and rng.random() < 0.5 else {}
                engine.handle(StatusUpdate(status(task.task_id, state, agent=task.agent_id, uuid=f"u{n}", **healthy)))
                clock.now += rng.choice([0, 1, 3])
                check()
        if round_ == 1:
            engine.handle(RestartApp("/web", force=True))
            check()
        if round_ == 2:
            engine.handle(PutApp(parse_app({**definition, "instances": 5}), force=True))
            check()


def test_an_apps_task_counts_in_one_pass_are_the_counts_of_each_kind():
    from halyard.api.app_info import STAGED, task_counts

    rng = random.Random(11)
    states = ["TASK_LAUNCHING", "TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FAILED"]
    tasks = [TaskRecord(task_id=f"t{i}", app_id="/a", config_version=1.0, agent_id="S1", hostname="h", ports=(),
                        state=rng.choice(states), healthy=rng.choice([None, True, False])) for i in range(300)]
    running = [t for t in tasks if t.state == "TASK_RUNNING"]
    assert task_counts(tasks) == {"staged": sum(1 for t in tasks if t.state in STAGED), "running": len(running),
                                  "healthy": sum(1 for t in running if t.healthy is True),
                                  "unhealthy": sum(1 for t in running if t.healthy is False)}
    assert task_counts([]) == {"staged": 0, "running": 0, "healthy": 0, "unhealthy": 0}
