"""Issue 24, rule 2: the leading scheduler cut off from ZooKeeper but not from the master, on a
private ``minimesos/up --hosts`` cluster (own run dir, ports and /24; one agent, no Docker). Two
schedulers of one framework run on hosts of their own (``sched1``, ``sched2``); the harness's
ZooKeeper session timeout is 4 s.

What holds today (the first test): the standby leads within the session timeout + 5 s, with a
newer epoch; the task keeps running under its id; when healed, the old leader rejoins as a standby.

What does not (the second test, a strict xfail): the old leader never learns, while cut off, that
its session is lost. kazoo reports SUSPENDED when the connection drops and LOST only once it
reconnects and the server says the session expired, and Halyard steps down on LOST only: the
cut-off leader keeps ``/v1/stats`` ``leader: true`` (epoch 1, beside the new leader's epoch 2) for as
long as the cut lasts, and its API holds writes instead of refusing them. It launches and kills
nothing meanwhile (the master closed its subscription when the standby subscribed: "Framework
failed over"). Apache Curator declares LOST itself once a connection has been SUSPENDED for the
session timeout (Curator 3's "session expiration" policy); the fix would do the same.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from .conftest import MINIMESOS, minimesos, read_env
from .harness import clean_shutdown, mesos_tasks, sleep_app, unique
from .hosts_harness import HostedScheduler
from .v1client import until

pytestmark = pytest.mark.integration

PORT, ZK_PORT, TASK_PORTS = 16850, 12881, 48000
SESSION_TIMEOUT = 4.0  # the harness's --zk-session-timeout
UP = ("up", "--hosts", "--agents", "1", "--no-docker", "--port", str(PORT), "--zk-port", str(ZK_PORT),
      "--task-ports", str(TASK_PORTS))
OBSERVED: dict[str, float | None] = {}


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> Iterator[dict]:
    run = tmp_path_factory.mktemp("partition-sched-run")
    env = {"MINIMESOS_RUN_DIR": str(run)}
    try:
        minimesos(*UP, env=env, timeout=600)
    except AssertionError:
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **env}, capture_output=True, timeout=300)
        raise
    try:
        added = dict(minimesos("host", "add", name, env=env).stdout.split() for name in ("sched1", "sched2"))
        yield {**read_env(run / "cluster.env"), "env": env, "added": added}
    finally:
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **env}, capture_output=True, timeout=300)


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


def says_it_leads(s: HostedScheduler) -> bool | None:
    """What ``/v1/stats`` answers (None: no answer within 5 s, which says nothing)."""
    try:
        return bool(s.stats()["leader"])
    except (requests.RequestException, ValueError):
        return None


def test_a_leader_cut_from_zookeeper_is_replaced_and_rejoins_as_a_standby(hosts, pair):
    old, standby = pair
    assert old.post_app(sleep_app("/partition/steady", 1)).status_code == 201
    (task,) = until(lambda: old.running("/partition/steady"), 60, what="the task running")
    old_epoch = old.stats()["epoch"]
    assert not standby.leading()

    minimesos("net", "cut", "sched1", "zks", env=hosts["env"])
    t0 = time.monotonic()
    until(standby.leading, SESSION_TIMEOUT + 5 + 2, interval=0.1, what="the standby leads")
    OBSERVED["new leader after"] = new_after = time.monotonic() - t0
    print(f"\nFIGURE leader cut from ZooKeeper: a new leader after {new_after:.1f}s (session timeout "
          f"{SESSION_TIMEOUT:g}s)")
    assert new_after <= SESSION_TIMEOUT + 5
    assert standby.stats()["epoch"] > old_epoch
    # the old leader, cut off, has not stepped down yet: see the second test
    deadline = t0 + SESSION_TIMEOUT + 3
    answers: list[bool | None] = []
    while time.monotonic() < deadline and False not in answers:
        answers.append(says_it_leads(old))
        time.sleep(0.2)
    OBSERVED["old leader stepped down after"] = time.monotonic() - t0 if False in answers else None
    assert [t["id"] for t in standby.running("/partition/steady")] == [task["id"]]

    minimesos("net", "heal", env=hosts["env"])
    t1 = time.monotonic()
    until(lambda: not old.leading(), 15, what="the old leader a standby")
    print(f"FIGURE healed: the old leader a standby after {time.monotonic() - t1:.1f}s")
    assert standby.leading() and standby.stats()["epoch"] > old_epoch
    assert set(mesos_tasks(hosts, standby.name)) == {task["id"]}  # nothing launched or killed meanwhile


@pytest.mark.xfail(strict=True, reason="a leader cut off from ZooKeeper steps down only when its session is "
                                       "reported LOST, which kazoo does only after reconnecting")
def test_a_leader_cut_from_zookeeper_stops_claiming_the_lead_within_the_session_timeout():
    assert "old leader stepped down after" in OBSERVED, "the first test did not get that far"
    assert OBSERVED["old leader stepped down after"] is not None, \
        f"still leading {SESSION_TIMEOUT + 3:g}s after the cut (a new leader after {OBSERVED['new leader after']:.1f}s)"
