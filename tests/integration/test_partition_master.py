"""Issue 24, rule 3: the leading scheduler cut off from the master but not from ZooKeeper, on a
private ``minimesos/up --hosts`` cluster (own run dir, ports and /24; one master, one agent, no
Docker). Two schedulers of one framework run on hosts of their own (``sched1``, ``sched2``) with
``--master-yield-after 5s``.

The rule (docs/scheduler.md, "Partitions"): a leader with no subscription to the master for the
bound yields to a scheduler that reaches the master, and only to one: each scheduler marks in
ZooKeeper whether the master answers it. So:

* the leader cut from the master (``net cut sched1 masters``): its driver notices the silence two
  of the master's 15 s heartbeat intervals after it last heard from it (15-30 s after the cut),
  and once the bound has passed the standby, which
  reaches the master, leads with a newer epoch and the same FrameworkID; the task keeps its id; the
  old leader stays a standby for the rest of the cut and after it (no flapping);
* every scheduler cut from the master: nobody would do better, so the leader leads on (the same
  scheduler and epoch throughout the cut, retrying), and re-subscribes with its FrameworkID once
  healed; the task keeps its id.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from .conftest import MINIMESOS, minimesos
from .harness import clean_shutdown, framework, mesos_tasks, sleep_app, unique
from .hosts_harness import HostedScheduler, hosted_cluster
from .v1client import until

pytestmark = pytest.mark.integration

PORT, ZK_PORT, TASK_PORTS = 26650, 14481, 58000
SCHEDULER_PORTS = (PORT + 10, PORT + 11)
YIELD_AFTER = 5.0
HEARTBEAT = 15.0  # Mesos' heartbeat interval for HTTP schedulers; the driver counts two missed
UP = ("up", "--hosts", "--agents", "1", "--no-docker", "--port", str(PORT), "--zk-port", str(ZK_PORT),
      "--task-ports", str(TASK_PORTS))


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> Iterator[dict]:
    with hosted_cluster(tmp_path_factory.mktemp("partition-master-run"), UP, ("sched1", "sched2")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def pair(hosts, tmp_path_factory) -> Iterator[tuple[HostedScheduler, HostedScheduler]]:
    log_dir = tmp_path_factory.mktemp("partition-master-logs")
    name, chroot = unique("halyard-partition-master"), unique("halyard-partition-master")
    extra = ("--master-yield-after", f"{YIELD_AFTER:g}s")

    def start(k: int) -> HostedScheduler:
        host = f"sched{k}"
        return HostedScheduler(hosts, chroot, name, log_dir, *extra, host=host, address=hosts["added"][host],
                               port=SCHEDULER_PORTS[k - 1]).start()

    schedulers = [start(1)]
    try:
        until(schedulers[0].leading, 30, what="sched1 leads")
        schedulers.append(start(2))
        yield schedulers[0], schedulers[1]
    finally:
        subprocess.run([str(MINIMESOS / "net"), "heal"], env={**os.environ, **hosts["env"]}, capture_output=True)
        clean_shutdown(hosts, name, schedulers)


def leaders(pair: tuple[HostedScheduler, ...]) -> list[tuple[str, int]]:
    """(host, epoch) of every scheduler that says it leads."""
    out = []
    for s in pair:
        try:
            stats = s.stats()
        except Exception:  # noqa: BLE001 - an unanswered poll says nothing about leadership
            continue
        if stats["leader"]:
            out.append((s.host, stats["epoch"]))
    return out


def watch(pair: tuple[HostedScheduler, ...], seconds: float) -> list[list[tuple[str, int]]]:
    """Who says it leads, every 0.5 s for ``seconds``."""
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(leaders(pair))
        time.sleep(0.5)
    return seen


def test_a_leader_cut_from_the_master_yields_to_a_standby_that_reaches_it_and_never_flaps(hosts, pair):
    first, second = pair
    assert first.post_app(sleep_app("/partition/master", 1)).status_code == 201
    (task,) = until(lambda: first.running("/partition/master"), 60, what="the task running")
    framework_id = until(lambda: (framework(hosts, first.name) or {}).get("id"), 30, what="the framework")
    epoch = first.stats()["epoch"]

    minimesos("net", "cut", "sched1", "masters", env=hosts["env"])
    t0 = time.monotonic()
    # leads on while its driver has not noticed (two heartbeat intervals after the master was last
    # heard, which is at most one interval before the cut), then for the bound
    earliest, latest = HEARTBEAT + YIELD_AFTER, 2 * HEARTBEAT + YIELD_AFTER
    before = watch(pair, earliest - 3)
    assert all(seen == [("sched1", epoch)] for seen in before if seen), before
    until(second.leading, latest + 20 - (time.monotonic() - t0), interval=0.2, what="the standby leads")
    took = time.monotonic() - t0
    print(f"\nFIGURE leader cut from the master: the standby leads after {took:.1f}s "
          f"(two {HEARTBEAT:g}s heartbeat intervals since the master was last heard, then {YIELD_AFTER:g}s)")
    assert earliest - 3 <= took <= latest + 20
    new_epoch = second.stats()["epoch"]
    assert new_epoch > epoch
    until(lambda: (framework(hosts, second.name) or {}).get("active"), 30, what="the framework subscribed again")
    assert framework(hosts, second.name)["id"] == framework_id
    # no flapping: the cut-off scheduler does not take the lead back while cut off, nor after
    during = watch(pair, 10)
    minimesos("net", "heal", env=hosts["env"])
    after = watch(pair, 6)
    assert all(seen == [("sched2", new_epoch)] for seen in during + after), during + after
    assert [t["id"] for t in second.running("/partition/master")] == [task["id"]]
    assert set(mesos_tasks(hosts, second.name)) == {task["id"]}


def test_every_scheduler_cut_from_the_master_the_leader_leads_on(hosts, pair):
    _, second = pair  # the leader after the first test
    until(second.leading, 30, what="sched2 leads")
    epoch = second.stats()["epoch"]
    framework_id = framework(hosts, second.name)["id"]
    (task,) = second.running("/partition/master")

    for host in ("sched1", "sched2"):
        minimesos("net", "cut", host, "masters", env=hosts["env"])
    seen = watch(pair, 2 * HEARTBEAT + YIELD_AFTER + 10)
    assert all(s == [("sched2", epoch)] for s in seen), seen  # one leader, the same term, all along
    assert "no standby reaches it: leading on" in second.log.read_text()
    minimesos("net", "heal", env=hosts["env"])
    t1 = time.monotonic()
    until(lambda: (framework(hosts, second.name) or {}).get("active"), 60, what="the framework subscribed again")
    print(f"\nFIGURE every scheduler cut from the master: the leader led on; re-subscribed "
          f"{time.monotonic() - t1:.1f}s after the heal")
    assert framework(hosts, second.name)["id"] == framework_id
    assert leaders(pair) == [("sched2", epoch)]
    until(lambda: [t["id"] for t in second.running("/partition/master")] == [task["id"]], 30,
          what="the same task running")
