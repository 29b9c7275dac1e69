"""Issue 24, rule 1: an agent cut off from the masters for longer than the master's agent ping
timeout, on a private ``minimesos/up --hosts`` cluster (own run dir, ports and /24; no Docker).

The cluster's master pings agents every ``--agent_ping_timeout=1secs`` and marks one unreachable
after ``--max_agent_ping_timeouts=3`` misses (``MESOS_AGENT_PING_TIMEOUT``,
``MESOS_MAX_AGENT_PING_TIMEOUTS``), so about 3-4 s after the cut. Mesos then sends a
PARTITION_AWARE framework TASK_UNREACHABLE for the agent's tasks (Mesos' master.cpp,
``markUnreachable``); Marathon keeps counting such a task until its app's
``unreachableStrategy.inactiveAfterSeconds``, then launches a replacement, and when the agent comes
back kills the returning task if the app has its instances without it, and keeps it otherwise.

The scheduler runs on a host of its own (``minimesos/host add sched``, ``host exec``), listening
on that host's address: agents fetch the jobs' executor from it, which they could not do from the
root namespace's loopback. Only the agent is cut from the masters; the scheduler reaches them.

Two apps of one instance each, both on the agent that is cut:

* ``fast`` (``inactiveAfterSeconds: 3``): replaced on the other agent during the cut; its
  original task is killed when it comes back (the app has its one instance);
* ``slow`` (``inactiveAfterSeconds: 300``): never replaced during the cut (its unreachable task
  still counts); when the agent comes back the same task is running again and is kept.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from .conftest import MINIMESOS, minimesos
from .harness import SchedulerProc, clean_shutdown, sleep_app, unique
from .hosts_harness import HostedScheduler, hosted_cluster
from .v1client import until

pytestmark = pytest.mark.integration

PORT, ZK_PORT, TASK_PORTS = 16750, 12781, 47000
PING_TIMEOUT, MAX_PING_TIMEOUTS = 1, 3
UP = ("up", "--hosts", "--agents", "2", "--no-docker", "--port", str(PORT), "--zk-port", str(ZK_PORT),
      "--task-ports", str(TASK_PORTS))


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> Iterator[dict]:
    with hosted_cluster(tmp_path_factory.mktemp("partition-run"), UP, ("sched",),
                        MESOS_AGENT_PING_TIMEOUT=f"{PING_TIMEOUT}secs",
                        MESOS_MAX_AGENT_PING_TIMEOUTS=str(MAX_PING_TIMEOUTS)) as cluster:
        yield {**cluster, "SCHED_HOST": "sched", "SCHED_ADDRESS": cluster["added"]["sched"]}


@pytest.fixture
def sched(hosts, tmp_path) -> Iterator[SchedulerProc]:
    name = unique("halyard-partition")
    s = HostedScheduler(hosts, unique("halyard-partition"), name, tmp_path).start()
    try:
        until(s.leading, 30, what="leader")
        yield s
    finally:
        subprocess.run([str(MINIMESOS / "net"), "heal"], env={**os.environ, **hosts["env"]}, capture_output=True)
        clean_shutdown(hosts, name, [s])


def master_view(hosts: dict, name: str) -> dict[str, dict[str, str]]:
    """The master's tasks of framework ``name`` by list (``tasks``, ``completed_tasks``,
    ``unreachable_tasks``): task id -> state."""
    frameworks = requests.get(f"{hosts['MESOS_MASTER']}/master/frameworks", timeout=5).json()["frameworks"]
    return {k: {t["id"]: t["state"] for f in frameworks if f["name"] == name for t in f.get(k, [])}
            for k in ("tasks", "completed_tasks", "unreachable_tasks")}


def by_id(s: SchedulerProc, app_id: str) -> dict[str, dict]:
    return {t["id"]: t for t in s.tasks(app_id)}


def test_an_agent_cut_off_from_the_masters(hosts, sched):
    agents = {hosts["MESOS_AGENT1"].split("//")[1].split(":")[0]: "agent1",
              hosts["MESOS_AGENT2"].split("//")[1].split(":")[0]: "agent2"}
    fast, slow = "/partition/fast", "/partition/slow"
    assert sched.post_app(sleep_app(fast, 1, unreachableStrategy={"inactiveAfterSeconds": 3,
                                                                   "expungeAfterSeconds": 600})).status_code == 201
    (first,) = until(lambda: sched.running(fast), 60, what="fast running")
    cut_ip = first["host"]
    other_ip = next(ip for ip in agents if ip != cut_ip)
    assert sched.post_app(sleep_app(slow, 1, constraints=[["hostname", "CLUSTER", cut_ip]],
                                    unreachableStrategy={"inactiveAfterSeconds": 300,
                                                         "expungeAfterSeconds": 600})).status_code == 201
    (kept,) = until(lambda: sched.running(slow), 60, what="slow running")

    minimesos("net", "cut", agents[cut_ip], "masters", env=hosts["env"])
    t0 = time.monotonic()
    until(lambda: by_id(sched, fast)[first["id"]]["state"] == "TASK_UNREACHABLE"
          and by_id(sched, slow)[kept["id"]]["state"] == "TASK_UNREACHABLE", 30, interval=0.1,
          what="both tasks TASK_UNREACHABLE in Halyard")
    unreachable_after = time.monotonic() - t0
    replacement = until(lambda: [t for t in sched.running(fast) if t["id"] != first["id"]], 30, interval=0.1,
                        what="fast's replacement running")[0]
    replaced_after = time.monotonic() - t0
    print(f"\nFIGURE agent cut from the masters (ping {PING_TIMEOUT}s x {MAX_PING_TIMEOUTS}): TASK_UNREACHABLE in "
          f"Halyard after {unreachable_after:.1f}s, replacement running after {replaced_after:.1f}s "
          f"(inactiveAfterSeconds 3)")
    assert unreachable_after >= PING_TIMEOUT * (MAX_PING_TIMEOUTS - 1)
    assert replacement["host"] == other_ip
    assert replaced_after - unreachable_after >= 3 - 1.5  # not at once (polling lags Halyard's own clock)
    # within Marathon's bounds: one replacement for fast, none for slow (its unreachable task counts)
    assert set(by_id(sched, fast)) == {first["id"], replacement["id"]}
    assert set(by_id(sched, slow)) == {kept["id"]}
    assert sched.running(slow) == []

    minimesos("net", "heal", agents[cut_ip], "masters", env=hosts["env"])
    t1 = time.monotonic()
    # fast has its instance: the returning task is killed; slow's comes back and is kept
    until(lambda: set(by_id(sched, fast)) == {replacement["id"]}, 60, what="fast's returning task killed")
    until(lambda: [t["id"] for t in sched.running(slow)] == [kept["id"]], 60, what="slow's task running again")
    print(f"FIGURE healed: returning task killed and the other kept within {time.monotonic() - t1:.1f}s")
    ended = until(lambda: master_view(hosts, sched.name)["completed_tasks"].get(first["id"]), 30,
                  what="the returning task ended in Mesos")
    view = master_view(hosts, sched.name)
    assert ended == "TASK_KILLED" and view["unreachable_tasks"] == {}, view
    assert view["tasks"] == {replacement["id"]: "TASK_RUNNING", kept["id"]: "TASK_RUNNING"}, view
    slaves = requests.get(f"{hosts['MESOS_MASTER']}/master/slaves", timeout=5).json()["slaves"]
    assert sorted(s["hostname"] for s in slaves if s["active"]) == sorted(agents)


def test_a_job_run_on_an_agent_cut_off_moves_and_its_returning_task_is_killed(hosts, sched):
    """A job's run follows the job's rules (Halyard's, as Metronome's: a run whose agent is
    unreachable past the scheduler's ``--unreachable-grace``, 2 s here, is relaunched elsewhere
    without using a retry); when the agent comes back, the run's old task is killed, not kept."""
    from .test_jobs import define, run_of, start, wait_status

    define(sched, {"id": "cutoff", "cmd": "sleep 25; echo done"})  # long enough to be killed, on a busy machine too
    run_id = start(sched, "cutoff")
    first = wait_status(sched, "cutoff", run_id, ("RUNNING",))
    cut = "agent1" if hosts["MESOS_AGENT1"].split("//")[1].startswith(first["host"] + ":") else "agent2"
    minimesos("net", "cut", cut, "masters", env=hosts["env"])
    try:
        moved = until(lambda: (r := run_of(sched, "cutoff", run_id))["taskId"] != first["taskId"]
                      and r["status"] == "RUNNING" and r, 40, what="relaunched on the other agent")
        assert moved["host"] != first["host"] and moved["attempt"] == 1
        assert any("unreachable" in h["message"] and h["status"] == "QUEUED" for h in moved["history"])
    finally:
        minimesos("net", "heal", env=hosts["env"])
    # the agent is back before the old task's sleep ends: that copy is killed, never kept or finished
    # (the master lists a returning task under ``unreachable_tasks`` until its agent re-registers)
    ended = until(lambda: master_view(hosts, sched.name)["completed_tasks"].get(first["taskId"]), 30,
                  what="the old task ended in Mesos")
    assert ended == "TASK_KILLED", master_view(hosts, sched.name)
    done = wait_status(sched, "cutoff", run_id, timeout=40)
    assert done["status"] == "FINISHED" and done["taskId"] == moved["taskId"]
