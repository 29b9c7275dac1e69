"""The HA control plane, on a private cluster of its own: ``minimesos/up --masters 3 --zookeepers 3
--agents 2`` (own run dir and ports, no Docker), so it runs beside the shared test cluster.

Three ZooKeeper servers form an ensemble; three real mesos-masters contend through ZooKeeper at
``/mesos`` and share a replicated-log registry (quorum 2); the agents follow the leader that
ZooKeeper names. Killing the leading master (SIGKILL: its ZooKeeper session lingers until it
times out) elects another, with which the agents re-register under their old ids; killing
ZooKeeper's leader elects another server and the masters keep a leader.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from kazoo.client import KazooClient

from .conftest import MINIMESOS, minimesos, read_env
from .harness import processes_mentioning, running_pid
from .v1client import until

pytestmark = pytest.mark.integration

PORT, ZK_PORT, TASK_PORTS = 16550, 12581, 45000
MASTER_PORTS = [PORT, PORT + 100, PORT + 200]
ZK_HOSTS = ",".join(f"127.0.0.1:{ZK_PORT + i}" for i in range(3))
UP = ("up", "--masters", "3", "--zookeepers", "3", "--agents", "2", "--no-docker",
      "--port", str(PORT), "--zk-port", str(ZK_PORT), "--task-ports", str(TASK_PORTS))
SESSION_TIMEOUT = 5.0  # the cluster's zk_session_timeout (minimesos' HA default)
FAILOVER_WITHIN = 30.0  # seconds from SIGKILL of the leader to a new leader with every agent


@pytest.fixture(scope="module")
def ha(tmp_path_factory) -> Iterator[dict]:
    """The private cluster: its cluster.env, with RUN_DIR and the env to run minimesos with."""
    run = tmp_path_factory.mktemp("ha-run")
    env = {"MINIMESOS_RUN_DIR": str(run)}
    t0 = time.monotonic()
    try:
        minimesos(*UP, env=env, timeout=600)
    except AssertionError:
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **env}, capture_output=True, timeout=300)
        raise
    print(f"\nFIGURE HA up (3 ZooKeeper, 3 masters, 2 agents, installed): {time.monotonic() - t0:.1f}s")
    try:
        yield {**read_env(run / "cluster.env"), "RUN_DIR": run, "env": env}
    finally:
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **env}, capture_output=True, timeout=300)


def mm(ha: dict, *args: str) -> str:
    return minimesos(*args, env=ha["env"], timeout=120).stdout


def status(ha: dict) -> tuple[int, str]:
    """``minimesos/status``: its exit code (1 while a member is stopped) and its output."""
    proc = subprocess.run([str(MINIMESOS / "status")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **ha["env"]})
    return proc.returncode, proc.stdout


def own_state(port: int) -> requests.Response:
    """A master's own answer to /master/state (a standby redirects: 307 to the leader)."""
    return requests.get(f"http://127.0.0.1:{port}/master/state", timeout=5, allow_redirects=False)


def leaders() -> list[int]:
    """The numbers of the masters that answer /master/state themselves, naming themselves leader."""
    found = []
    for k, port in enumerate(MASTER_PORTS, start=1):
        try:
            resp = own_state(port)
        except requests.ConnectionError:
            continue
        if resp.status_code == 200 and resp.json()["leader"] == resp.json()["pid"]:
            found.append(k)
    return found


def one_leader() -> int | None:
    found = leaders()
    assert len(found) <= 1, f"more than one master leads: {found}"
    return found[0] if found else None


def agent_ids(leader: int) -> dict[str, str]:
    """Active agents' ids by hostname, as the leading master has them."""
    slaves = requests.get(f"http://127.0.0.1:{MASTER_PORTS[leader - 1]}/master/slaves", timeout=5).json()["slaves"]
    return {s["hostname"]: s["id"] for s in slaves if s["active"]}


def zk_children(path: str) -> list[str]:
    zk = KazooClient(hosts=ZK_HOSTS, timeout=5)
    zk.start(timeout=15)
    try:
        return sorted(zk.get_children(path))
    finally:
        zk.stop()
        zk.close()


def srvr_mode(port: int) -> str | None:
    try:
        out = subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}; printf srvr >&3; cat <&3"],
                             capture_output=True, text=True, timeout=5).stdout
    except subprocess.TimeoutExpired:
        return None
    found = re.search(r"^Mode: (\w+)", out, re.M)
    return found.group(1) if found else None


def pid_of(ha: dict, name: str) -> int:
    return json.loads((ha["RUN_DIR"] / "pids" / f"{name}.pid").read_text())["pid"]


def test_up_elects_exactly_one_master_through_zookeeper(ha):
    assert ha["MESOS_MASTER"] == f"zk://{ZK_HOSTS}/mesos" == ha["MESOS_MASTER_ZK"]
    assert ha["ZK"] == f"zk://{ZK_HOSTS}" and ha["ZOOKEEPERS"] == ZK_HOSTS
    assert ha["MASTERS"] == ",".join(f"http://127.0.0.1:{p}" for p in MASTER_PORTS)

    leader = until(one_leader, 30, what="a leading master")
    assert mm(ha, "master", "leader").strip() == str(leader)
    leader_pid = f"master@127.0.0.1:{MASTER_PORTS[leader - 1]}"
    for k, port in enumerate(MASTER_PORTS, start=1):
        redirect = requests.get(f"http://127.0.0.1:{port}/master/redirect", timeout=5, allow_redirects=False)
        assert redirect.status_code == 307 and redirect.headers["Location"] == f"//127.0.0.1:{MASTER_PORTS[leader - 1]}"
        if k != leader:  # a standby sends every state request to the leader
            resp = own_state(port)
            assert resp.status_code == 307 and f"127.0.0.1:{MASTER_PORTS[leader - 1]}" in resp.headers["Location"]
    state = own_state(MASTER_PORTS[leader - 1]).json()
    assert state["leader"] == leader_pid and state["elected_time"] > 0
    flags = state["flags"]
    assert flags["zk"] == ha["MESOS_MASTER"] and flags["quorum"] == "2" and flags["registry"] == "replicated_log"
    assert flags["work_dir"] == str(ha["RUN_DIR"] / f"master{leader}")

    # The election is ZooKeeper's: every master is a candidate (an ephemeral sequential json.info_
    # node), the lowest leads; every master's log replica is a member of /mesos/log_replicas.
    candidates = [c for c in zk_children("/mesos") if c.startswith("json.info_")]
    assert len(candidates) == 3, candidates
    assert len(zk_children("/mesos/log_replicas")) == 3
    assert until(lambda: set(agent_ids(leader)) == {"127.0.0.1", "127.0.0.2"}, 30, what="both agents registered")

    modes = {i: srvr_mode(ZK_PORT + i - 1) for i in (1, 2, 3)}
    assert sorted(modes.values()) == ["follower", "follower", "leader"], modes
    assert mm(ha, "zk", "leader").strip() == str([i for i, m in modes.items() if m == "leader"][0])


def test_status_shows_every_member_the_leader_and_the_quorum(ha):
    leader = until(one_leader, 30, what="a leading master")
    lines = mm(ha, "status").splitlines()
    by_name = {line.split()[0]: line for line in lines}
    for name in ("zk1", "zk2", "zk3", "master1", "master2", "master3", "agent1", "agent2"):
        assert "running (pid" in by_name[name], lines
    assert [n for n in ("master1", "master2", "master3") if by_name[n].endswith("LEADING")] == [f"master{leader}"]
    assert sum(by_name[n].endswith("standby") for n in ("master1", "master2", "master3")) == 2
    assert sorted(by_name[f"zk{i}"].split()[-1] for i in (1, 2, 3)) == ["follower", "follower", "leader"]
    assert any(line.startswith("zookeeper  quorum: 3 of 3 servers serving (a quorum is 2); leader zk")
               for line in lines), lines
    assert f"leading master: master{leader} http://127.0.0.1:{MASTER_PORTS[leader - 1]}" in "\n".join(lines)
    assert "registered agents: 127.0.0.1, 127.0.0.2" in lines


def test_killing_the_leading_master_elects_another_and_the_agents_reregister(ha):
    old = until(one_leader, 30, what="a leading master")
    ids = until(lambda: (lambda a: a if len(a) == 2 else None)(agent_ids(old)), 30, what="both agents registered")
    old_pid = pid_of(ha, f"master{old}")

    t0 = time.monotonic()
    mm(ha, "master", "kill")  # no number: the leading one
    assert not running_pid(old_pid)
    new = until(lambda: (lambda k: k if k not in (None, old) else None)(one_leader()), FAILOVER_WITHIN,
                interval=0.1, what="another master elected")
    elected = time.monotonic() - t0
    until(lambda: agent_ids(new) == ids, FAILOVER_WITHIN, interval=0.1, what="agents re-registered, same ids")
    reregistered = time.monotonic() - t0
    print(f"\nFIGURE master SIGKILL -> new leader: {elected:.1f}s, agents re-registered: {reregistered:.1f}s "
          f"(ZooKeeper session timeout {SESSION_TIMEOUT:.0f}s)")
    assert elected >= SESSION_TIMEOUT * 0.5  # the dead leader's znode went with its session, not before
    assert mm(ha, "master", "leader").strip() == str(new)
    assert len([c for c in zk_children("/mesos") if c.startswith("json.info_")]) == 2

    # The killed master comes back on its work dir as a standby; the leader stays.
    mm(ha, "master", "start", str(old))
    until(lambda: len([c for c in zk_children("/mesos") if c.startswith("json.info_")]) == 3, 30,
          what="the restarted master is a candidate again")
    assert one_leader() == new and own_state(MASTER_PORTS[old - 1]).status_code == 307


def test_killing_the_zookeeper_leader_elects_another_and_the_masters_keep_a_leader(ha):
    master = until(one_leader, 30, what="a leading master")
    zk_old = int(mm(ha, "zk", "leader"))
    zk_pid = pid_of(ha, f"zk{zk_old}")

    t0 = time.monotonic()
    mm(ha, "zk", "kill")  # no number: the leading one
    assert not running_pid(zk_pid)
    zk_new = until(lambda: int(mm(ha, "zk", "leader")), 30, what="ZooKeeper elects another leader")
    print(f"\nFIGURE ZooKeeper leader SIGKILL -> new ZooKeeper leader: {time.monotonic() - t0:.1f}s")
    assert zk_new != zk_old
    # The masters' sessions move to the servers left (a quorum of 2): a master still leads, and the
    # agents stay registered with it.
    still = until(one_leader, 30, what="a leading master after ZooKeeper's failover")
    until(lambda: len(agent_ids(still)) == 2, 30, what="agents registered with the leading master")
    print(f"FIGURE leading master before/after ZooKeeper failover: master{master} / master{still}")
    code, out = status(ha)
    assert code == 1 and f"zk{zk_old}        stopped" in out  # a member is down: status says so
    assert "quorum: 2 of 3 servers serving (a quorum is 2)" in out

    mm(ha, "zk", "start")  # no number: every stopped server
    assert srvr_mode(ZK_PORT + zk_old - 1) == "follower"
    assert "quorum: 3 of 3 servers serving" in status(ha)[1]


def test_down_leaves_no_process_or_port(ha):
    run: Path = ha["RUN_DIR"]
    pids = [json.loads(p.read_text())["pid"] for p in (run / "pids").glob("*.pid")]
    assert len(pids) == 8  # 3 ZooKeeper servers, 3 masters, 2 agents
    mm(ha, "down")
    assert [pid for pid in pids if running_pid(pid)] == []
    assert processes_mentioning(str(run)) == []
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    ports = MASTER_PORTS + [PORT + 1, PORT + 2] + [ZK_PORT + off + i for off in (0, 1000, 2000) for i in range(3)]
    for port in ports:
        assert f":{port} " not in listening, (port, listening)
    assert not (run / "cluster.json").exists()
