"""Jobs in the pure engine: definitions, runs, retries, kills, schedules and callbacks."""
from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from halyard.engine.app_records import Snapshot
from halyard.engine.messages import (
    DeleteJob,
    Kill,
    KillRun,
    Launch,
    Offers,
    Persist,
    PutJob,
    Reconcile,
    StartRun,
    StatusUpdate,
    Subscribed,
    Tick,
)
from halyard.errors import ConflictError, NotFoundError, ValidationError
from halyard.jobs import cron
from halyard.jobs.executor import split_allocation
from halyard.mesos.codec import task_info
from halyard.spec.validation import parse_job

from .test_engine import kinds, make_engine, offer, status


def job(**extra):
    return parse_job({"id": "reports.daily", "cmd": "make-report", "cpus": 0.5, "mem": 64, **extra})


def data(exit_code=None, signal=None):
    return base64.b64encode(json.dumps({"exitCode": exit_code, "signal": signal}).encode()).decode()


def launched(out):
    """The TaskInfos of the launches in ``out``, as the codec renders them for Mesos."""
    return [task_info(t) for ins in out if isinstance(ins, Launch) for t in ins.tasks]


def started(engine, clock, **extra):
    """A subscribed engine with the job defined and one run launched on S1; returns (run, task)."""
    engine.handle(PutJob(job(**extra)))
    engine.handle(Subscribed("F1"))
    engine.handle(StartRun("reports.daily", "r1"))
    out = engine.handle(Offers((offer(1),)))
    (task,) = launched(out)
    return engine.jobs.runs["r1"], task


def test_job_definitions_are_validated_with_paths_and_overlays():
    with pytest.raises(ValidationError) as err:
        parse_job({"id": "Reports", "args": ["x"], "schedule": {"cron": "* * *", "concurrencyPolicy": "MAYBE"},
                   "timeoutSeconds": 0, "environments": {"prod": {"retries": -1}}})
    text = str(err.value)
    for expected in ("id: use lowercase", "schedule.cron: expected 5 fields",
                     "schedule.concurrencyPolicy: unknown value 'MAYBE'", "timeoutSeconds: input should be greater",
                     "environments.prod.retries: input should be greater than or equal to 0"):
        assert expected in text
    with pytest.raises(ValidationError) as err:
        parse_job({"id": "reports", "args": ["x"]})
    assert "args: args needs a Docker image" in str(err.value) and "cmd: one of cmd" in str(err.value)
    spec = parse_job({"id": "etl", "container": {"docker": {"image": "busybox"}}, "args": ["true"],
                      "env": {"PW": {"value": "hunter2", "secret": True}},
                      "environments": {"prod": {"cpus": 2, "schedule": {"cron": "0 3 * * *", "timezone": "Europe/Berlin"}}}},
                     env="prod")
    assert spec.cpus == 2 and spec.schedule.timezone == "Europe/Berlin" and spec.environments == {}
    assert spec.public_json()["env"]["PW"] == {"secret": True} and spec.env_values()["PW"] == "hunter2"


def test_a_run_is_persisted_starting_before_its_accept_and_carries_the_executor():
    engine, clock = make_engine()
    engine.handle(PutJob(job(env={"PW": {"value": "hunter2", "secret": True}}, timeoutSeconds=30)))
    engine.handle(Subscribed("F1"))
    out = engine.handle(StartRun("reports.daily", "r1"))
    assert engine.jobs.runs["r1"].status == "QUEUED" and "Revive" in kinds(out)
    out = engine.handle(Offers((offer(1),)))
    assert kinds(out)[:2] == ["Persist", "Launch"]
    (run,) = out[0].runs
    assert run.status == "STARTING" and run.task_id == "job.reports.daily.r1.1" and run.agent_id == "S1"
    (task,) = launched(out)
    executor = task["executor"]
    assert executor["executor_id"]["value"] == "halyard-executor.job.reports.daily.r1.1"
    assert executor["command"]["value"] == "python3 -m halyard_executor"
    amounts = {r["name"]: r["scalar"]["value"] for r in task["resources"]}
    assert amounts == {"cpus": 0.5, "mem": 64}
    assert {r["name"]: r["scalar"]["value"] for r in executor["resources"]} == {"cpus": 0.05, "mem": 32}
    params = json.loads(base64.b64decode(task["data"]))
    assert params["cmd"] == "make-report" and params["timeoutSeconds"] == 30 and params["secretEnv"] == ["PW"]
    assert params["env"]["HALYARD_RUN_ID"] == "r1" and params["env"]["PW"] == "hunter2"
    assert "hunter2" not in json.dumps(engine.published)


def test_a_run_goes_through_its_states_and_posts_each_terminal_state_to_its_callback():
    engine, clock = make_engine()
    run, task = started(engine, clock, callbackUri="http://127.0.0.1:9/cb")
    task_id = task["task_id"]["value"]
    engine.handle(StatusUpdate(status(task_id, "TASK_STARTING", uuid="a")))
    out = engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", uuid="b")))
    assert kinds(out)[:2] == ["Persist", "Acknowledge"]
    assert engine.jobs.runs["r1"].status == "RUNNING"
    clock.now += 5
    out = engine.handle(StatusUpdate(status(task_id, "TASK_FINISHED", uuid="c", data=data(0))))
    assert kinds(out)[:3] == ["Persist", "Notify", "Acknowledge"]
    notice = out[1].notice
    assert notice.url == "http://127.0.0.1:9/cb" and not notice.every_state
    assert notice.state == "TASK_FINISHED" and notice.task_id == task_id
    assert notice.at == clock.now and notice.exit_code == 0 and notice.job_id == "reports.daily"
    done = engine.jobs.runs["r1"]
    assert done.status == "FINISHED" and done.exit_code == 0
    assert [h["status"] for h in done.history] == ["QUEUED", "STARTING", "RUNNING", "FINISHED"]
    # the same update again changes nothing
    out = engine.handle(StatusUpdate(status(task_id, "TASK_FINISHED", uuid="c", data=data(0))))
    assert kinds(out) == ["Acknowledge"]


def test_a_failed_run_is_retried_with_backoff_then_fails_with_its_exit_code():
    engine, clock = make_engine()
    run, task = started(engine, clock, retries=1, backoffSeconds=10)
    out = engine.handle(StatusUpdate(status(task["task_id"]["value"], "TASK_FAILED", uuid="f",
                                            message="exited with status 3", data=data(3))))
    assert kinds(out)[:2] == ["Persist", "Acknowledge"]  # the retry is recorded before the acknowledgement
    queued = engine.jobs.runs["r1"]
    assert queued.status == "QUEUED" and queued.attempt == 2 and queued.exit_code == 3
    assert "retry 1 of 1 in 10s" in queued.message
    assert launched(engine.handle(Offers((offer(1),)))) == []  # backing off
    clock.now += 10
    engine.handle(Tick())
    (task2,) = launched(engine.handle(Offers((offer(1),))))
    assert task2["task_id"]["value"] == "job.reports.daily.r1.2"
    engine.handle(StatusUpdate(status(task2["task_id"]["value"], "TASK_FAILED", uuid="g",
                                      message="exited with status 3", data=data(3))))
    failed = engine.jobs.runs["r1"]
    assert failed.status == "FAILED" and failed.exit_code == 3 and failed.message == "exited with status 3 (after 2 attempts)"


def test_a_lost_task_is_relaunched_without_using_a_retry():
    engine, clock = make_engine()
    run, task = started(engine, clock)
    engine.handle(StatusUpdate(status(task["task_id"]["value"], "TASK_LOST", uuid="l", message="agent gone")))
    again = engine.jobs.runs["r1"]
    assert again.status == "QUEUED" and again.attempt == 1 and again.lost == 1
    (task2,) = launched(engine.handle(Offers((offer(2),))))
    assert task2["task_id"]["value"] == "job.reports.daily.r1.2"


def test_kills_end_runs_killed_queued_at_once_launched_through_mesos():
    engine, clock = make_engine()
    engine.handle(PutJob(job()))
    engine.handle(StartRun("reports.daily", "q"))
    engine.handle(KillRun("reports.daily", "q"))
    assert engine.jobs.runs["q"].status == "KILLED"
    with pytest.raises(ConflictError):
        engine.handle(KillRun("reports.daily", "q"))
    with pytest.raises(NotFoundError):
        engine.handle(KillRun("reports.daily", "nope"))
    engine.handle(Subscribed("F1"))
    engine.handle(StartRun("reports.daily", "r1"))
    (task,) = launched(engine.handle(Offers((offer(1),))))
    task_id = task["task_id"]["value"]
    out = engine.handle(KillRun("reports.daily", "r1"))
    assert kinds(out)[:2] == ["Persist", "Kill"] and out[1].task_id == task_id
    assert engine.jobs.runs["r1"].status == "STARTING" and engine.jobs.runs["r1"].killing
    clock.now += engine.config.kill_retry
    assert any(isinstance(i, Kill) and i.task_id == task_id for i in engine.handle(Tick()))
    engine.handle(StatusUpdate(status(task_id, "TASK_KILLED", uuid="k", data=data(None, 15))))
    assert engine.jobs.runs["r1"].status == "KILLED" and engine.jobs.runs["r1"].signal == 15


def test_a_scheduled_job_fires_on_time_and_forbid_skips_while_a_run_is_active():
    engine, clock = make_engine()
    clock.now = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    engine.handle(PutJob(job(schedule={"cron": "*/5 * * * *", "concurrencyPolicy": "FORBID"})))
    first = engine.jobs.jobs["reports.daily"].next_fire
    assert first == cron.next_fire("*/5 * * * *", "UTC", clock.now) and first > clock.now
    clock.now = first - 1
    engine.handle(Tick())
    assert engine.jobs.runs == {}
    clock.now = first
    out = engine.handle(Tick())
    (run,) = engine.jobs.runs.values()
    assert run.trigger == "schedule" and run.status == "QUEUED"
    persist = next(i for i in out if isinstance(i, Persist))
    assert persist.runs == [run] and persist.jobs[0].next_fire == first + 300  # one transaction
    clock.now = first + 300
    engine.handle(Tick())
    assert len(engine.jobs.runs) == 1  # FORBID: the first run is still queued
    assert engine.published[-1]["eventType"] == "job_run_skipped"


def test_a_firing_missed_past_its_deadline_is_skipped_and_allow_overlaps():
    engine, clock = make_engine()
    clock.now = 1_800_000_000.0
    engine.handle(PutJob(job(schedule={"cron": "*/5 * * * *", "startingDeadlineSeconds": 60})))
    first = engine.jobs.jobs["reports.daily"].next_fire
    clock.now = first + 61
    engine.handle(Tick())
    assert engine.jobs.runs == {} and engine.jobs.jobs["reports.daily"].next_fire == first + 300
    clock.now = first + 300
    engine.handle(Tick())
    clock.now = first + 600
    engine.handle(Tick())
    assert len(engine.jobs.runs) == 2  # ALLOW


def test_after_a_failover_launched_runs_are_reconciled_and_a_launch_mesos_never_saw_is_relaunched():
    engine, clock = make_engine()
    run, task = started(engine, clock)
    task_id = task["task_id"]["value"]
    snapshot = Snapshot(framework_id="F1", jobs=dict(engine.jobs.jobs), runs=dict(engine.jobs.runs))
    successor, clock2 = make_engine()
    successor.load(snapshot)
    out = successor.handle(Subscribed("F1"))
    reconcile = next(i for i in out if isinstance(i, Reconcile))
    assert (task_id, "S1") in reconcile.tasks
    successor.handle(StatusUpdate(status(task_id, "TASK_LOST", uuid="")))
    assert successor.jobs.runs["r1"].status == "QUEUED"
    assert len(launched(successor.handle(Offers((offer(1),))))) == 1


def test_deleting_a_job_with_active_runs_needs_stop_current_job_runs():
    engine, clock = make_engine()
    run, task = started(engine, clock)
    with pytest.raises(ConflictError, match="stopCurrentJobRuns"):
        engine.handle(DeleteJob("reports.daily"))
    out = engine.handle(DeleteJob("reports.daily", stop_runs=True))
    assert "Kill" in kinds(out) and "reports.daily" not in engine.jobs.jobs
    assert out[0].delete_jobs == ["reports.daily"]


def test_old_ended_runs_are_pruned():
    engine, clock = make_engine()
    engine.handle(PutJob(job()))
    deleted = []
    for i in range(25):
        engine.handle(StartRun("reports.daily", f"r{i:02d}"))
        out = engine.handle(KillRun("reports.daily", f"r{i:02d}"))
        deleted += out[0].delete_runs
    assert len(engine.jobs.runs_of("reports.daily")) == 20
    assert deleted == [("reports.daily", f"r{i:02d}") for i in range(5)]


def test_split_allocation_gives_the_executor_its_share_from_the_first_roles():
    task, executor = split_allocation((("cpus", "web", 0.03), ("cpus", "*", 1.0), ("mem", "*", 96.0),
                                       ("disk", "*", 10.0)), 0.05, 32)
    assert executor == [("cpus", "web", 0.03), ("cpus", "*", 0.02), ("mem", "*", 32.0)]
    assert task == [("cpus", "*", 0.98), ("mem", "*", 64.0), ("disk", "*", 10.0)]


def test_docker_jobs_become_a_docker_run_with_env_by_name_and_the_sandbox_mounted():
    from halyard.jobs.records import RunRecord
    from halyard.mesos.job_tasks import job_params
    from halyard_executor.mesos import docker_argv

    spec = parse_job({"id": "etl", "container": {"docker": {"image": "busybox", "parameters": [{"key": "user", "value": "1000"}]},
                                                 "volumes": [{"containerPath": "/data", "hostPath": "/srv/data", "mode": "RO"}]},
                      "args": ["run", "--fast"], "env": {"PW": {"value": "hunter2", "secret": True}}})
    run = RunRecord("r1", "etl", spec, created_at=0.0, task_id="job.etl.r1.1")
    params = job_params(run)
    argv = docker_argv(params["docker"], sorted(params["env"]), "/sandbox")
    assert argv[:4] == ["docker", "run", "--rm", "--name"] and argv[4] == "halyard-job.etl.r1.1"
    assert "/sandbox:/mnt/mesos/sandbox" in argv and "/srv/data:/data:ro" in argv and "--user=1000" in argv
    assert argv[-3:] == ["busybox", "run", "--fast"] and "PW" in argv and "hunter2" not in " ".join(argv)
    assert "--cpus=1" in argv and "--memory=128m" in argv  # the job's resources (Metronome's defaults) as limits


def test_job_run_wait_exits_with_the_jobs_code_or_128_plus_its_signal():
    from halyard.cli.job import exit_status

    assert exit_status({"status": "FINISHED", "exitCode": 0}) == 0
    assert exit_status({"status": "FAILED", "exitCode": 3}) == 3
    assert exit_status({"status": "KILLED", "exitCode": None, "signal": 9}) == 137
    assert exit_status({"status": "FAILED", "exitCode": None, "signal": None}) == 1


def test_a_redelivered_failure_does_not_use_a_second_retry():
    engine, clock = make_engine()
    run, task = started(engine, clock, retries=3, backoffSeconds=10)
    failed = status(task["task_id"]["value"], "TASK_FAILED", uuid="f", message="exited with status 1", data=data(1))
    engine.handle(StatusUpdate(failed))
    out = engine.handle(StatusUpdate(failed))  # the acknowledgement was lost: Mesos sends it again
    assert kinds(out) == ["Acknowledge"]
    assert engine.jobs.runs["r1"].attempt == 2 and engine.jobs.runs["r1"].status == "QUEUED"


def test_runs_of_a_deleted_job_are_forgotten_once_their_kill_lands():
    engine, clock = make_engine()
    run, task = started(engine, clock)
    engine.handle(DeleteJob("reports.daily", stop_runs=True))
    out = engine.handle(StatusUpdate(status(task["task_id"]["value"], "TASK_KILLED", uuid="k")))
    assert out[0].delete_runs == [("reports.daily", "r1")] and out[0].runs == []
    assert engine.jobs.runs == {}


def test_an_unknown_strategy_is_refused_when_defined_not_when_offers_come():
    from halyard.engine.messages import PutApp
    from halyard.spec.validation import parse_app

    engine, clock = make_engine()
    with pytest.raises(ValidationError, match="nope"):
        engine.handle(PutJob(job(strategy="nope")))
    with pytest.raises(ValidationError, match="nope"):
        engine.handle(PutApp(parse_app({"id": "/web", "cmd": "x", "strategy": "nope"})))
    assert engine.jobs.jobs == {} and engine.apps == {}


def test_a_run_whose_agent_stays_unreachable_is_relaunched_elsewhere_after_the_grace_period():
    engine, clock = make_engine(unreachable_grace=30)
    run, task = started(engine, clock)
    task_id = task["task_id"]["value"]
    engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", uuid="r")))
    engine.handle(StatusUpdate(status(task_id, "TASK_UNREACHABLE", uuid="u")))
    clock.now += 29
    engine.handle(Tick())
    assert engine.jobs.runs["r1"].status == "RUNNING"
    engine.handle(StatusUpdate(status(task_id, "TASK_UNREACHABLE", uuid="u2")))  # again: the clock keeps running
    clock.now += 1
    out = engine.handle(Tick())
    assert Kill(task_id, "S1") in out
    assert engine.jobs.runs["r1"].status == "QUEUED" and engine.jobs.runs["r1"].attempt == 1
    (task2,) = launched(engine.handle(Offers((offer(2),))))
    assert task2["agent_id"]["value"] == "S2"
    # the agent comes back with the old task: it is not the run's any more, and is killed
    out = engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", uuid="back")))
    assert kinds(out)[:2] == ["Kill", "Acknowledge"] and engine.jobs.runs["r1"].task_id == task2["task_id"]["value"]


def test_a_launch_the_agent_could_not_carry_out_is_relaunched_without_using_a_retry():
    engine, clock = make_engine()
    run, task = started(engine, clock)
    engine.handle(StatusUpdate(status(task["task_id"]["value"], "TASK_FAILED", uuid="x", source="SOURCE_AGENT",
                                      reason="REASON_CONTAINER_LAUNCH_FAILED",
                                      message="Failed to launch container: fetch failed")))
    again = engine.jobs.runs["r1"]
    assert again.status == "QUEUED" and again.attempt == 1 and again.lost == 1
    assert again.message == "TASK_FAILED: Failed to launch container: fetch failed; relaunching"


def test_a_failure_only_reconciliation_reports_waits_for_the_agents_own_update():
    engine, clock = make_engine()
    run, task = started(engine, clock, retries=1)
    task_id = task["task_id"]["value"]
    reconciled = status(task_id, "TASK_FAILED", reason="REASON_RECONCILIATION", uuid=None,  # not acknowledged
                        message="Reconciliation: Latest task state")
    assert kinds(engine.handle(StatusUpdate(reconciled))) == []
    assert engine.jobs.runs["r1"].status == "STARTING"
    # the agent's own update comes: the executor could not be fetched, not the job's fault
    engine.handle(StatusUpdate(status(task_id, "TASK_FAILED", uuid="own", source="SOURCE_AGENT",
                                      reason="REASON_CONTAINER_LAUNCH_FAILED", message="Failed to fetch")))
    assert engine.jobs.runs["r1"].status == "QUEUED" and engine.jobs.runs["r1"].attempt == 1
    assert engine.jobs.deferred == {}

    (task2,) = launched(engine.handle(Offers((offer(1),))))
    reconciled = dataclasses.replace(reconciled, task_id=task2["task_id"]["value"])
    engine.handle(StatusUpdate(reconciled))
    clock.now += 59
    engine.handle(Tick())
    assert engine.jobs.runs["r1"].status == "STARTING"
    clock.now += 1
    engine.handle(Tick())  # the agent never said why: counted as lost, not as the job's failure
    again = engine.jobs.runs["r1"]
    assert again.status == "QUEUED" and again.attempt == 1 and again.lost == 2
    assert "the agent never said why" in again.message


def test_no_retry_starts_past_the_retry_deadline():
    engine, clock = make_engine()
    run, task = started(engine, clock, retries=5, retryDeadlineSeconds=30, backoffSeconds=0)
    clock.now += 31
    engine.handle(StatusUpdate(status(task["task_id"]["value"], "TASK_FAILED", uuid="f", data=data(2))))
    failed = engine.jobs.runs["r1"]
    assert failed.status == "FAILED" and failed.attempt == 1 and failed.exit_code == 2


def test_a_scheduled_run_not_launched_within_its_starting_deadline_fails():
    engine, clock = make_engine()
    clock.now = 1_800_000_000.0
    engine.handle(PutJob(job(schedule={"cron": "*/5 * * * *", "startingDeadlineSeconds": 60})))
    first = engine.jobs.jobs["reports.daily"].next_fire
    clock.now = first
    engine.handle(Tick())   # fired; no offers come
    clock.now = first + 61
    engine.handle(Tick())
    (run,) = engine.jobs.runs.values()
    assert run.status == "FAILED" and "startingDeadlineSeconds (60s)" in run.message
    assert engine.jobs.jobs["reports.daily"].counts.failures == 1


def test_each_ended_run_counts_in_its_job_written_with_the_run():
    engine, clock = make_engine()
    run, task = started(engine, clock)
    out = engine.handle(StatusUpdate(status(task["task_id"]["value"], "TASK_FINISHED", uuid="a", data=data(0))))
    persist = next(i for i in out if isinstance(i, Persist))
    (written,) = persist.jobs
    assert written.counts.successes == 1 and written.counts.last_success_at == clock.now
    assert persist.runs[0].status == "FINISHED"
    engine.handle(StartRun("reports.daily", "r2"))
    engine.handle(KillRun("reports.daily", "r2"))
    counts = engine.jobs.jobs["reports.daily"].counts
    assert (counts.successes, counts.failures) == (1, 1)
    engine.handle(PutJob(job(cpus=0.25)))   # a new definition keeps the counts
    assert engine.jobs.jobs["reports.daily"].counts == counts
    again = type(written).from_json(json.loads(json.dumps(engine.jobs.jobs["reports.daily"].to_json())))
    assert again.counts == counts


def test_a_kill_asked_for_is_in_the_runs_history():
    engine, clock = make_engine()
    run, task = started(engine, clock)
    engine.handle(StatusUpdate(status(task["task_id"]["value"], "TASK_RUNNING", uuid="a")))
    engine.handle(KillRun("reports.daily", "r1"))
    entry = engine.jobs.runs["r1"].history[-1]
    assert entry["killing"] and entry["status"] == "RUNNING" and entry["taskState"] == "TASK_RUNNING"


def test_an_eremetic_task_is_defined_and_started_in_one_step():
    engine, clock = make_engine()
    out = engine.handle(PutJob(job(), run_id="r1"))
    (persist,) = [i for i in out if isinstance(i, Persist)]
    assert [j.job_id for j in persist.jobs] == ["reports.daily"] and [r.run_id for r in persist.runs] == ["r1"]
