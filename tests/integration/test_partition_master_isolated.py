"""Issue 24, rule 4: the leading master cut off from the other masters and from ZooKeeper, on a
private ``minimesos/up --hosts --masters 3 --zookeepers 3`` cluster (own run dir, ports and /24;
two agents, no Docker). The scheduler runs on a host of its own (``sched``) and finds the masters
through ZooKeeper (``--master zk://.../mesos``).

``net cut masterK masters`` + ``net cut masterK zks``: the agents and the scheduler still reach the
old leader, but it loses its ZooKeeper session (the HA masters' ``--zk_session_timeout`` is 5 s)
and aborts by design (Mesos' master.cpp, ``Master::lostCandidacy``: "Lost leadership... committing
suicide!"), while the other two, which keep ZooKeeper's quorum and the registry's log quorum,
elect another. Halyard follows it as in the control-plane issue: it re-subscribes with its
FrameworkID, no task is killed or relaunched (same ids, same count), and ``/v2/info`` names the new
master (``marathon_config.mesos_leader_ui_url``).
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from .conftest import MINIMESOS, minimesos
from .harness import clean_shutdown, sleep_app, unique
from .hosts_harness import HostedScheduler, hosted_cluster
from .v1client import until

pytestmark = pytest.mark.integration

PORT, ZK_PORT, TASK_PORTS = 27850, 14981, 59000   # this module's own (HA: masters 27850/27950/28050, ZooKeeper 14981-3, 15981-3, 16981-3)
UP = ("up", "--hosts", "--masters", "3", "--zookeepers", "3", "--agents", "2", "--no-docker",
      "--port", str(PORT), "--zk-port", str(ZK_PORT), "--task-ports", str(TASK_PORTS))
APP, INSTANCES = "/partition/master", 4


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> Iterator[dict]:
    with hosted_cluster(tmp_path_factory.mktemp("partition-master-run"), UP, ("sched",)) as cluster:
        yield {**cluster, "SCHED_HOST": "sched", "SCHED_ADDRESS": cluster["added"]["sched"]}


@pytest.fixture
def sched(hosts, tmp_path) -> Iterator[HostedScheduler]:
    name = unique("halyard-partition-master")
    s = HostedScheduler(hosts, unique("halyard-partition-master"), name, tmp_path).start()
    try:
        until(s.leading, 30, what="leader")
        yield s
    finally:
        subprocess.run([str(MINIMESOS / "net"), "heal"], env={**os.environ, **hosts["env"]}, capture_output=True)
        minimesos("master", "start", env=hosts["env"], timeout=120)   # every stopped master
        clean_shutdown({**hosts, "MESOS_MASTER": leader_url(hosts)}, name, [s])


def masters(hosts: dict) -> list[str]:
    return hosts["MASTERS"].split(",")


def leading(hosts: dict) -> int | None:
    """The leading master's number, as ``minimesos/master leader`` says (None: none leads)."""
    proc = subprocess.run([str(MINIMESOS / "master"), "leader"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **hosts["env"]})
    return int(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip().isdigit() else None


def leader_url(hosts: dict) -> str:
    k = until(lambda: leading(hosts), 60, what="a leading master")
    return masters(hosts)[k - 1]


def master_state(url: str) -> dict:
    return requests.get(url + "/master/state", timeout=5, allow_redirects=False).json()


def subscribed(url: str, name: str) -> dict:
    """The framework ``name`` as master ``url`` sees it, when it is active and connected there ({} otherwise)."""
    found = [f for f in master_state(url)["frameworks"] if f["name"] == name]
    assert len(found) <= 1, f"{len(found)} frameworks named {name}"
    return found[0] if found and found[0]["active"] and found[0].get("connected", True) else {}


def masters_ready(hosts: dict) -> bool:
    """Every master up, its replica of the registry's log caught up."""
    for url in masters(hosts):
        try:
            metrics = requests.get(url + "/metrics/snapshot", timeout=5).json()
        except requests.RequestException:
            return False
        if metrics.get("registrar/log/recovered", 1.0) != 1.0:
            return False
    return True


def leader_ui_url(s: HostedScheduler) -> str | None:
    return requests.get(s.url + "/v2/info", timeout=5).json()["marathon_config"]["mesos_leader_ui_url"]


def running_ids(s: HostedScheduler) -> set[str]:
    return {t["id"] for t in s.running(APP)}


def test_the_leading_master_cut_off_from_the_masters_and_zookeeper_another_leads_and_halyard_follows(hosts, sched):
    until(lambda: masters_ready(hosts), 60, what="every master's log replica caught up")
    assert sched.post_app(sleep_app(APP, INSTANCES)).status_code == 201
    before = until(lambda: (lambda ids: ids if len(ids) == INSTANCES else None)(running_ids(sched)), 60,
                   what=f"{INSTANCES} tasks running")
    old = leading(hosts)
    assert old is not None
    old_url = masters(hosts)[old - 1]
    framework_id = until(lambda: subscribed(old_url, sched.name).get("id"), 30, what="subscribed to the leader")
    assert leader_ui_url(sched) == old_url + "/"
    epoch = sched.stats()["epoch"]

    t0 = time.monotonic()
    minimesos("net", "cut", f"master{old}", "masters", env=hosts["env"])
    minimesos("net", "cut", f"master{old}", "zks", env=hosts["env"])
    new = until(lambda: (lambda k: k if k is not None and k != old else None)(leading(hosts)), 60, interval=0.2,
                what="another master elected")
    elected_after = time.monotonic() - t0
    new_url = masters(hosts)[new - 1]
    until(lambda: subscribed(new_url, sched.name).get("id") == framework_id, 60, interval=0.2,
          what="Halyard re-subscribed to the new master with its FrameworkID")
    until(lambda: leader_ui_url(sched) == new_url + "/", 30, interval=0.2, what="/v2/info names the new master")
    followed_after = time.monotonic() - t0
    state = master_state(new_url)
    fw = next(f for f in state["frameworks"] if f["name"] == sched.name)
    resubscribed = (fw.get("reregistered_time") or fw["registered_time"]) - state["elected_time"]
    print(f"\nFIGURE leading master{old} cut from the masters and ZooKeeper: master{new} elected after "
          f"{elected_after:.1f}s; Halyard subscribed to it (and /v2/info naming it) after {followed_after:.1f}s, "
          f"re-subscribed {resubscribed:.2f}s after the election")

    # the same tasks, none killed or relaunched, as Halyard and the new master see them
    until(lambda: running_ids(sched) == before, 60, what="the same tasks running in Halyard")
    agents_back = until(lambda: (lambda st: st if sum(a["active"] for a in st["slaves"]) == 2 else None)(
        master_state(new_url)), 60, what="both agents re-registered with the new master")
    in_mesos = {t["id"]: t["state"] for f in agents_back["frameworks"] if f["name"] == sched.name for t in f["tasks"]}
    assert in_mesos == {t: "TASK_RUNNING" for t in before}, in_mesos
    assert len(running_ids(sched)) == INSTANCES
    assert sched.leading() and sched.stats()["epoch"] == epoch   # Halyard's own leadership did not change
    # the old master lost its ZooKeeper session: it aborts (its supervisor would start it again)
    status = subprocess.run([str(MINIMESOS / "status")], capture_output=True, text=True, timeout=60,
                            env={**os.environ, **hosts["env"]}).stdout
    old_line = next((line for line in status.splitlines() if line.startswith(f"master{old}")), status)
    print(f"FIGURE the cut-off master after the election: {old_line.strip()}")

    minimesos("net", "heal", env=hosts["env"])
    minimesos("master", "start", env=hosts["env"], timeout=120)
    until(lambda: masters_ready(hosts), 90, what="every master up again, its log replica caught up")
    assert leading(hosts) == new   # the healed master rejoins as a standby
    assert leader_ui_url(sched) == new_url + "/"
    assert running_ids(sched) == before
    assert subscribed(new_url, sched.name)["id"] == framework_id
