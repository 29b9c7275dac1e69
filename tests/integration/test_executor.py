"""Halyard's executor on the real cluster's agents, driven by a bare v1 scheduler."""
from __future__ import annotations

import base64
import json
import os
import sys
import time
import uuid

import pytest
import requests

from .v1client import TERMINAL, V1Scheduler, scalar, until

pytestmark = pytest.mark.integration


@pytest.fixture
def scheduler(cluster):
    s = V1Scheduler(cluster["MESOS_MASTER"], name="executor-test")
    yield s
    s.teardown()


def launch_job(s: V1Scheduler, offer: dict, job: dict) -> str:
    task_id = f"job-{uuid.uuid4().hex[:8]}"
    task = {"name": task_id, "task_id": {"value": task_id}, "agent_id": offer["agent_id"],
            "resources": [scalar("cpus", 0.05), scalar("mem", 32)],
            "executor": {"executor_id": {"value": f"halyard-{task_id}"}, "name": "halyard executor",
                         "command": {"value": f"{sys.executable} -m halyard_executor", "shell": True},
                         "resources": [scalar("cpus", 0.01), scalar("mem", 32)]},
            "data": base64.b64encode(json.dumps(job).encode()).decode()}
    s.call("ACCEPT", accept={"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 1},
                             "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}]})
    return task_id


def data(status: dict) -> dict:
    return json.loads(base64.b64decode(status["data"]))


def sandbox_file(cluster, agent_url: str, task_id: str, name: str) -> str:
    state = requests.get(agent_url + "/state", timeout=5).json()
    directory = next(e["directory"] for f in state["frameworks"] + state["completed_frameworks"]
                     for e in f["executors"] + f["completed_executors"] if e["id"] == f"halyard-{task_id}")
    return requests.get(agent_url + "/files/download", params={"path": f"{directory}/{name}"}, timeout=5).text


def test_a_job_that_succeeds_reports_starting_running_finished_and_keeps_its_output(cluster, scheduler):
    seen: list = []
    t0 = time.monotonic()
    task_id = launch_job(scheduler, scheduler.offer_from("127.0.0.1"), {"cmd": "echo out-$GREETING; echo err >&2",
                                                                         "env": {"GREETING": "hi"}})
    done = scheduler.wait_state(task_id, TERMINAL, seen=seen)
    elapsed = time.monotonic() - t0
    assert done["state"] == "TASK_FINISHED" and data(done)["exitCode"] == 0
    assert [s for t, s in seen if t == task_id] == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert sandbox_file(cluster, cluster["MESOS_AGENT1"], task_id, "stdout").strip().endswith("out-hi")
    assert "err" in sandbox_file(cluster, cluster["MESOS_AGENT1"], task_id, "stderr")
    print(f"\nFIGURE trivial job ACCEPT -> TASK_FINISHED on the executor: {elapsed:.2f}s")


def test_exit_codes_timeouts_and_kills(scheduler):
    failed = launch_job(scheduler, scheduler.offer_from(), {"cmd": "exit 3"})
    status = scheduler.wait_state(failed, TERMINAL)
    assert status["state"] == "TASK_FAILED" and status["message"] == "exited with status 3"
    assert data(status)["exitCode"] == 3

    slow = launch_job(scheduler, scheduler.offer_from(), {"cmd": "sleep 30", "timeoutSeconds": 1})
    status = scheduler.wait_state(slow, TERMINAL, timeout=30)
    assert status["state"] == "TASK_FAILED" and status["message"] == "timed out after 1s" and data(status)["timedOut"]

    offer = scheduler.offer_from()
    victim = launch_job(scheduler, offer, {"cmd": "trap '' TERM; sleep 60", "killGracePeriodSeconds": 1})
    scheduler.wait_state(victim, {"TASK_RUNNING"})
    scheduler.kill(victim, offer["agent_id"])
    status = scheduler.wait_state(victim, TERMINAL, timeout=30)
    assert status["state"] == "TASK_KILLED" and data(status)["signal"] == 9  # SIGTERM ignored: SIGKILL


def test_secret_env_values_are_masked_in_messages(scheduler):
    task_id = launch_job(scheduler, scheduler.offer_from(), {"argv": ["/nonexistent/hunter2-tool"],
                                                             "env": {"PW": "hunter2"}, "secretEnv": ["PW"]})
    status = scheduler.wait_state(task_id, TERMINAL)
    assert status["state"] == "TASK_FAILED" and "hunter2" not in status["message"] and "******" in status["message"]


def test_shutdown_ends_the_whole_process_group_of_a_running_job(cluster):
    s = V1Scheduler(cluster["MESOS_MASTER"], name="executor-shutdown-test")
    try:
        task_id = launch_job(s, s.offer_from(), {"cmd": "sleep 300 & sleep 300; wait", "killGracePeriodSeconds": 1})
        running = s.wait_state(task_id, {"TASK_RUNNING"})
        pid = data(running)["pid"]
        os.kill(pid, 0)  # the job's shell runs on this machine (the local cluster)
        group = os.getpgid(pid)
    finally:
        s.teardown()  # the master tells the executor to SHUT DOWN

    def group_gone() -> bool:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        return False

    until(group_gone, 30, what="the job's process group ended by SHUTDOWN")
