"""Metronome's and Eremetic's published clients, unchanged, against Halyard on the real cluster:
dcos-metronome (it parses every answer with protobuf's strict parser) and
eremetic-synchronous-client (it sends no headers and polls a task's ``status`` history)."""
from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from .harness import SchedulerProc, clean_shutdown, unique
from .v1client import until

# dcos-metronome's generated code predates protobuf 4: the pure-Python implementation, chosen here
# (the test's process), before protobuf is first imported.
os.environ["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
metronome = pytest.importorskip("metronome", reason="dcos-metronome (the test extras) is not installed")
eremetic = pytest.importorskip("eremetic_synchronous_client",
                               reason="eremetic-synchronous-client (the test extras) is not installed")
from metronome.models import JobRun, JobSpec, ScheduleSpec  # noqa: E402

pytestmark = pytest.mark.integration
IMAGE = "local/busybox:1"


def metronome_job(job_id: str, cmd: str, **labels: str) -> JobSpec:
    job = JobSpec(id=job_id, description="driven by dcos-metronome")
    for key, value in labels.items():
        job.labels[key] = value
    job.run.cpus, job.run.mem, job.run.cmd = 0.05, 32, cmd
    job.run.disk.value = 0.0          # Metronome's schema requires disk
    job.run.env["GREETING"] = "hello"
    job.run.maxLaunchDelay = 60
    job.run.restart.policy = JobSpec.RunSpec.RestartSpec.NEVER
    return job


class Hook:
    """A small HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/callback"


def test_dcos_metronome_drives_jobs_schedules_and_runs(sched):
    client = metronome.MetronomeClient(sched.url)
    assert client.ping() in ("pong", '"pong"')
    made = client.create_job(metronome_job("metro.hello", "echo $GREETING", team="data"))
    assert made.id == "metro.hello" and made.run.cmd == "echo $GREETING" and dict(made.labels) == {"team": "data"}
    changed = metronome_job("metro.hello", "echo $GREETING; echo changed", team="ops")
    updated = client.update_job("metro.hello", changed)
    assert updated.run.cmd.endswith("echo changed") and dict(updated.labels) == {"team": "ops"}
    assert client.get_job("metro.hello").run.env["GREETING"] == "hello"
    assert "metro.hello" in [j.id for j in client.list_jobs()]

    schedule = ScheduleSpec(id="nightly", cron="0 3 * * *", timezone="Europe/Berlin", startingDeadlineSeconds=120,
                            concurrencyPolicy=ScheduleSpec.ALLOW, enabled=True)
    added = client.create_schedule("metro.hello", schedule)
    assert added.id == "nightly" and added.cron == "0 3 * * *" and added.nextRunAt
    assert [s.id for s in client.list_schedules("metro.hello")] == ["nightly"]
    assert client.get_schedule("metro.hello", "nightly").timezone == "Europe/Berlin"
    assert client.delete_schedule("metro.hello", "nightly").status_code == 200
    assert client.list_schedules("metro.hello") == []

    started = client.run_job("metro.hello")
    assert started.jobId == "metro.hello" and started.status in (JobRun.STARTING, JobRun.ACTIVE)
    done = until(lambda: (r := client.get_run("metro.hello", started.id)).status in (JobRun.SUCCESS, JobRun.FAILED)
                 and r, 90, what="the run ended")
    assert done.status == JobRun.SUCCESS and done.completedAt
    assert [t.status for t in done.tasks] == [JobRun.JobRunTask.TASK_FINISHED]
    assert client.list_runs("metro.hello") == []   # Metronome lists the active runs
    history = requests.get(sched.url + "/v1/jobs/metro.hello", params={"embed": "history"}, timeout=10).json()
    assert history["history"]["successCount"] == 1
    assert [r["id"] for r in history["history"]["successfulFinishedRuns"]] == [started.id]
    own = requests.get(sched.url + f"/v1/jobs/metro.hello/runs/{started.id}", params={"embed": "halyard"},
                       timeout=10).json()["halyard"]
    assert own["exitCode"] == 0 and own["status"] == "FINISHED"
    out = requests.get(sched.url + f"/v1/jobs/metro.hello/runs/{started.id}/stdout", timeout=10).text
    assert out.splitlines() == ["hello", "changed"]

    client.create_job(metronome_job("metro.long", "sleep 300"))
    long_run = client.run_job("metro.long")
    until(lambda: client.get_run("metro.long", long_run.id).status == JobRun.ACTIVE, 90, what="the long run active")
    assert [r.id for r in client.list_runs("metro.long")] == [long_run.id]
    assert client.stop_run("metro.long", long_run.id).status_code == 200
    stopped = until(lambda: (r := client.get_run("metro.long", long_run.id)).status == JobRun.FAILED and r, 60,
                    what="the stopped run failed")
    assert stopped.tasks[-1].status == JobRun.JobRunTask.TASK_KILLED

    bad = metronome_job("metro.bad", "true")
    bad.run.placement.constraints.add(attribute="rack", value="r1")   # the operator left UNKNOWN: not sent
    with pytest.raises(metronome.MetronomeHttpError) as refused:
        client.create_job(bad)
    assert refused.value.status_code == 422 and refused.value.error_details[0]["path"].startswith("/run/placement")
    with pytest.raises(metronome.NotFoundError):
        client.get_job("metro.bad")
    for job_id in ("metro.hello", "metro.long"):
        assert client.delete_job(job_id, stop_current_job_runs=True).status_code == 200
    with pytest.raises(metronome.NotFoundError):
        client.get_job("metro.hello")


def test_eremetic_synchronous_client_runs_kills_and_calls_back(sched):
    hook = Hook()
    try:
        request = eremetic.Request(cpu=0.05, mem=32, image=IMAGE, command="echo from-eremetic; echo $SECRET_X",
                                   masked_env={"SECRET_X": "hunter2"}, network="HOST", callback_uri=hook.url)
        task_id, last = request.to(sched.url, polling_wait_time=0.5)
        assert task_id.startswith("eremetic-task.") and last == "TASK_FINISHED"
        task = requests.get(sched.url + f"/api/v1/task/{task_id}", timeout=10).json()
        assert [s["status"] for s in task["status"]][0] == "TASK_QUEUED" and task["status"][-1]["status"] == "TASK_FINISHED"
        assert task["masked_env"] == {"SECRET_X": "******"} and "hunter2" not in json.dumps(task)
        out = requests.get(sched.url + f"/api/v1/task/{task_id}/stdout", timeout=10).text
        assert out.splitlines() == ["from-eremetic", "******"]
        until(lambda: [c["status"] for c in hook.received if c["task_id"] == task_id][-1:] == ["TASK_FINISHED"], 30,
              what="the callback of the end")
        mine = [c for c in hook.received if c["task_id"] == task_id]
        assert all(set(c) == {"time", "status", "task_id"} and isinstance(c["time"], int) for c in mine)
        assert "TASK_RUNNING" in [c["status"] for c in mine]   # every state, as Eremetic posts them

        long_task = eremetic.Request(cpu=0.05, mem=32, image=IMAGE, command="sleep 300", network="HOST")
        long_id = long_task.submit(sched.url)
        tracked: dict = {}
        tracker = threading.Thread(target=lambda: tracked.update(
            last=eremetic.Request.track(sched.url, long_id, polling_wait_time=0.5, failure_wait_time=10)), daemon=True)
        tracker.start()
        until(lambda: requests.get(sched.url + f"/api/v1/task/{long_id}", timeout=10).json()["status"][-1]["status"]
              == "TASK_RUNNING", 90, what="the long task running")
        assert long_id in [t["id"] for t in requests.get(sched.url + "/api/v1/task", timeout=10).json()]
        assert requests.delete(sched.url + f"/api/v1/task/{long_id}", timeout=10).status_code == 409
        eremetic.Request.terminate_task(sched.url, long_id)
        tracker.join(60)
        assert tracked.get("last") == "TASK_KILLED"
        statuses = [s["status"] for s in requests.get(sched.url + f"/api/v1/task/{long_id}", timeout=10).json()["status"]]
        assert statuses[-2:] == ["TASK_TERMINATING", "TASK_KILLED"]
        ended = [t["id"] for t in requests.get(sched.url + "/api/v1/task", params={"state": "terminated"},
                                               timeout=10).json()]
        assert {task_id, long_id} <= set(ended)
        for done in (task_id, long_id):
            assert requests.delete(sched.url + f"/api/v1/task/{done}", timeout=10).status_code == 202
        assert requests.get(sched.url + f"/api/v1/task/{task_id}", timeout=10).status_code == 404
    finally:
        hook.server.shutdown()


def test_eremetic_clients_reach_a_secured_scheduler_with_the_token_in_their_url(cluster, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("adm-token rw name=admin\n")
    name = unique("halyard-eremetic-auth")
    s = SchedulerProc(cluster, unique("halyard-eremetic-auth"), name, tmp_path, "--tokens-file", str(tokens)).start()
    try:
        until(s.leading, 30, what="leader")
        refused = requests.post(s.url + "/api/v1/task", data=json.dumps({"command": "true"}), timeout=10)
        assert refused.status_code == 401
        with_token = s.url.replace("http://", "http://eremetic:adm-token@")
        task_id, last = eremetic.Request(cpu=0.05, mem=32, image=IMAGE, command="true", network="HOST").to(
            with_token, polling_wait_time=0.5)
        assert last == "TASK_FINISHED"
    finally:
        clean_shutdown(cluster, name, [s])


def test_a_metronome_schedule_fires_once_a_minute_across_a_leader_kill(cluster, tmp_path):
    """Defined with dcos-metronome, scheduled every minute, the leader killed after the first firing:
    the standby fires the next minutes, each once."""
    name, chroot = unique("halyard-metro-failover"), unique("halyard-metro-failover")
    first = SchedulerProc(cluster, chroot, name, tmp_path).start()
    schedulers = [first]
    try:
        until(first.leading, 30, what="first leader")
        second = SchedulerProc(cluster, chroot, name, tmp_path).start()
        schedulers.append(second)
        client = metronome.MetronomeClient([first.url, second.url])
        client.create_job(metronome_job("metro.minutely", "true"))
        client.create_schedule("metro.minutely", ScheduleSpec(id="minutely", cron="* * * * *", timezone="UTC",
                                                              startingDeadlineSeconds=60,
                                                              concurrencyPolicy=ScheduleSpec.ALLOW, enabled=True))

        def runs(s: SchedulerProc) -> list[dict]:
            body = requests.get(s.url + "/v1/jobs/metro.minutely/runs", params={"embed": "halyard"}, timeout=10).json()
            return [r["halyard"] for r in body]

        until(lambda: len(runs(first)) >= 1, 75, what="the first firing under the first leader")
        first.kill9()
        until(second.leading, 30, what="the standby leads")
        until(lambda: len(runs(second)) >= 3, 150, what="two more firings under the new leader")
        kept = list(reversed(runs(second)))
        slots = [r["scheduledFor"] for r in kept]
        assert len(set(slots)) == len(slots), slots   # no minute fired twice
        seconds = [time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) for s in slots]
        assert all(round(b - a) == 60 for a, b in zip(seconds, seconds[1:])), slots   # none dropped
        assert all(r["trigger"] == "schedule" for r in kept)
        history = client.get_job("metro.minutely")   # still a Metronome JobSpec to its client
        assert history.id == "metro.minutely"
    finally:
        clean_shutdown(cluster, name, schedulers)
