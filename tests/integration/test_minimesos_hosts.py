"""``minimesos/up --hosts`` on a private cluster of its own (own run dir, ports and /24), beside the
shared one: every member in its own network namespace, each agent with its own dockerd there,
``host add/exec/list``, ``net cut/heal/show`` observed as TCP connections that fail both ways and
work again, a ``--for`` cut that heals itself after its caller exited, and ``down`` leaving no
namespace, bridge, veth, rule or timer."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .conftest import MINIMESOS, minimesos, read_env
from .v1client import until

sys.path.insert(0, str(MINIMESOS))
import netplan  # noqa: E402
from procs import start_time  # noqa: E402

pytestmark = pytest.mark.integration

PORT, ZK_PORT, TASK_PORTS = 16650, 12681, 46000
UP = ("up", "--hosts", "--agents", "2", "--port", str(PORT), "--zk-port", str(ZK_PORT), "--task-ports", str(TASK_PORTS))
NET = netplan.subnet(PORT)
ADDR = {h.name: h.address for h in netplan.plan(PORT, 1, 1, 2)}
PREFIX = f"mm{PORT}"
CONNECT = ("import socket, sys\n"
           "try:\n    socket.create_connection((sys.argv[1], int(sys.argv[2])), 1.0).close(); print('open')\n"
           "except OSError as exc:\n    print('closed', exc)\n")
ZK_CLIENT = ("import sys\nfrom kazoo.client import KazooClient\n"
             "zk = KazooClient(hosts=sys.argv[1], timeout=5); zk.start(timeout=10)\n"
             "zk.create('/hosts-test/sched', b'here', makepath=True, ephemeral=True)\n"
             "print(zk.client_id[0] != 0, zk.get('/hosts-test/sched')[0].decode()); zk.stop()\n")


def root_rules() -> str:
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout


def ours() -> list[str]:
    """This cluster's namespaces and interfaces, as the kernel lists them."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.split("\n")
    return [line for line in netns + links if PREFIX in line]


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> Iterator[dict]:
    run = tmp_path_factory.mktemp("hosts-run")
    env = {"MINIMESOS_RUN_DIR": str(run)}
    t0 = time.monotonic()
    try:
        minimesos(*UP, env=env, timeout=600)
    except AssertionError:
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **env}, capture_output=True, timeout=300)
        raise
    print(f"\nFIGURE up --hosts (1 ZooKeeper, 1 master, 2 agents with a dockerd each): {time.monotonic() - t0:.1f}s")
    try:
        yield {**read_env(run / "cluster.env"), "RUN_DIR": run, "env": env}
    finally:
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **env}, capture_output=True, timeout=300)


def mm(h: dict, *args: str) -> str:
    return minimesos(*args, env=h["env"], timeout=120).stdout


def connects(h: dict, host: str, target: str, port: int) -> bool:
    """Whether a TCP connection from ``host`` to ``target``'s ``port`` opens within a second."""
    out = mm(h, "host", "exec", host, "--", "/usr/bin/python3", "-c", CONNECT, ADDR[target], str(port))
    return out.startswith("open")


def test_every_member_has_its_own_address_and_cluster_env_names_them(hosts):
    assert hosts["MESOS_MASTER"] == f"http://{ADDR['master1']}:{PORT}"
    assert hosts["ZK"] == f"zk://{ADDR['zk1']}:{ZK_PORT}"
    assert hosts["MESOS_AGENT2"] == f"http://{ADDR['agent2']}:{PORT + 2}"
    listed = dict(line.split() for line in mm(hosts, "host", "list").splitlines())
    assert listed == ADDR
    assert all(a.startswith(str(NET.network_address)[:-1]) for a in listed.values())
    # the root namespace reaches every host; the agents registered under their hosts' addresses
    slaves = requests.get(f"{hosts['MESOS_MASTER']}/master/slaves", timeout=5).json()["slaves"]
    assert sorted(s["hostname"] for s in slaves) == [ADDR["agent1"], ADDR["agent2"]]
    # nothing listens for this cluster on the root side except the registry (on the bridge's address)
    assert hosts["REGISTRY"] == f"{netplan.gateway(PORT)}:{PORT - 50}"
    status = mm(hosts, "status")
    assert f"host agent1       {ADDR['agent1']}" in status and "cuts: none" in status
    # a host has no route off its /24: nothing leaves the machine
    route = subprocess.run([str(MINIMESOS / "host"), "exec", "agent1", "--", "ip", "route"], capture_output=True,
                           text=True, env={**os.environ, **hosts["env"]}).stdout
    assert route.split()[0] == str(NET) and "default" not in route


def test_a_host_networked_docker_container_is_on_its_agents_host(hosts):
    """Each agent host's own dockerd: ``--net=host`` is the agent's namespace, so a cut applies."""
    for k in (1, 2):
        out = subprocess.run(["docker", "-H", f"unix:///run/minimesos-{PORT}/agent{k}/docker.sock", "run", "--rm",
                              "--net=host", "local/busybox:1", "ip", "-4", "-o", "addr"],
                             capture_output=True, text=True, timeout=60)
        assert f"inet {ADDR[f'agent{k}']}/24" in out.stdout, out.stderr


def test_a_scheduler_on_an_added_host_reaches_zookeeper(hosts):
    assert mm(hosts, "host", "add", "sched1").split() == ["sched1", str(NET.network_address + 200)]
    ADDR["sched1"] = str(NET.network_address + 200)
    assert "sched1" in mm(hosts, "host", "list")
    out = mm(hosts, "host", "exec", "sched1", "--", "/usr/bin/python3", "-c", ZK_CLIENT, f"{ADDR['zk1']}:{ZK_PORT}")
    assert out.split() == ["True", "here"]
    ip = mm(hosts, "host", "exec", "sched1", "--", "ip", "-4", "-o", "addr", "show", "eth0")
    assert f"inet {ADDR['sched1']}/24" in ip


def test_cut_drops_traffic_both_ways_only_between_its_hosts_and_heal_restores_it(hosts):
    assert connects(hosts, "agent1", "master1", PORT)
    assert "agent1-master1" in mm(hosts, "net", "cut", "agent1", "masters")
    try:
        assert "agent1 | masters: agent1-master1" in mm(hosts, "net", "show")
        assert not connects(hosts, "agent1", "master1", PORT)
        assert not connects(hosts, "master1", "agent1", PORT + 1)
        assert connects(hosts, "agent2", "master1", PORT) and connects(hosts, "agent1", "zk1", ZK_PORT)
        assert requests.get(f"{hosts['MESOS_AGENT1']}/state", timeout=5).ok  # the root still reaches it
        container = subprocess.run(["docker", "-H", f"unix:///run/minimesos-{PORT}/agent1/docker.sock", "run",
                                    "--rm", "--net=host", "local/busybox:1", "wget", "-T", "2", "-q", "-O", "-",
                                    f"{hosts['MESOS_MASTER']}/health"], capture_output=True, text=True, timeout=60)
        assert container.returncode != 0  # agent1's containers are cut off with it
    finally:
        assert "agent1-master1" in mm(hosts, "net", "heal", "agent1", "masters")
    assert mm(hosts, "net", "show").strip() == "no cuts"
    assert connects(hosts, "agent1", "master1", PORT) and connects(hosts, "master1", "agent1", PORT + 1)


def test_a_cut_for_seconds_heals_itself_after_its_caller_exited(hosts):
    t0 = time.monotonic()
    mm(hosts, "net", "cut", "agents", "zks", "--for", "6")  # the command has exited when this returns
    state = json.loads((hosts["RUN_DIR"] / "hosts.json").read_text())
    (cut,) = state["cuts"]
    assert sorted(map(tuple, cut["pairs"])) == [("agent1", "zk1"), ("agent2", "zk1")]
    timer = cut["timer"]
    assert start_time(timer["pid"]) == timer["start"]
    assert not connects(hosts, "agent2", "zk1", ZK_PORT)
    until(lambda: mm(hosts, "net", "show").strip() == "no cuts", 20, what="the --for cut healed")
    assert 6 <= time.monotonic() - t0 < 20  # each `net show` takes a second or more on a busy machine
    assert connects(hosts, "agent2", "zk1", ZK_PORT)
    until(lambda: start_time(timer["pid"]) != timer["start"], 5, what="the timer exited")


def test_down_removes_every_namespace_bridge_rule_and_timer_it_made(hosts):
    mm(hosts, "net", "cut", "all", "all", "--for", "300")
    timer = json.loads((hosts["RUN_DIR"] / "hosts.json").read_text())["cuts"][0]["timer"]
    assert len(ours()) == 5 + 5 + 1  # 5 namespaces, their 5 veths and the bridge
    mm(hosts, "down")
    assert ours() == []
    assert not any(Path("/run/netns").glob(f"{PREFIX}-*"))
    # the root's firewall never held a rule of ours (the cuts live in the namespaces' own tables)
    root = root_rules()
    assert "MINIMESOS" not in root and str(NET.network_address)[:-1] not in root
    assert start_time(timer["pid"]) != timer["start"]
    assert not Path(f"/run/minimesos-{PORT}").exists()
