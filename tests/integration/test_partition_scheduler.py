"""Issue 24, rule 2: the leading scheduler cut off from ZooKeeper but not from the master, on a
private ``minimesos/up --hosts`` cluster (own run dir, ports and /24; one agent, no Docker). Two
schedulers of one framework run on hosts of their own (``sched1``, ``sched2``); the harness's
ZooKeeper session timeout is 4 s.

What must hold: the standby leads within the session timeout + 5 s, with a newer epoch; the task
keeps running under its id; nothing is launched or killed. The old leader, which kazoo alone would
never tell that its session is lost while it is cut off (kazoo reports LOST only after reconnecting),
steps down by itself once its connection has been SUSPENDED for the session timeout (Curator's rule,
``store/suspension.py``): kazoo suspends within two thirds of the session timeout after the cut
(its read timeout), so the old leader says ``leader: false`` within 2/3 T + T (+ 2 s for the
polling here) of the cut, and counts its session lost by then. It steps down sooner when the
standby takes the framework over first: Mesos tells it "Framework failed over", and with its
session suspended it cannot read the epoch, so it yields rather than wait for ZooKeeper. A write sent to it during the cut is refused, never applied later. When
healed, the old leader rejoins as a standby.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from kazoo.client import KazooClient

from .conftest import MINIMESOS, minimesos
from .harness import clean_shutdown, mesos_tasks, sleep_app, unique
from .hosts_harness import HostedScheduler, hosted_cluster, says_it_leads
from .v1client import until

pytestmark = pytest.mark.integration

PORT, ZK_PORT, TASK_PORTS = 16850, 12881, 48000
SESSION_TIMEOUT = 4.0  # the harness's --zk-session-timeout
UP = ("up", "--hosts", "--agents", "1", "--no-docker", "--port", str(PORT), "--zk-port", str(ZK_PORT),
      "--task-ports", str(TASK_PORTS))


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> Iterator[dict]:
    with hosted_cluster(tmp_path_factory.mktemp("partition-sched-run"), UP, ("sched1", "sched2")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def pair(hosts, tmp_path_factory) -> Iterator[tuple[HostedScheduler, HostedScheduler]]:
    log_dir = tmp_path_factory.mktemp("partition-sched-logs")
    name, chroot = unique("halyard-partition-sched"), unique("halyard-partition-sched")
    first = HostedScheduler(hosts, chroot, name, log_dir, host="sched1", address=hosts["added"]["sched1"]).start()
    schedulers = [first]
    try:
        until(first.leading, 30, what="sched1 leads")
        schedulers.append(HostedScheduler(hosts, chroot, name, log_dir, host="sched2",
                                          address=hosts["added"]["sched2"]).start())
        yield first, schedulers[1]
    finally:
        subprocess.run([str(MINIMESOS / "net"), "heal"], env={**os.environ, **hosts["env"]}, capture_output=True)
        clean_shutdown(hosts, name, schedulers)


def contenders(hosts: dict, s: HostedScheduler) -> list[str]:
    """The election's contenders (where their APIs listen), the leader first, read from ZooKeeper."""
    zk = KazooClient(hosts=hosts["ZK"].removeprefix("zk://") + "/" + s.chroot, timeout=10)
    zk.start(timeout=10)
    try:
        return list(zk.Election("/leader").contenders())
    finally:
        zk.stop()
        zk.close()


# kazoo suspends within its read timeout (2/3 T) of the cut; the session counts as lost T later;
# 2 s for the polling and a busy machine (two cores; 7.3 s seen)
STEP_DOWN_BOUND = SESSION_TIMEOUT * 2 / 3 + SESSION_TIMEOUT + 2.0


def cut_leader_from_zookeeper(hosts: dict, leader: HostedScheduler, standby: HostedScheduler,
                               write: bool) -> dict[str, float]:
    """Cut ``leader``'s host from every ZooKeeper server; the standby must lead with a newer epoch
    and the leader step down by itself; heal; the old leader must contend again as a standby.
    ``write``: an app is POSTed to the leader just after the cut (held, then refused). Returns
    the figures (seconds from the cut)."""
    epoch = leader.stats()["epoch"]
    assert not standby.leading()
    minimesos("net", "cut", leader.host, "zks", env=hosts["env"])
    t0 = time.monotonic()
    written: dict[str, object] = {}
    writer = threading.Thread(target=lambda: written.update(response=leader.post_app(sleep_app("/partition/cut", 1))))
    if write:
        writer.start()
    until(standby.leading, SESSION_TIMEOUT + 5 + 2, interval=0.1, what="the standby leads")
    figures = {"new leader": time.monotonic() - t0}
    assert figures["new leader"] <= SESSION_TIMEOUT + 5
    assert standby.stats()["epoch"] > epoch
    until(lambda: says_it_leads(leader) is False, t0 + STEP_DOWN_BOUND + 2 - time.monotonic(), interval=0.1,
          what="the old leader steps down")
    figures["stepped down"] = time.monotonic() - t0
    assert figures["stepped down"] <= STEP_DOWN_BOUND
    # the cut lasts: the session counts as lost by the same bound (Curator's rule), whichever came first
    until(lambda: "the session counts as lost" in leader.log.read_text(), t0 + STEP_DOWN_BOUND + 2 - time.monotonic(),
          interval=0.1, what="the old leader's session counted lost")
    figures["session counted lost"] = time.monotonic() - t0
    if write:
        writer.join(35)
        response = written.get("response")
        assert isinstance(response, requests.Response) and response.status_code >= 400, response

    minimesos("net", "heal", env=hosts["env"])
    t1 = time.monotonic()
    until(lambda: len(contenders(hosts, leader)) == 2, 30, what="the old leader contends again")
    figures["a standby again after the heal"] = time.monotonic() - t1
    assert contenders(hosts, leader)[0] == f"{standby.address}:{standby.port}"
    assert not leader.leading() and standby.leading() and standby.stats()["epoch"] > epoch
    assert requests.get(standby.url + "/v2/apps/partition/cut", timeout=5).status_code == 404  # never applied
    return figures


def test_a_leader_cut_from_zookeeper_is_replaced_steps_down_and_rejoins_as_a_standby(hosts, pair):
    first, second = pair
    assert first.post_app(sleep_app("/partition/steady", 1)).status_code == 201
    (task,) = until(lambda: first.running("/partition/steady"), 60, what="the task running")

    # 1. Nothing pending on the leader: it steps down because its connection stayed SUSPENDED
    #    for the session timeout (the fix; before it, it claimed the lead for as long as the cut lasted)
    figures = cut_leader_from_zookeeper(hosts, first, second, write=False)
    print("\nFIGURES leader cut from ZooKeeper, nothing pending: " + ", ".join(
        f"{k} {v:.1f}s" for k, v in figures.items()) + f" (session timeout {SESSION_TIMEOUT:g}s)")
    assert "the session counts as lost" in first.log.read_text()
    assert [t["id"] for t in second.running("/partition/steady")] == [task["id"]]

    # 2. The roles swapped, a write sent to the cut-off leader: refused when it steps down, not applied
    figures = cut_leader_from_zookeeper(hosts, second, first, write=True)
    print("FIGURES leader cut from ZooKeeper, a write pending: " + ", ".join(
        f"{k} {v:.1f}s" for k, v in figures.items()))
    assert [t["id"] for t in first.running("/partition/steady")] == [task["id"]]
    assert set(mesos_tasks(hosts, first.name)) == {task["id"]}  # nothing launched or killed meanwhile
