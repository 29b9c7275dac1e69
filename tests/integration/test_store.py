"""The ZooKeeper store against a real ZooKeeper: round trip, compression, fencing, versions, batching."""
from __future__ import annotations

import uuid

import pytest
from kazoo.client import KazooClient

from halyard.engine.app_records import AppRecord, TaskRecord
from halyard.engine.messages import Persist
from halyard.errors import FencedError
from halyard.spec.validation import parse_app
from halyard.store import codec
from halyard.store.zk import ZkStore

pytestmark = pytest.mark.integration


@pytest.fixture
def zk(cluster):
    client = KazooClient(hosts=cluster["ZK"].removeprefix("zk://"), timeout=10)
    client.start(timeout=15)
    root = f"/test-{uuid.uuid4().hex[:8]}/halyard"
    yield client, root
    client.delete(root.rsplit("/", 1)[0], recursive=True)
    client.stop()


def app_record(app_id="/web", **extra):
    return AppRecord(spec=parse_app({"id": app_id, "cmd": "x", **extra}), version=1.0, config_version=1.0)


def task_record(task_id, app_id="/web"):
    return TaskRecord(task_id, app_id, 1.0, "S1", "127.0.0.1", (31000,), state="TASK_RUNNING", staged_at=1.0)


def test_round_trip_one_znode_per_app_and_task(zk):
    client, root = zk
    store = ZkStore(client, root)
    store.ensure_layout()
    store.become_leader()
    store.commit(Persist(framework_id="F-1", apps=[app_record(), app_record("/team/api")],
                         tasks=[task_record("web.1"), task_record("web.2")]))
    store.commit(Persist(tasks=[task_record("web.1").evolve(state="TASK_KILLING")], delete_tasks=["web.2"]))
    snap = ZkStore(client, root).load()
    assert snap.framework_id == "F-1"
    assert set(snap.apps) == {"/web", "/team/api"} and snap.apps["/web"].spec.cmd == "x"
    assert set(snap.tasks) == {"web.1"} and snap.tasks["web.1"].state == "TASK_KILLING"
    assert sorted(client.get_children(f"{root}/apps")) == ["%2Fteam%2Fapi", "%2Fweb"]


def test_large_values_are_compressed(zk):
    client, root = zk
    store = ZkStore(client, root)
    store.ensure_layout()
    store.become_leader()
    big = app_record(env={f"VAR_{i}": "x" * 50 for i in range(200)})
    store.commit(Persist(apps=[big]))
    data, _ = client.get(store.app_path("/web"))
    assert data[:1] == codec.COMPRESSED and len(data) < len(codec.encode(big.to_json())) * 2
    assert len(data) < 5000 and ZkStore(client, root).load().apps["/web"] == big


def test_a_deposed_leader_cannot_write(zk):
    client, root = zk
    old, new = ZkStore(client, root), ZkStore(client, root)
    old.ensure_layout()
    assert old.become_leader() == 1
    old.commit(Persist(apps=[app_record()]))
    assert new.become_leader() == 2
    with pytest.raises(FencedError):
        old.commit(Persist(apps=[app_record(instances=5)]))
    new.load()
    new.commit(Persist(apps=[app_record(instances=7)]))
    assert ZkStore(client, root).load().apps["/web"].spec.instances == 7


def test_version_conflict_reloads_and_retries_instead_of_failing(zk):
    client, root = zk
    store = ZkStore(client, root)
    store.ensure_layout()
    store.become_leader()
    store.commit(Persist(tasks=[task_record("web.1")]))
    client.set(store.task_path("web.1"), codec.encode(task_record("web.1").to_json()))  # someone else wrote
    store.commit(Persist(tasks=[task_record("web.1").evolve(state="TASK_FAILED")]))
    assert ZkStore(client, root).load().tasks["web.1"].state == "TASK_FAILED"


def test_one_persist_of_thousands_of_tasks_is_chunked_and_complete(zk):
    client, root = zk
    store = ZkStore(client, root)
    store.ensure_layout()
    store.become_leader()
    store.commit(Persist(tasks=[task_record(f"web.{i:05d}") for i in range(3000)]))
    assert len(client.get_children(f"{root}/tasks")) == 3000
    store.commit(Persist(delete_tasks=[f"web.{i:05d}" for i in range(3000)]))
    assert client.get_children(f"{root}/tasks") == []


def test_a_record_written_and_deleted_in_one_persist(zk):
    client, root = zk
    store = ZkStore(client, root)
    store.ensure_layout()
    store.become_leader()
    store.commit(Persist(apps=[app_record()]))
    store.commit(Persist(apps=[app_record(instances=0)], delete_apps=["/web"]))
    store.commit(Persist(tasks=[task_record("web.9")], delete_tasks=["web.9"]))
    snap = ZkStore(client, root).load()
    assert snap.apps == {} and snap.tasks == {}


def test_jobs_and_runs_round_trip_one_znode_each(zk):
    from halyard.jobs.records import JobRecord, RunRecord
    from halyard.spec.validation import parse_job

    client, root = zk
    store = ZkStore(client, root)
    store.ensure_layout()
    store.become_leader()
    spec = parse_job({"id": "etl", "cmd": "run-etl", "env": {"PW": {"value": "s3", "secret": True}},
                      "schedule": {"cron": "0 3 * * *", "timezone": "Europe/Berlin"}})
    job = JobRecord(spec, version=1.0, next_fire=123.0)
    run = RunRecord("r1", "etl", spec, created_at=1.0, status="RUNNING", task_id="job.etl.r1.1",
                    history=({"status": "QUEUED", "time": 1.0, "attempt": 1, "taskId": None, "message": ""},))
    store.commit(Persist(jobs=[job], runs=[run, RunRecord("r0", "etl", spec, created_at=0.5, status="FINISHED")]))
    store.commit(Persist(delete_runs=[("etl", "r0")]))
    snap = ZkStore(client, root).load()
    assert snap.jobs == {"etl": job} and snap.runs == {"r1": run}
    assert client.get_children(f"{root}/runs") == ["etl%3Ar1"]


class Crash(BaseException):
    """The scheduler process dies here (nothing after it runs)."""


def test_a_crash_between_two_transactions_of_one_persist_leaves_what_recovery_resolves(zk, monkeypatch):
    """A launch (many task records) with a scheduled firing (the job's next firing time and its new
    run) and a changed app with its deployment, written in several transactions; the scheduler dies
    after the first. What a new leader loads: every app, no firing half-recorded (the job moved
    on if and only if its run exists), and only tasks that reconciliation resolves."""
    from halyard.cluster.mesos_types import TaskStatus
    from halyard.engine.app_records import DeploymentRecord
    from halyard.engine.messages import Reconcile, StatusUpdate, Subscribed
    from halyard.jobs.records import JobRecord, RunRecord
    from halyard.placement import StrategyRegistry
    from halyard.spec.validation import parse_job
    from halyard.store import zk as zk_module

    from ..engine_harness import EngineHarness

    client, root = zk
    store = ZkStore(client, root)
    store.ensure_layout()
    store.become_leader()
    spec = parse_job({"id": "etl", "cmd": "run-etl", "schedule": {"cron": "0 3 * * *"}})
    store.commit(Persist(apps=[app_record()], jobs=[JobRecord(spec, 1.0, next_fire=100.0)]))
    tasks = [task_record(f"web.{i:03d}").evolve(state="TASK_LAUNCHING") for i in range(40)]
    fired = Persist(tasks=tasks, jobs=[JobRecord(spec, 1.0, next_fire=200.0)],
                    runs=[RunRecord("r1", "etl", spec, created_at=100.0, status="QUEUED", scheduled_for=100.0)],
                    apps=[app_record(instances=40)],
                    deployments=[DeploymentRecord("D1", "/web", "scale", 2.0, 2.0)])
    # Transactions just large enough for the app, the tasks, the deployment and the job's new
    # firing time, but not its run: written in the order the Persist lists them, the firing is
    # split across two transactions.
    def size(path, record):
        return len(path) + len(codec.encode(record.to_json())) + 64

    monkeypatch.setattr(zk_module, "MAX_TXN_BYTES", size(store.app_path("/web"), fired.apps[0])
                        + sum(size(store.task_path(t.task_id), t) for t in tasks)
                        + size(store.deployment_path("D1"), fired.deployments[0])
                        + size(store.job_path("etl"), fired.jobs[0]) + 1)
    real, written = store._commit_chunk, []

    def dies_after_the_first(ops, retry=True):
        if written:
            raise Crash()
        written.append(ops)
        real(ops, retry)

    monkeypatch.setattr(store, "_commit_chunk", dies_after_the_first)
    with pytest.raises(Crash):
        store.commit(fired)
    successor_store = ZkStore(client, root)
    successor_store.become_leader()
    snap = successor_store.load()
    assert "/web" in snap.apps  # no lost app
    assert (snap.jobs["etl"].next_fire == 200.0) == ("r1" in snap.runs)  # a firing is all or nothing
    assert written and len(snap.tasks) <= 40  # the launch's ACCEPT was never sent
    successor = EngineHarness(StrategyRegistry(), clock=lambda: 1_000.0)
    successor.load(snap)
    reconcile = next(i for i in successor.handle(Subscribed("F1")) if isinstance(i, Reconcile))
    assert {task_id for task_id, _ in reconcile.tasks} == set(snap.tasks)
    for task_id in snap.tasks:  # Mesos never heard of them
        successor.handle(StatusUpdate(TaskStatus(task_id, "TASK_UNKNOWN", reason="REASON_RECONCILIATION")))
    assert successor.tasks == {} and successor.reconciling() == 0  # no orphan, nothing twice
