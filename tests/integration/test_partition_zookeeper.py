"""Issue 24, rule 5: ZooKeeper split 1 / 2, on a private ``minimesos/up --hosts --masters 3
--zookeepers 3`` cluster (own run dir, ports and /24; one agent, no Docker). Two schedulers of one
framework run on hosts of their own (``sched1``, ``sched2``), with the three servers in ``--zk``
and ``--master zk://.../mesos``; session timeout 4 s.

* The server the leader's session is on is cut from the other two (``net cut zkK zks``): it has no
  quorum and stops serving; the majority keeps serving. The leader's host still reaches the two
  others, so kazoo moves its session there, unexpired: the same leader and epoch throughout, and a
  change is accepted during the split.
* The leader's host on the minority side (``net cut zkK zks`` and the leader cut from the two other
  servers): its session expires on the majority side, where the standby leads with a newer epoch;
  the old leader counts its session lost once it has been suspended for the session timeout, and
  steps down. At no poll is there a leader on each side: at most one scheduler leads and is not
  ``suspended`` (a suspended leader launches, kills and writes nothing).
* Rule 3 on this HA cluster: the leader cut from a master that does not lead keeps its lead; cut
  from the leading master too, it yields to the standby (``--master-yield-after 5s``).
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from .conftest import MINIMESOS, minimesos
from .harness import masters_ready, sleep_app, unique
from .hosts_harness import HostedScheduler, hosted_cluster, says_it_leads
from .v1client import until

pytestmark = pytest.mark.integration

PORT, ZK_PORT, TASK_PORTS = 26750, 14581, 59000
SCHEDULER_PORTS = (PORT + 30, PORT + 31)
# Longer than the harness's 4 s: a ZooKeeper server cut off from its quorum keeps its clients (and
# answers their pings) until it notices, after syncLimit x tickTime (5 x 1 s on minimesos), while
# the majority expires their sessions after the session timeout. A session can move only if the
# session timeout is the longer (ZooKeeper's admin guide: syncLimit bounds how far behind a
# follower may be).
SESSION_TIMEOUT = 10.0
FOLLOWER_NOTICES = 5.0
# the old leader's connection is suspended when its server drops it (or, cut from every server,
# after kazoo's read timeout), and counts as lost the session timeout later; a server that was
# ZooKeeper's leader took 7.7 s to drop its clients (17.7 s seen in all), hence 3 s beyond syncLimit,
# and 2 s for the polling on a busy machine
STEP_DOWN_BOUND = max(SESSION_TIMEOUT * 2 / 3, FOLLOWER_NOTICES + 3) + SESSION_TIMEOUT + 2.0
# the standby leads once the majority has expired the old leader's session: if the server cut off was
# ZooKeeper's leader, the majority first notices (syncLimit x tickTime) and elects another, which
# gives every session a fresh timeout; the election's connection to the silent peer (its packets
# dropped) may wait ZooKeeper's cnxTimeout (5 s) first (26.7 s seen against 23 without it)
ELECTION_CONNECT_TIMEOUT = 5.0
NEW_LEADER_BOUND = FOLLOWER_NOTICES + ELECTION_CONNECT_TIMEOUT + 3 + SESSION_TIMEOUT + 5
YIELD_AFTER = 5.0  # --master-yield-after, for the last test (rule 3 on the HA cluster)
REGISTRY_FETCH_TIMEOUT = 60.0  # Mesos' --registry_fetch_timeout (its default, minimesos keeps it)
HEARTBEAT = 15.0  # Mesos' heartbeat interval for HTTP schedulers; the driver counts two missed
UP = ("up", "--hosts", "--masters", "3", "--zookeepers", "3", "--agents", "1", "--no-docker", "--port", str(PORT),
      "--zk-port", str(ZK_PORT), "--task-ports", str(TASK_PORTS))


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> Iterator[dict]:
    with hosted_cluster(tmp_path_factory.mktemp("partition-zk-run"), UP, ("sched1", "sched2")) as cluster:
        listed = dict(line.split() for line in minimesos("host", "list", env=cluster["env"]).stdout.splitlines())
        yield {**cluster, "listed": listed}


@pytest.fixture(scope="module")
def pair(hosts, tmp_path_factory) -> Iterator[tuple[HostedScheduler, HostedScheduler]]:
    log_dir = tmp_path_factory.mktemp("partition-zk-logs")
    name, chroot = unique("halyard-partition-zk"), unique("halyard-partition-zk")

    def start(k: int) -> HostedScheduler:
        host = f"sched{k}"
        return HostedScheduler(hosts, chroot, name, log_dir, "--zk-session-timeout", f"{SESSION_TIMEOUT:g}s",
                               "--master-yield-after", f"{YIELD_AFTER:g}s",
                               host=host, address=hosts["added"][host], port=SCHEDULER_PORTS[k - 1]).start()

    schedulers = [start(1)]
    try:
        until(schedulers[0].leading, 60, what="sched1 leads")
        schedulers.append(start(2))
        yield schedulers[0], schedulers[1]
    finally:  # the tasks go with the cluster (``down`` ends every process of its run dir)
        subprocess.run([str(MINIMESOS / "net"), "heal"], env={**os.environ, **hosts["env"]}, capture_output=True)
        for s in schedulers:
            s.stop()


def zk_server_of(hosts: dict, s: HostedScheduler) -> str | None:
    """The ZooKeeper host (``zkK``) that ``s``'s session is connected to, from its host's sockets."""
    by_address = {address: name for name, address in hosts["listed"].items() if name.startswith("zk")}
    servers = {hp: by_address[hp.rpartition(":")[0]]
               for hp in hosts["ZK"].removeprefix("zk://").split("/")[0].split(",")}
    out = minimesos("host", "exec", s.host, "--", "ss", "-tnH", "state", "established", env=hosts["env"]).stdout
    for line in out.splitlines():
        if line.split() and line.split()[-1] in servers:
            return servers[line.split()[-1]]
    return None


def subscribed(s: HostedScheduler) -> bool:
    """Whether ``s`` says it is subscribed to a master (``/v2/info`` names the master it uses)."""
    try:
        return bool(requests.get(s.url + "/v2/info", timeout=5).json()["marathon_config"]["mesos_leader_ui_url"])
    except (requests.RequestException, ValueError, KeyError):
        return False


def acting(pair: tuple[HostedScheduler, ...]) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(every scheduler that says it leads, those of them not suspended), as (host, epoch)."""
    leading, not_suspended = [], []
    for s in pair:
        try:
            stats = s.stats()
        except (requests.RequestException, ValueError):
            continue
        if stats["leader"]:
            leading.append((s.host, stats["epoch"]))
            if not stats["suspended"]:
                not_suspended.append((s.host, stats["epoch"]))
    return leading, not_suspended


def test_a_leaders_session_on_the_minority_server_moves_to_the_majority(hosts, pair):
    first, second = pair
    assert first.post_app(sleep_app("/partition/zk", 1)).status_code == 201
    (task,) = until(lambda: first.running("/partition/zk"), 60, what="the task running")
    epoch = first.stats()["epoch"]
    server = until(lambda: zk_server_of(hosts, first), 10, what="the leader's ZooKeeper server")

    minimesos("net", "cut", server, "zks", env=hosts["env"])
    t0 = time.monotonic()
    moved = until(lambda: (zk_server_of(hosts, first) or server) != server and zk_server_of(hosts, first), 30,
                  interval=0.2, what="the session on another server")
    took = time.monotonic() - t0
    response = until(lambda: first.post_app(sleep_app("/partition/zk-during", 1)), 30,
                     what="a change accepted during the split")
    assert response.status_code == 201, response.text
    seen = []
    deadline = time.monotonic() + 2 * SESSION_TIMEOUT
    while time.monotonic() < deadline:
        seen.append(acting(pair)[0])
        time.sleep(0.5)
    print(f"\nFIGURE ZooKeeper split, the leader's server {server} in the minority: its session moved to "
          f"{moved} after {took:.1f}s; the same leader and epoch")
    assert all(s == [("sched1", epoch)] for s in seen), [s for s in seen if s != [("sched1", epoch)]]
    minimesos("net", "heal", env=hosts["env"])
    assert first.leading() and first.stats()["epoch"] == epoch and not second.leading()
    assert [t["id"] for t in first.running("/partition/zk")] == [task["id"]]


def test_a_leader_on_the_minority_side_loses_the_lead_and_there_is_never_one_on_each_side(hosts, pair):
    # whichever leads (sched1, unless the test before failed): this test does not hang on it
    first = until(lambda: next((s for s in pair if s.leading()), None), 30, what="a leader")
    second = next(s for s in pair if s is not first)
    epoch = first.stats()["epoch"]
    (task,) = first.running("/partition/zk")
    server = until(lambda: zk_server_of(hosts, first), 10, what="the leader's ZooKeeper server")
    others = [f"zk{k}" for k in (1, 2, 3) if f"zk{k}" != server]
    zk_leader = "zk" + minimesos("zk", "leader", env=hosts["env"]).stdout.strip()

    minimesos("net", "cut", server, "zks", env=hosts["env"])
    for other in others:
        minimesos("net", "cut", first.host, other, env=hosts["env"])
    t0 = time.monotonic()
    new_leader = stepped_down = None
    polls = []
    while time.monotonic() - t0 < NEW_LEADER_BOUND + 4 and (new_leader is None or stepped_down is None):
        leading, not_suspended = acting(pair)
        polls.append((round(time.monotonic() - t0, 1), leading, not_suspended))
        assert len(not_suspended) <= 1, polls  # never a leader on each side
        if new_leader is None and any(host == second.host and e > epoch for host, e in leading):
            new_leader = time.monotonic() - t0
        if stepped_down is None and says_it_leads(first) is False:
            stepped_down = time.monotonic() - t0
        time.sleep(0.2)
    changes = [p for k, p in enumerate(polls) if k == 0 or p[1:] != polls[k - 1][1:]]
    assert new_leader is not None and new_leader <= NEW_LEADER_BOUND, changes
    assert stepped_down is not None and stepped_down <= STEP_DOWN_BOUND, changes
    print(f"\nFIGURE ZooKeeper split, the leader on the minority side: the standby led after {new_leader:.1f}s, "
          f"the old leader stepped down after {stepped_down:.1f}s (suspended meanwhile; its server {server}, "
          f"ZooKeeper's leader {zk_leader})")
    minimesos("net", "heal", env=hosts["env"])
    until(lambda: not first.leading() and second.leading(), 30, what=f"one leader, {second.host}")
    assert second.stats()["epoch"] > epoch
    until(lambda: [t["id"] for t in second.running("/partition/zk")] == [task["id"]], 60, what="the same task")


def test_rule_3_on_ha_a_leader_cut_from_the_leading_master_yields_one_cut_from_another_does_not(hosts, pair):
    """Issue 24, rule 3, on the HA cluster: the leader cut from a master that does not lead keeps
    its subscription and its lead; cut from the leading master too (``--master zk://``: the one it
    subscribes to), it yields to the standby, which reaches it, after two missed heartbeats and
    ``--master-yield-after``."""
    # the split may have cost a master its ZooKeeper session (5 s on minimesos, shorter than the
    # cut-off server took to let its clients go): a master without one exits by design, for its
    # supervisor (here: this test) to start again
    status = subprocess.run([str(MINIMESOS / "status")], capture_output=True, text=True, timeout=60,
                            env={**os.environ, **hosts["env"]}).stdout
    if any(line.startswith("master") and "stopped" in line for line in status.splitlines()):
        minimesos("master", "start", env=hosts["env"], timeout=120)
    until(lambda: masters_ready(hosts), 60, what="every master up, its log replica caught up")
    # a master elected just after the split may not recover the registry (its replicas were
    # restarting) within Mesos' --registry_fetch_timeout (1 min): it exits and another is elected
    # (53 s without a subscription seen once); so: whichever scheduler leads once one is subscribed
    leader = until(lambda: next((s for s in pair if s.leading() and subscribed(s)), None),
                   REGISTRY_FETCH_TIMEOUT + 60, interval=0.5, what="a leader subscribed to a master")
    standby = next(s for s in pair if s is not leader)
    epoch = leader.stats()["epoch"]
    (task,) = leader.running("/partition/zk")
    leading_master = int(minimesos("master", "leader", env=hosts["env"]).stdout.strip())
    other_master = next(k for k in (1, 2, 3) if k != leading_master)

    minimesos("net", "cut", leader.host, f"master{other_master}", env=hosts["env"])
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen.append(acting(pair)[0])
        time.sleep(0.5)
    assert all(s == [(leader.host, epoch)] for s in seen), seen

    minimesos("net", "cut", leader.host, f"master{leading_master}", env=hosts["env"])
    t0 = time.monotonic()
    until(standby.leading, 2 * HEARTBEAT + YIELD_AFTER + 20, interval=0.5, what="the standby leads")
    took = time.monotonic() - t0
    print(f"\nFIGURE HA, the leader cut from the leading master (and another): the standby leads after {took:.1f}s")
    # not before the driver could notice: two heartbeat intervals after the master was last heard,
    # which is at most one interval before the cut
    assert took >= HEARTBEAT + YIELD_AFTER - 3
    assert standby.stats()["epoch"] > epoch and not leader.leading()
    until(lambda: [t["id"] for t in standby.running("/partition/zk")] == [task["id"]], 60, what="the same task")
    minimesos("net", "heal", env=hosts["env"])
    after = []
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        after.append(acting(pair)[0])
        time.sleep(0.5)
    assert all(s == [(standby.host, standby.stats()["epoch"])] for s in after), after  # no flapping back
