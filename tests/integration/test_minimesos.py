"""The local cluster itself: real Mesos master and agents, real ZooKeeper, real Docker."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
from kazoo.client import KazooClient

from .conftest import MINIMESOS, minimesos, read_env
from .harness import processes_mentioning, running_pid
from .v1client import TERMINAL, V1Scheduler, until

pytestmark = pytest.mark.integration
IMAGE = "local/busybox:1"


def slaves(env) -> dict[str, dict]:
    data = requests.get(env["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"]
    return {s["hostname"]: s for s in data}


def active(env) -> set[str]:
    return {h for h, s in slaves(env).items() if s["active"]}


def docker_ps(env, *extra: str) -> list[str]:
    out = subprocess.run(["/usr/bin/docker", "-H", env["DOCKER_HOST"], "ps", "--format", "{{.ID}} {{.Names}}", *extra],
                         capture_output=True, text=True, check=True).stdout
    return out.split("\n")[:-1] if out else []


@pytest.fixture
def scheduler(cluster):
    s = V1Scheduler(cluster["MESOS_MASTER"])
    yield s
    s.teardown()


def test_agents_register_with_distinct_hostnames_port_ranges_and_attributes(cluster):
    agents = slaves(cluster)
    assert set(agents) == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}
    ranges = {h: s["resources"]["ports"] for h, s in agents.items()}
    assert ranges == {"127.0.0.1": "[31000-31999]", "127.0.0.2": "[32000-32999]", "127.0.0.3": "[33000-33999]"}
    reserved = Path("/proc/sys/net/ipv4/ip_local_reserved_ports").read_text()
    assert "31000-33999" in reserved, reserved  # the kernel lends none of them to outgoing connections
    assert {s["attributes"]["rack_id"] for s in agents.values()} == {"rack-1", "rack-2"}
    zones = {s["domain"]["fault_domain"]["zone"]["name"] for s in agents.values()}
    assert zones == {"zone-a", "zone-b", "zone-c"}
    assert all(s["pid"].startswith(f"slave(1)@{h}:") for h, s in agents.items())


def test_command_task_and_docker_task_run_and_finish(scheduler):
    seen: list = []
    cmd = scheduler.launch(scheduler.offer_from("127.0.0.2"), "sleep 1")
    scheduler.wait_state(cmd, {"TASK_RUNNING"}, seen=seen)
    assert scheduler.wait_state(cmd, {"TASK_FINISHED", "TASK_FAILED"}, seen=seen)["state"] == "TASK_FINISHED"

    offer = scheduler.offer_from("127.0.0.3")
    t0 = time.monotonic()
    task = scheduler.launch(offer, "sleep 1", image=IMAGE)
    scheduler.wait_state(task, {"TASK_RUNNING"}, seen=seen)
    print(f"\nFIGURE docker ACCEPT->TASK_RUNNING: {time.monotonic() - t0:.2f}s")
    assert scheduler.wait_state(task, TERMINAL, seen=seen)["state"] == "TASK_FINISHED"
    assert (task, "TASK_STARTING") in seen and (cmd, "TASK_STARTING") in seen

    bad = scheduler.launch(scheduler.offer_from("127.0.0.3"), "exit 3", image=IMAGE)
    failed = scheduler.wait_state(bad, TERMINAL)
    assert failed["state"] == "TASK_FAILED" and "3" in failed.get("message", "")


def test_host_networked_task_answers_at_its_agent_hostname_and_port(scheduler):
    offer = scheduler.offer_from("127.0.0.2")
    port = 32042
    task = scheduler.launch(offer, f"echo hello > /tmp/index.html && exec httpd -f -p {port} -h /tmp",
                            image=IMAGE, ports=(port, port))
    scheduler.wait_state(task, {"TASK_RUNNING"})
    body = until(lambda: requests.get(f"http://127.0.0.2:{port}/", timeout=1).text, 20, what="httpd answers")
    assert body.strip() == "hello"
    scheduler.kill(task, offer["agent_id"])
    assert scheduler.wait_state(task, TERMINAL)["state"] == "TASK_KILLED"


def test_agent_restart_recovers_a_running_docker_task(cluster, scheduler):
    offer = scheduler.offer_from("127.0.0.2")
    agent_id = offer["agent_id"]
    task = scheduler.launch(offer, "sleep 3600", image=IMAGE)
    scheduler.wait_state(task, {"TASK_RUNNING"})
    before = docker_ps(cluster)
    assert len([c for c in before if "mesos-" in c]) >= 1
    pid_before = json.loads((MINIMESOS / ".run" / "pids" / "agent2.pid").read_text())["pid"]

    minimesos("agent", "restart", "2")
    pid_after = json.loads((MINIMESOS / ".run" / "pids" / "agent2.pid").read_text())["pid"]
    assert pid_after != pid_before
    until(lambda: slaves(cluster)["127.0.0.2"]["active"], 60, what="agent 2 re-registered")
    assert slaves(cluster)["127.0.0.2"]["id"] == agent_id["value"]  # recovered, not a new agent

    seen: list = []
    scheduler.reconcile(task, agent_id)
    assert scheduler.wait_state(task, {"TASK_RUNNING"} | TERMINAL, seen=seen)["state"] == "TASK_RUNNING"
    assert docker_ps(cluster) == before  # the same container kept running
    scheduler.kill(task, agent_id)
    assert scheduler.wait_state(task, TERMINAL, seen=seen)["state"] == "TASK_KILLED"


def test_agent_stop_takes_the_node_down_and_start_brings_it_back(cluster):
    minimesos("agent", "stop", "3")
    until(lambda: "127.0.0.3" not in active(cluster), 30, what="master notices agent 3 is gone")
    assert active(cluster) == {"127.0.0.1", "127.0.0.2"}
    minimesos("agent", "start", "3")
    until(lambda: active(cluster) == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}, 60, what="agent 3 back")


def _announced(zk_hosts: str) -> dict:
    zk = KazooClient(hosts=zk_hosts, timeout=5)
    zk.start(timeout=10)
    try:
        children = sorted(c for c in zk.get_children("/mesos") if c.startswith("json.info_"))
        assert len(children) == 1, children
        return json.loads(zk.get(f"/mesos/{children[0]}")[0])
    finally:
        zk.stop()


def test_master_is_announced_in_zookeeper_and_zk_restart_keeps_sessions(cluster):
    zk_hosts = cluster["ZK"].removeprefix("zk://")
    info = _announced(zk_hosts)
    state = requests.get(cluster["MESOS_MASTER"] + "/master/state", timeout=5).json()
    assert info["id"] == state["id"] and info["address"] == {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": 5050}
    minimesos("zk", "restart")
    # The announcer's ephemeral node belongs to a session that outlives a short ZooKeeper restart.
    assert until(lambda: _announced(zk_hosts)["id"] == state["id"], 30, what="announcement after zk restart")


def test_master_restart_keeps_its_registry_and_is_announced_again(cluster):
    before = {h: s["id"] for h, s in slaves(cluster).items()}
    old = requests.get(cluster["MESOS_MASTER"] + "/master/state", timeout=5).json()["id"]
    minimesos("master", "restart")
    new = requests.get(cluster["MESOS_MASTER"] + "/master/state", timeout=5).json()["id"]
    assert new != old
    until(lambda: {h: s["id"] for h, s in slaves(cluster).items() if s["active"]} == before, 90,
          what="agents re-registered with their old ids")
    zk_hosts = cluster["ZK"].removeprefix("zk://")
    until(lambda: _announced(zk_hosts)["id"] == new, 30, what="new master announced")


def test_down_leaves_no_process_container_mount_or_port(tmp_path):
    run = tmp_path / "run"
    env = {"MINIMESOS_RUN_DIR": str(run)}
    try:
        minimesos("up", "--agents", "1", "--port", "15050", "--zk-port", "12181", env=env)
    except AssertionError:
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **env}, capture_output=True, timeout=300)
        raise  # what a failed up started is stopped: the machine is left clean for the next run
    cluster = read_env(run / "cluster.env")
    s = V1Scheduler(cluster["MESOS_MASTER"])
    try:
        task = s.launch(s.offer_from(), "sleep 3600", image=IMAGE)
        s.wait_state(task, {"TASK_RUNNING"})
        assert docker_ps(cluster)
    finally:
        s.close()  # no teardown: down must clean up a busy cluster
    pids = [json.loads(p.read_text())["pid"] for p in (run / "pids").glob("*.pid")]
    assert len(pids) == 6  # zk, dockerd, registry, master, agent1, announcer

    minimesos("down", env=env)
    assert [pid for pid in pids if running_pid(pid)] == []
    mounts = Path("/proc/mounts").read_text()
    assert str(run) not in mounts and "/run/minimesos-15050" not in mounts
    assert processes_mentioning(str(run)) == [] and processes_mentioning("minimesos-15050") == []
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    for port in ("15050", "15051", "12181", "15000"):  # 15000: its registry (master port - 50)
        assert f":{port} " not in listening, listening
    assert not os.path.exists("/run/minimesos-15050/docker.sock")
