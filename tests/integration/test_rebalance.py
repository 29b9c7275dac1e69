"""``halyard rebalance`` on a real cluster of its own (agents are stopped and started, so never the
shared one): a spread app placed while agent 3 was down moves to 2/2/2 once it is back, health-gated
(a probe never sees fewer than minimumHealthCapacity x instances healthy), and a second run plans
nothing; a binpack app consolidates off a half-empty agent, and its dry run changes nothing. The
scheduler's --rebalance-on-agent-join runs when agent 3 comes back.
"""
from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Iterator, Optional

import pytest
import requests

from .conftest import MINIMESOS, minimesos, read_env
from .harness import cli, leading_scheduler, unique
from .v1client import until

pytestmark = pytest.mark.integration

RUN_DIR = "/tmp/wt-rebal-run"
ENV = {"MINIMESOS_RUN_DIR": RUN_DIR}
UP = ("up", "--agents", "3", "--no-docker", "--port", "15250", "--zk-port", "12381", "--task-ports", "41000")
PROBE_EVERY = 0.2
MEASURED: dict[str, float] = {}  # figures for the closing note (printed with -s)


@pytest.fixture(scope="module")
def private() -> Iterator[dict[str, str]]:
    """A 3-agent cluster of this module's own, down at the end (also when up fails)."""
    try:
        minimesos(*UP, env=ENV)
        env = read_env(Path(RUN_DIR) / "cluster.env")
        requests.get(env["MESOS_MASTER"] + "/master/state", timeout=5).raise_for_status()
        yield env
    finally:
        subprocess.run([str(MINIMESOS / "down")], env={**__import__("os").environ, **ENV}, capture_output=True,
                       timeout=300)


@pytest.fixture(scope="module")
def sched(private, tmp_path_factory):
    """With --rebalance-on-agent-join: its runs use the default --min-age (300 s), so on these young
    instances they plan nothing; test a checks that one ran when agent 3 came back."""
    with leading_scheduler(private, tmp_path_factory.mktemp("rebalance"), "--rebalance-on-agent-join",
                           "--rebalance-cooldown", "2s") as s:
        yield s


@pytest.fixture
def made(sched) -> Iterator[list[str]]:
    """The apps a test makes (appended as it posts them), deleted after it, also when it fails (so a
    failure leaves the next test the cluster's room)."""
    apps: list[str] = []
    yield apps
    for app_id in apps:
        requests.delete(f"{sched.url}/v2/apps{app_id}", params={"force": "true"}, timeout=30)
    for app_id in apps:
        until(lambda: requests.get(f"{sched.url}/v2/apps{app_id}", timeout=5).status_code == 404, 60,
              what=f"{app_id} gone")


def agent_active(cluster: dict[str, str], k: int) -> Optional[bool]:
    """Whether the master has agent ``k`` (127.0.0.k) active; None: not listed."""
    slaves = requests.get(cluster["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"]
    found = [s for s in slaves if s["hostname"] == f"127.0.0.{k}"]
    return bool(found[0]["active"]) if found else None


def per_host(cluster: dict[str, str], framework: str, app_id: str) -> Counter:
    """The app's running tasks per agent hostname, as the master's /master/state has them."""
    state = requests.get(cluster["MESOS_MASTER"] + "/master/state", timeout=5).json()
    hosts = {s["id"]: s["hostname"] for s in state["slaves"]}
    prefix = app_id.strip("/").replace("/", "_") + "."
    return Counter(hosts[t["slave_id"]] for f in state["frameworks"] if f["name"] == framework
                   for t in f["tasks"] if t["state"] == "TASK_RUNNING" and t["id"].startswith(prefix))


class HealthyProbe(threading.Thread):
    """Every 200 ms: the app's running tasks whose health check passes (from /v2/apps/ID/tasks)."""

    def __init__(self, api: str, app_id: str):
        super().__init__(daemon=True)
        self.api, self.app_id = api, app_id
        self.stopping = threading.Event()
        self.counts: list[int] = []
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                tasks = requests.get(f"{self.api}/v2/apps{self.app_id}/tasks", timeout=2).json()["tasks"]
                self.counts.append(sum(1 for t in tasks if t["state"] == "TASK_RUNNING"
                                       and any(h.get("alive") for h in t.get("healthCheckResults", []))))
                self.stopping.wait(max(0.0, PROBE_EVERY - (time.monotonic() - started)))
        except BaseException as exc:  # noqa: BLE001 - re-raised by stop()
            self.error = exc

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        if self.error is not None:
            raise self.error


def web(app_id: str, instances: int) -> dict:
    return {"id": app_id, "cmd": "exec python3 -m http.server $PORT0", "cpus": 0.05, "mem": 32,
            "instances": instances, "strategy": "spread", "backoffSeconds": 1,
            "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 0.2},
            "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 10,
                              "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}]}


def sandbox_tails(answer_text: str) -> str:
    """The stderr tails of the tasks a failed rebalance names (the agents' sandboxes in RUN_DIR)."""
    ids = set(re.findall(r"[\w-]+\.[0-9a-f]{32}", answer_text))
    tails = []
    for task_id in sorted(ids):
        for path in Path(RUN_DIR).glob(f"agent*/slaves/*/frameworks/*/executors/{task_id}/runs/latest/std*"):
            tails.append(f"--- {path}:\n" + path.read_text(errors="replace")[-1500:])
    return "\n".join(tails) or "(no sandbox found)"


def delete(s, app_id: str) -> None:
    requests.delete(f"{s.url}/v2/apps{app_id}", params={"force": "true"}, timeout=30).raise_for_status()
    until(lambda: requests.get(f"{s.url}/v2/apps{app_id}", timeout=5).status_code == 404, 60, what=f"{app_id} gone")


def healthy(s, app_id: str, n: int) -> bool:
    resp = requests.get(f"{s.url}/v2/apps{app_id}", timeout=5)
    assert resp.status_code == 200, f"{resp.status_code}: {resp.text}"
    app = resp.json()["app"]
    return app["tasksHealthy"] == n and app["tasksRunning"] == n and not app["deployments"]


def test_a_spread_app_moves_onto_a_rejoined_agent_health_gated(private, sched, made):
    minimesos("agent", "stop", "3", env=ENV)
    until(lambda: agent_active(private, 3) is not True, 60, what="agent 3 inactive")
    app_id = unique("/spread")
    made.append(app_id)
    assert sched.post_app(web(app_id, 6)).status_code == 201
    until(lambda: healthy(sched, app_id, 6), 90, what="6 healthy instances")
    assert sorted(per_host(private, sched.name, app_id).values()) == [3, 3]

    minimesos("agent", "start", "3", env=ENV)
    until(lambda: agent_active(private, 3) is True, 60, what="agent 3 back")
    until(lambda: "automatic rebalance after agent(s)" in sched.log.read_text(), 30,
          what="the scheduler's own rebalance after agent 3 joined")
    slaves = requests.get(private["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"]
    third = next(a["id"] for a in slaves if a["hostname"] == "127.0.0.3")
    assert f"automatic rebalance after agent(s) {third} joined: 0 move(s), deployments none" in \
        sched.log.read_text()  # agent 3 came back; its instances are younger than the default --min-age
    probe = HealthyProbe(sched.url, app_id)
    probe.start()
    started = time.monotonic()
    try:
        done = cli(sched, "rebalance", app_id, "--wait", "--min-age", "0", "--timeout", "120", "-o", "json",
                   timeout=180)
    finally:
        probe.stop()
    MEASURED["rebalance_seconds"] = time.monotonic() - started
    MEASURED["lowest_healthy"] = min(probe.counts)
    assert done.returncode == 0, done.stdout + done.stderr + sandbox_tails(done.stdout)
    answer = json.loads(done.stdout)
    assert len(answer["moves"]) == 2 and answer["result"] == "succeeded"
    assert all(m["toHost"] == "127.0.0.3" and m["reason"].endswith("(spread)") for m in answer["moves"])
    assert answer["moves"][0]["reason"].split(": ")[1].startswith("127.0.0.") and "127.0.0.3 has 0" in \
        answer["moves"][0]["reason"]
    until(lambda: sorted(per_host(private, sched.name, app_id).values()) == [2, 2, 2], 30, what="2/2/2 on the master")
    assert probe.counts and min(probe.counts) >= 6, probe.counts  # minimumHealthCapacity 1.0 x 6 instances

    again = cli(sched, "rebalance", app_id, "--dry-run", "--min-age", "0", "-o", "json")
    assert again.returncode == 0 and json.loads(again.stdout)["moves"] == [], again.stdout
    print(f"\nrebalance of 6 instances (2 moves): {MEASURED['rebalance_seconds']:.1f}s, "
          f"lowest healthy seen {MEASURED['lowest_healthy']} of 6 ({len(probe.counts)} probes)")


def test_a_binpack_app_consolidates_off_a_half_empty_agent_and_its_dry_run_changes_nothing(private, sched, made):
    blocker = unique("/blocker")
    made.append(blocker)
    assert sched.post_app({"id": blocker, "cmd": "sleep 3600", "cpus": 1.8, "mem": 16, "instances": 1,
                           "constraints": [["hostname", "IS", "127.0.0.1"]]}).status_code == 201
    until(lambda: len(sched.running(blocker)) == 1, 60, what="blocker running on 127.0.0.1")
    pack = unique("/pack")
    made.append(pack)
    assert sched.post_app({"id": pack, "cmd": "sleep 3600", "cpus": 0.15, "mem": 16, "instances": 3,
                           "strategy": "binpack", "backoffSeconds": 1}).status_code == 201
    until(lambda: len(sched.running(pack)) == 3, 60, what="3 packed instances")
    before = per_host(private, sched.name, pack)
    assert before["127.0.0.1"] == 1 and len(before) >= 2, before  # the blocker left room for one there
    delete(sched, blocker)

    tasks = sorted((t["id"], t["host"]) for t in sched.tasks(pack))
    dry = cli(sched, "rebalance", pack, "--dry-run", "--min-age", "0", "-o", "json")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    moves = json.loads(dry.stdout)["moves"]
    assert moves and all(m["goal"] == "binpack" for m in moves), moves
    assert sorted((t["id"], t["host"]) for t in sched.tasks(pack)) == tasks  # the dry run changed nothing
    assert requests.get(f"{sched.url}/v2/deployments", timeout=5).json() == []

    done = cli(sched, "rebalance", pack, "--wait", "--min-age", "0", "--timeout", "90", timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr
    until(lambda: len(per_host(private, sched.name, pack)) < len(before)
          and sum(per_host(private, sched.name, pack).values()) == 3, 30, what="fewer agents in use")
    again = cli(sched, "rebalance", pack, "--dry-run", "--min-age", "0", "-o", "json")
    assert json.loads(again.stdout)["moves"] == []
