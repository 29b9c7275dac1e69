"""Jobs on the real local cluster: Halyard's executor fetched from the scheduler, runs in ZooKeeper."""
from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from .harness import SchedulerProc, clean_shutdown, cli, leading_scheduler, mesos_tasks, unique
from .v1client import until

pytestmark = pytest.mark.integration
SMALL = {"cpus": 0.05, "mem": 16}
ENDED = ("FINISHED", "FAILED", "KILLED")


@pytest.fixture
def pair(cluster, tmp_path):
    """A leader and a standby sharing a fresh chroot and framework name, and the name; cleaned up after."""
    name, chroot = unique("halyard-jobs-pair"), unique("halyard-jobs-pair")
    schedulers = [SchedulerProc(cluster, chroot, name, tmp_path).start()]
    try:
        until(schedulers[0].leading, 30, what="first leader")
        schedulers.append(SchedulerProc(cluster, chroot, name, tmp_path).start())
        yield schedulers[0], schedulers[1], name
    finally:
        clean_shutdown(cluster, name, schedulers)


def define(s: SchedulerProc, job: dict) -> None:
    resp = requests.post(s.url + "/v1/jobs", json={**SMALL, **job}, timeout=30)
    assert resp.status_code in (200, 201), resp.text


def start(s: SchedulerProc, job_id: str) -> str:
    resp = requests.post(s.url + f"/v1/jobs/{job_id}/runs", timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def own(url: str) -> Any:
    """Halyard's view of a job or run (or of each in a list): ``?embed=halyard``."""
    resp = requests.get(url, params={"embed": "halyard"}, timeout=10)
    resp.raise_for_status()
    body = resp.json()
    return [item["halyard"] for item in body] if isinstance(body, list) else body["halyard"]


def run_of(s: SchedulerProc, job_id: str, run_id: str) -> dict:
    return own(s.url + f"/v1/jobs/{job_id}/runs/{run_id}")


def wait_status(s: SchedulerProc, job_id: str, run_id: str, statuses=ENDED, timeout: float = 60) -> dict:
    return until(lambda: (r := run_of(s, job_id, run_id))["status"] in statuses and r, timeout,
                 what=f"run {run_id} in {statuses}")


def test_job_run_wait_prints_the_output_and_exits_with_the_jobs_exit_code(sched, tmp_path):
    (tmp_path / "ok.yaml").write_text("id: cli.ok\ncmd: 'echo line-$HALYARD_ATTEMPT; echo warn >&2'\n"
                                      "cpus: 0.05\nmem: 16\nenvironments:\n  loud: {cmd: 'echo LOUD'}\n")
    (tmp_path / "three.yaml").write_text("id: cli.three\ncmd: 'echo before-exit; exit 3'\ncpus: 0.05\nmem: 16\n")
    t0 = time.monotonic()
    ok = cli(sched, "job", "run", str(tmp_path / "ok.yaml"), "--wait")
    elapsed = time.monotonic() - t0
    assert ok.returncode == 0, ok.stderr
    assert "line-1" in ok.stdout and "warn" in ok.stderr and "FINISHED" in ok.stderr
    loud = cli(sched, "job", "run", str(tmp_path / "ok.yaml"), "--env", "loud", "--wait")
    assert loud.returncode == 0 and "LOUD" in loud.stdout
    three = cli(sched, "job", "run", str(tmp_path / "three.yaml"), "--wait")
    assert three.returncode == 3 and "before-exit" in three.stdout and "exited with status 3" in three.stderr
    runs = own(sched.url + "/v1/jobs/cli.three/runs")
    assert [(r["status"], r["exitCode"]) for r in runs] == [("FAILED", 3)]
    assert [h["status"] for h in runs[0]["history"]] == ["QUEUED", "STARTING", "RUNNING", "FAILED"]
    listed = cli(sched, "job", "list")
    assert "cli.ok" in listed.stdout and "cli.three" in listed.stdout and "FAILED (3)" in listed.stdout
    logs = cli(sched, "job", "logs", "cli.three", runs[0]["id"])
    assert logs.returncode == 0 and logs.stdout.strip() == "before-exit"
    shown = cli(sched, "job", "show", "cli.three")
    assert shown.returncode == 0 and runs[0]["id"] in shown.stdout and "exited with status 3" in shown.stdout
    history = cli(sched, "job", "show", "cli.three", runs[0]["id"])
    assert [line.split()[1] for line in history.stdout.splitlines()[2:]] == ["QUEUED", "STARTING", "RUNNING", "FAILED"]
    bad = cli(sched, "job", "run", str(tmp_path / "ok.yaml"), "--env", "nope")
    assert bad.returncode != 0 and "no environment 'nope'" in bad.stderr
    print(f"\nFIGURE halyard job run --wait (define, run, TASK_FINISHED, output tail): {elapsed:.2f}s")


def test_a_trivial_job_goes_from_submit_to_finished_fast_and_the_executor_is_light(sched):
    define(sched, {"id": "trivial", "cmd": "true"})
    times, rss, cpu = [], [], []
    for _ in range(5):
        run = wait_status(sched, "trivial", start(sched, "trivial"))
        assert run["status"] == "FINISHED" and run["exitCode"] == 0
        stamps = {h["status"]: h["timestamp"] for h in run["history"]}
        times.append(_seconds(stamps["FINISHED"]) - _seconds(stamps["QUEUED"]))
        rss.append(run["executorUsage"]["maxRssKb"] / 1024)
        cpu.append(run["executorUsage"]["cpuSeconds"])
    times.sort()
    assert times[2] < 5.0
    print(f"\nFIGURE trivial job submit->TASK_FINISHED median {times[2]:.2f}s (min {times[0]:.2f}, max {times[-1]:.2f}); "
          f"executor max RSS {max(rss):.1f} MB, CPU {max(cpu):.2f}s")


def _seconds(iso: str) -> float:
    from datetime import datetime
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def test_timeouts_kills_and_bad_definitions(sched, cluster):
    define(sched, {"id": "slow", "cmd": "sleep 30", "timeoutSeconds": 1})
    run = wait_status(sched, "slow", start(sched, "slow"), timeout=30)
    assert run["status"] == "FAILED" and run["message"] == "timed out after 1s"

    define(sched, {"id": "stubborn", "cmd": "trap '' TERM; echo started; sleep 60", "taskKillGracePeriodSeconds": 1})
    run_id = start(sched, "stubborn")
    running = wait_status(sched, "stubborn", run_id, ("RUNNING",))
    killed = cli(sched, "job", "kill", "stubborn", run_id)
    assert killed.returncode == 0 and f"run {run_id}: RUNNING (killing)" in killed.stdout
    run = wait_status(sched, "stubborn", run_id, timeout=30)
    assert run["status"] == "KILLED" and run["signal"] == 9  # SIGTERM ignored: SIGKILL after the grace period
    assert running["taskId"] not in mesos_tasks(cluster, sched.name)
    again = requests.delete(sched.url + f"/v1/jobs/stubborn/runs/{run_id}", timeout=10)
    assert again.status_code == 409 and "already ended" in again.json()["message"]

    bad = requests.post(sched.url + "/v1/jobs", json={"id": "Bad Id", "cmd": "x", "retries": -1,
                                                       "schedule": {"cron": "every day"}}, timeout=10)
    assert bad.status_code == 422
    paths = {p["path"] for p in bad.json()["details"]}
    assert {"/id", "/retries", "/schedule/cron"} <= paths
    assert requests.get(sched.url + "/v1/jobs/Bad Id", timeout=10).status_code == 404
    assert requests.post(sched.url + "/v1/jobs/nope/runs", timeout=10).status_code == 404


def test_retries_succeed_on_the_second_attempt_and_the_callback_gets_every_terminal_state(sched):
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_port}/done"
    try:
        define(sched, {"id": "flaky", "cmd": "echo attempt $HALYARD_ATTEMPT; [ \"$HALYARD_ATTEMPT\" = 2 ]",
                       "retries": 2, "backoffSeconds": 1, "callbackUri": hook})
        run_id = start(sched, "flaky")
        run = wait_status(sched, "flaky", run_id)
        assert run["status"] == "FINISHED" and run["attempt"] == 2 and run["exitCode"] == 0
        statuses = [h["status"] for h in run["history"]]
        assert statuses == ["QUEUED", "STARTING", "RUNNING", "QUEUED", "STARTING", "RUNNING", "FINISHED"]
        assert "retry 1 of 2 in 1s" in run["history"][3]["message"]
        retried_at = _seconds(run["history"][3]["timestamp"])
        assert _seconds(run["history"][4]["timestamp"]) - retried_at >= 0.9  # the backoff was kept
        define(sched, {"id": "hooked", "cmd": "sleep 60", "callbackUri": hook})
        victim = start(sched, "hooked")
        wait_status(sched, "hooked", victim, ("RUNNING",))
        requests.delete(sched.url + f"/v1/jobs/hooked/runs/{victim}", timeout=10)
        wait_status(sched, "hooked", victim)
        until(lambda: len(received) >= 3, 30, what="3 callbacks")
        assert [(c["status"], c["runId"]) for c in received] == [
            ("TASK_FAILED", run_id), ("TASK_FINISHED", run_id), ("TASK_KILLED", victim)]
        assert all(set(c) >= {"time", "status", "task_id"} and isinstance(c["time"], int) for c in received)
        assert received[0]["task_id"].endswith(".1") and received[1]["task_id"].endswith(".2")
    finally:
        server.shutdown()


def test_scheduled_runs_fire_on_time_with_forbid(sched):
    define(sched, {"id": "ticker2", "cmd": "sleep 6",
                   "schedule": {"cron": "* * * * * */4", "concurrencyPolicy": "FORBID"}})
    first_fire = _seconds(own(sched.url + "/v1/jobs/ticker2")["nextRunAt"])

    def ended():
        runs = own(sched.url + "/v1/jobs/ticker2/runs")
        return len([r for r in runs if r["status"] in ENDED]) >= 2 and runs

    runs = list(reversed(until(ended, 60, what="two scheduled runs ended")))
    requests.delete(sched.url + "/v1/jobs/ticker2", params={"stopCurrentJobRuns": "true"}, timeout=10)
    assert all(r["trigger"] == "schedule" for r in runs)
    assert abs(_seconds(runs[0]["createdAt"]) - first_fire) < 1.5  # on time
    for earlier, later in zip(runs, runs[1:]):  # FORBID: a run starts only after the one before ended
        assert earlier["finishedAt"] is not None and _seconds(later["createdAt"]) >= _seconds(earlier["finishedAt"])
    # the firing 4 s after the first came while it ran and was skipped; the one at 8 s ran
    assert abs(_seconds(runs[1]["createdAt"]) - (first_fire + 8)) < 1.5
    assert all(r["status"] == "FINISHED" for r in runs if r["status"] in ENDED)


def test_a_docker_job_runs_its_image_and_its_secrets_stay_hidden(sched, cluster):
    define(sched, {"id": "boxed", "container": {"docker": {"image": "local/busybox:1"}},
                   "args": ["sh", "-c", "echo token=$TOKEN; test -d /mnt/mesos/sandbox; exit 4"],
                   "env": {"TOKEN": {"value": "hunter2", "secret": True}}})
    run = wait_status(sched, "boxed", start(sched, "boxed"))
    assert run["status"] == "FAILED" and run["exitCode"] == 4
    out = requests.get(sched.url + f"/v1/jobs/boxed/runs/{run['id']}/stdout", timeout=10).text
    assert out.strip() == "token=******"
    shown = own(sched.url + "/v1/jobs/boxed")
    assert shown["definition"]["env"]["TOKEN"] == {"secret": True} and "hunter2" not in json.dumps(shown)
    docker = ["/usr/bin/docker", "-H", cluster["DOCKER_HOST"], "ps", "-aq", "--filter", f"name=halyard-{run['taskId']}"]
    assert subprocess.run(docker, capture_output=True, text=True, check=True).stdout.strip() == ""


def test_a_failover_in_the_middle_of_a_run_loses_nothing_and_runs_nothing_twice(cluster, pair):
    first, second, name = pair
    define(first, {"id": "long", "cmd": "echo begin; sleep 8; echo end"})
    define(first, {"id": "later", "cmd": "echo later", "cpus": 500})  # cannot be placed yet: stays QUEUED
    run_id = start(first, "long")
    queued = start(first, "later")
    running = wait_status(first, "long", run_id, ("RUNNING",))
    first.kill9()
    until(second.leading, 30, what="the standby leads")
    assert run_of(second, "long", run_id)["status"] == "RUNNING"
    assert run_of(second, "later", queued)["status"] == "QUEUED"
    done = wait_status(second, "long", run_id, timeout=60)
    assert done["status"] == "FINISHED" and done["taskId"] == running["taskId"]  # the same task, once
    assert [h["status"] for h in done["history"]] == ["QUEUED", "STARTING", "RUNNING", "FINISHED"]
    out = requests.get(second.url + f"/v1/jobs/long/runs/{run_id}/stdout", timeout=10).text
    assert out.split() == ["begin", "end"]
    fw = requests.get(cluster["MESOS_MASTER"] + "/master/frameworks", timeout=5).json()["frameworks"]
    completed = [t["id"] for f in fw if f["name"] == name for t in f["completed_tasks"] + f["tasks"]]
    assert [t for t in completed if ".long." in t] == [running["taskId"]]  # Mesos saw one task for the run
    requests.put(second.url + "/v1/jobs/later", json={"id": "later", "cmd": "echo later", **SMALL}, timeout=10)
    # the queued run keeps the definition it started with; a new run gets the new one
    assert run_of(second, "later", queued)["status"] == "QUEUED"
    requests.delete(second.url + f"/v1/jobs/later/runs/{queued}", timeout=10)
    assert run_of(second, "later", queued)["status"] == "KILLED"


def test_run_changes_are_events_and_metrics(sched):
    from .test_events import Listener

    listener = Listener(sched.url + "/v2/events", event_type=["job_created", "job_run_status_event"])
    try:
        define(sched, {"id": "evented", "cmd": "exit 0", "env": {"PW": {"value": "hunter2", "secret": True}}})
        run_id = start(sched, "evented")
        wait_status(sched, "evented", run_id)
        until(lambda: [e["status"] for e in listener.events if e.get("runId") == run_id][-1:] == ["FINISHED"], 30,
              what="the FINISHED event")
        listener.check()
    finally:
        listener.close()
    created = [e for e in listener.events if e["eventType"] == "job_created" and e["jobId"] == "evented"]
    assert len(created) == 1 and created[0]["job"]["env"]["PW"] == {"secret": True}
    assert "hunter2" not in json.dumps(listener.events)
    assert [e["status"] for e in listener.events if e.get("runId") == run_id] == ["QUEUED", "STARTING", "RUNNING",
                                                                               "FINISHED"]
    metrics = requests.get(sched.url + "/metrics", timeout=10).text
    finished = next(line for line in metrics.splitlines() if line.startswith('halyard_job_runs{status="FINISHED"}'))
    assert float(finished.split()[-1]) >= 1 and "halyard_jobs " in metrics


def test_a_run_on_an_agent_that_goes_away_is_relaunched_elsewhere_and_the_old_task_killed(sched, cluster):
    from .conftest import minimesos

    define(sched, {"id": "stranded", "cmd": "sleep 10; echo done"})
    run_id = start(sched, "stranded")
    first = wait_status(sched, "stranded", run_id, ("RUNNING",))
    agent = first["host"].rsplit(".", 1)[1]  # agent K listens on 127.0.0.K
    try:
        minimesos("agent", "stop", agent)
        moved = until(lambda: (r := run_of(sched, "stranded", run_id))["taskId"] != first["taskId"]
                      and r["status"] == "RUNNING" and r, 90, what="relaunched on another agent")
        assert moved["host"] != first["host"] and moved["attempt"] == 1  # a lost agent uses no retry
        assert any("unreachable" in h["message"] and h["status"] == "QUEUED" for h in moved["history"])
    finally:
        minimesos("agent", "start", agent)
    done = wait_status(sched, "stranded", run_id, timeout=60)
    assert done["status"] == "FINISHED" and done["taskId"] == moved["taskId"]
    # the agent came back: its copy of the task is not left running
    until(lambda: first["taskId"] not in mesos_tasks(cluster, sched.name, ("TASK_RUNNING", "TASK_UNREACHABLE")),
          60, what="the stranded task gone")


def test_a_schedule_across_a_failover_neither_repeats_nor_drops_a_firing(cluster, pair):
    first, second, name = pair
    define(first, {"id": "every6", "cmd": "true", "schedule": {"cron": "* * * * * */6"}})
    until(lambda: len(own(first.url + "/v1/jobs/every6/runs")) >= 2, 30,
          what="two firings under the first leader")
    first.kill9()
    until(second.leading, 30, what="the standby leads")
    until(lambda: len([r for r in own(second.url + "/v1/jobs/every6/runs")
                       if r["createdAt"] and _seconds(r["createdAt"]) > 0]) >= 5, 60, what="three more firings")
    runs = list(reversed(own(second.url + "/v1/jobs/every6/runs")))
    requests.delete(second.url + "/v1/jobs/every6", params={"stopCurrentJobRuns": "true"}, timeout=10)
    slots = [_seconds(r["scheduledFor"]) for r in runs]
    assert len(set(slots)) == len(slots), slots  # no firing ran twice
    gaps = [round(b - a) for a, b in zip(slots, slots[1:])]
    # every firing ran; the failover may fold two firings that fell in it into one late run
    assert all(g == 6 for g in gaps) or (sorted(gaps)[-1] == 12 and gaps.count(12) == 1), gaps
    assert all(r["status"] in ("FINISHED", "QUEUED", "STARTING", "RUNNING") for r in runs), \
        [(r["status"], r["message"], [h["status"] for h in r["history"]]) for r in runs]


def test_an_executor_that_cannot_be_fetched_is_retried_a_few_times_then_the_run_fails(cluster, tmp_path):
    with leading_scheduler(cluster, tmp_path, "--executor-uri", "http://127.0.0.1:9/halyard-executor.pyz") as s:
        define(s, {"id": "unfetchable", "cmd": "true", "retries": 3})
        run = wait_status(s, "unfetchable", start(s, "unfetchable"), timeout=90)
        assert run["status"] == "FAILED" and run["attempt"] == 1  # not the job's fault: no retry used
        assert run["message"].startswith("TASK_FAILED: ") and "(lost 5 times)" in run["message"]
        assert [h["status"] for h in run["history"]].count("STARTING") == 5


def test_a_docker_job_runs_within_its_cpus_and_mem(sched):
    define(sched, {"id": "boxed.limits", "container": {"docker": {"image": "local/busybox:1"}}, "cpus": 0.5,
                   "mem": 64, "args": ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                                                   "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us"]})
    run = wait_status(sched, "boxed.limits", start(sched, "boxed.limits"))
    assert run["status"] == "FINISHED", run
    limit, quota, period = requests.get(sched.url + f"/v1/jobs/boxed.limits/runs/{run['id']}/stdout",
                                        timeout=10).text.split()
    assert int(limit) == 64 * 1024 * 1024 and int(quota) / int(period) == 0.5


def test_killing_a_docker_job_stops_and_removes_its_container(sched, cluster):
    define(sched, {"id": "boxed.sleeper", "container": {"docker": {"image": "local/busybox:1"}},
                   "args": ["sleep", "300"], "taskKillGracePeriodSeconds": 1})
    run_id = start(sched, "boxed.sleeper")
    running = wait_status(sched, "boxed.sleeper", run_id, ("RUNNING",))
    docker = ["/usr/bin/docker", "-H", cluster["DOCKER_HOST"], "ps", "-aq", "--filter",
              f"name=halyard-{running['taskId']}"]
    until(lambda: subprocess.run(docker, capture_output=True, text=True).stdout.strip() != "", 30,
          what="the job's container")
    requests.delete(sched.url + f"/v1/jobs/boxed.sleeper/runs/{run_id}", timeout=10)
    assert wait_status(sched, "boxed.sleeper", run_id, timeout=60)["status"] == "KILLED"
    until(lambda: subprocess.run(docker, capture_output=True, text=True).stdout.strip() == "", 30,
          what="the container removed")


def test_a_leader_whose_zookeeper_session_expires_mid_run_hands_over_without_a_second_launch(cluster, pair):
    a, b, name = pair
    define(a, {"id": "steady", "cmd": "sleep 8; echo done"})
    run_id = start(a, "steady")
    running = wait_status(a, "steady", run_id, ("RUNNING",))
    a.freeze()  # past its 4 s session timeout: ZooKeeper expires the session, b takes over
    try:
        until(lambda: b.leading() and b.stats()["reconciling"] == 0, 60, what="b leads")
        done = wait_status(b, "steady", run_id, timeout=60)
    finally:
        a.thaw()
    until(lambda: [a.leading(), b.leading()].count(True) == 1, 60, what="one leader after the thaw")
    leader, standby = (a, b) if a.leading() else (b, a)
    final = run_of(leader, "steady", run_id)
    assert run_of(standby, "steady", run_id) == final  # a standby answers through the leader
    assert done["status"] == final["status"] == "FINISHED" and final["taskId"] == running["taskId"]
    assert [h["status"] for h in final["history"]].count("STARTING") == 1
    fw = requests.get(cluster["MESOS_MASTER"] + "/master/frameworks", timeout=5).json()["frameworks"]
    launched = [t["id"] for f in fw if f["name"] == name for t in f["completed_tasks"] + f["tasks"]]
    assert launched == [running["taskId"]]


def test_a_failure_during_a_failover_keeps_its_exit_code_and_is_not_relaunched(cluster, pair):
    a, b, name = pair
    define(a, {"id": "doomed", "cmd": "sleep 2; exit 3"})
    run_id = start(a, "doomed")
    wait_status(a, "doomed", run_id, ("RUNNING",))
    a.freeze()  # the job fails while no one leads: its update waits at the agent, unacknowledged
    try:
        until(b.leading, 60, what="b leads")
        # b's reconciliation hears TASK_FAILED from the master without an exit code, then the
        # agent's own update with it
        done = wait_status(b, "doomed", run_id, timeout=90)
    finally:
        a.thaw()
    assert done["status"] == "FAILED" and done["exitCode"] == 3 and done["message"] == "exited with status 3"
    assert [h["status"] for h in done["history"]].count("STARTING") == 1  # not relaunched