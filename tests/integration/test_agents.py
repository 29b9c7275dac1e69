"""``halyard agents`` on a real cluster of its own (agents are stopped, started and drained, so never
the shared one):

* the operator's sequence: agent 3 stopped, a spread app of 6 healthy instances on agents 1-2,
  ``minimesos/agent start 3`` and at once ``halyard rebalance APP --wait``: 2/2/2 with health held;
  meanwhile ``halyard agents`` shows agent 3 from the operator stream within 2 s, the event stream
  tells ``agent_added_event``, and ``--rebalance-on-agent-join`` counted the join;
* a drain of the agent holding two apps of 3 healthy instances (``minimumHealthCapacity: 1``):
  healthy never below 3 (sampled every 200 ms), the agent ends with no Halyard task and drained at
  the master, a scale-up places nothing there; after reactivation a rebalance uses it again;
  an unknown host is a 404 naming the known hosts.

About 100 s in all (the cluster's up and down included). Figures with ``-s``.
"""
from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from halyard.timestamps import iso, parse_iso

from .conftest import MINIMESOS, minimesos, private_cluster, read_env
from .harness import HALYARD, cli, leading_scheduler, unique
from .test_events import Listener
from .test_rebalance import HealthyProbe, agent_active, healthy, per_host, sandbox_tails, web
from .v1client import until

pytestmark = pytest.mark.integration

UP, RUN_DIR = private_cluster(("up", "--agents", "3", "--no-docker", "--port", "15550", "--zk-port", "12981",
                               "--task-ports", "53000"), "/tmp/halyard-test-agents-run")
ENV = {"MINIMESOS_RUN_DIR": RUN_DIR}


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
    with leading_scheduler(private, tmp_path_factory.mktemp("agents"), "--rebalance-on-agent-join",
                           "--rebalance-cooldown", "2s") as s:
        until(lambda: requests.get(s.url + "/v1/agents", timeout=5).json()["stream"]["up"], 30,
              what="the operator stream up")
        yield s


@pytest.fixture
def made(sched) -> Iterator[list[str]]:
    apps: list[str] = []
    yield apps
    for app_id in apps:
        requests.delete(f"{sched.url}/v2/apps{app_id}", params={"force": "true"}, timeout=30)
    for app_id in apps:
        until(lambda: requests.get(f"{sched.url}/v2/apps{app_id}", timeout=5).status_code == 404, 60,
              what=f"{app_id} gone")


def agents_json(s) -> dict:
    done = cli(s, "agents", "-o", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def agent(s, host: str) -> dict:
    return requests.get(f"{s.url}/v1/agents/{host}", timeout=5).json()


def test_the_operators_sequence_sees_the_new_agent_at_once(private, sched, made):
    minimesos("agent", "stop", "3", env=ENV)
    until(lambda: agent_active(private, 3) is not True, 60, what="agent 3 inactive")
    app_id = unique("/spread")
    made.append(app_id)
    assert sched.post_app(web(app_id, 6)).status_code == 201
    until(lambda: healthy(sched, app_id, 6), 90, what="6 healthy instances")
    assert sorted(per_host(private, sched.name, app_id).values()) == [3, 3]
    joins = Listener(sched.url + "/v2/events", event_type="agent_added_event")
    plain = Listener(sched.url + "/v2/events")

    minimesos("agent", "start", "3", env=ENV)   # returns once the master has it registered
    started = time.monotonic()
    probe = HealthyProbe(sched.url, app_id)
    probe.start()
    rebalance = subprocess.Popen([HALYARD, "rebalance", app_id, "--wait", "--min-age", "0", "--timeout", "120",
                                  "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**__import__("os").environ, "HALYARD_API": sched.url})
    try:
        def known() -> tuple[dict, float] | None:
            asked = time.monotonic() - started   # when this `halyard agents` ran (its answer is as of then)
            third = [a for a in agents_json(sched)["agents"] if a["host"] == "127.0.0.3"]
            ok = bool(third) and third[0]["state"] == "active" and third[0]["source"] == "stream"
            return (third[0], asked) if ok else None
        shown, known_after = until(known, 2.0, interval=0.05,
                                   what="halyard agents showing agent 3 from the operator stream")
        assert known_after < 2.0
        out, err = rebalance.communicate(timeout=180)
    finally:
        if rebalance.poll() is None:
            rebalance.kill()
        probe.stop()
    assert rebalance.returncode == 0, out + err + sandbox_tails(out)
    answer = json.loads(out)
    assert answer["result"] == "succeeded" and [m["toHost"] for m in answer["moves"]] == ["127.0.0.3"] * 2
    until(lambda: sorted(per_host(private, sched.name, app_id).values()) == [2, 2, 2], 30, what="2/2/2")
    assert probe.counts and min(probe.counts) >= 6, probe.counts

    slaves = requests.get(private["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"]
    third = next(a for a in slaves if a["hostname"] == "127.0.0.3")
    registered = third.get("reregistered_time") or third["registered_time"]
    lag = parse_iso(shown["seenAt"]) - registered
    until(lambda: joins.of("agent_added_event", host="127.0.0.3", agentId=third["id"]), 5,
          what="agent_added_event on the stream that asked for it")
    joins.check()
    assert "agent_added_event" not in plain.types()   # Halyard's own: only to streams that ask
    until(lambda: f"automatic rebalance after agent(s) {third['id']} joined" in sched.log.read_text(), 10,
          what="--rebalance-on-agent-join counting the join")
    joins.closing = plain.closing = True
    joins.resp.close()
    plain.resp.close()
    print(f"\nagent 3 started: Halyard knew it {lag * 1000:.0f} ms after the master registered it "
          f"(halyard agents showed it {known_after:.2f} s after `agent start` returned); rebalance 3/3/0 -> 2/2/2, "
          f"lowest healthy {min(probe.counts)} of 6 ({len(probe.counts)} probes)")
    assert lag < 2.0


def packed(app_id: str) -> dict:
    app = web(app_id, 3)
    return {**app, "strategy": "binpack", "upgradeStrategy": {"minimumHealthCapacity": 1}}


def test_a_drain_moves_every_instance_off_without_dropping_below_the_health_bound(private, sched, made):
    missing = requests.post(f"{sched.url}/v1/agents/10.9.9.9/drain", json={}, timeout=10)
    assert missing.status_code == 404 and missing.json()["knownHosts"] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    bad = requests.post(f"{sched.url}/v1/agents/127.0.0.1/drain", json={"deadline": "soon"}, timeout=10)
    assert bad.status_code == 422 and "deadline" in bad.text

    ids = [unique("/packed"), unique("/packed")]
    made.extend(ids)
    for app_id in ids:
        assert sched.post_app(packed(app_id)).status_code == 201
    for app_id in ids:
        until(lambda: healthy(sched, app_id, 3), 90, what=f"{app_id}: 3 healthy")
    hosts = Counter(t["host"] for app_id in ids for t in sched.tasks(app_id))
    host, count = hosts.most_common(1)[0]
    assert count == 6, hosts   # binpack put both apps on one agent: drain it

    probes = [HealthyProbe(sched.url, app_id) for app_id in ids]
    for p in probes:
        p.start()
    started = time.monotonic()
    try:
        done = cli(sched, "agents", "drain", host, "--wait", "--timeout", "120", "-o", "json", timeout=180)
    finally:
        for p in probes:
            p.stop()
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    drained = json.loads(done.stdout)
    assert drained["state"] == "drained" and drained["tasks"] == []
    assert [(a["status"], a["initial"], a["left"]) for a in drained["drain"]["apps"]] == [("done", 3, 0)] * 2
    for a in drained["drain"]["apps"]:
        deployment = requests.get(f"{sched.url}/v2/deployments/{a['deploymentId']}", timeout=5).json()
        assert (deployment["kind"], deployment["status"]) == ("drain", "succeeded")
    lowest = [min(p.counts) for p in probes]
    assert all(n >= 3 for n in lowest), [p.counts for p in probes]
    assert all(t["host"] != host for app_id in ids for t in sched.tasks(app_id))
    slaves = requests.get(private["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"]
    at_master = next(a for a in slaves if a["hostname"] == host)
    assert at_master["deactivated"] is True

    assert sched.put_app(ids[0], {"instances": 4}).status_code == 200
    until(lambda: healthy(sched, ids[0], 4), 60, what="the scale-up")
    assert all(t["host"] != host for t in sched.tasks(ids[0]))   # nothing placed on the drained agent

    spread = unique("/spread")
    made.append(spread)
    assert sched.post_app(web(spread, 3)).status_code == 201   # 2/1 on the two agents left
    until(lambda: healthy(sched, spread, 3), 90, what=f"{spread}: 3 healthy")
    assert host not in {t["host"] for t in sched.tasks(spread)}
    back = cli(sched, "agents", "reactivate", host, "-o", "json")
    assert back.returncode == 0, back.stderr
    until(lambda: agent(sched, host)["state"] == "active", 10, what=f"{host} active again")
    moved = cli(sched, "rebalance", spread, "--wait", "--min-age", "0", "--timeout", "90", "-o", "json", timeout=150)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert [m["toHost"] for m in json.loads(moved.stdout)["moves"]] == [host]   # the agent is used again
    print(f"\ndrain of {host} holding 6 instances (2 apps x 3, minimumHealthCapacity 1): {took:.1f}s to drained; "
          f"lowest healthy per app {lowest} ({[len(p.counts) for p in probes]} probes)")


def maintenance_statuses(cluster: dict[str, str], framework_id: str, host: str) -> list[str]:
    """Our framework's answers to the inverse offers of ``host``'s machine, as the master has them."""
    status = requests.post(cluster["MESOS_MASTER"] + "/api/v1", json={"type": "GET_MAINTENANCE_STATUS"},
                           timeout=5).json()["get_maintenance_status"]["status"]
    return [s["status"] for m in status.get("draining_machines") or () if m["id"]["hostname"] == host
            for s in m.get("statuses") or () if s["framework_id"]["value"] == framework_id]


def test_a_maintenance_window_keeps_new_tasks_off_and_its_inverse_offer_is_accepted_after_the_drain(
        private, sched, made):
    past = requests.post(f"{sched.url}/v1/agents/127.0.0.2/maintenance",
                         json={"start": "2020-01-01T00:00:00Z", "duration": "1h"}, timeout=10)
    assert past.status_code == 422 and "in the past" in past.text
    app_id = unique("/kept")
    made.append(app_id)
    assert sched.post_app({"id": app_id, "cmd": "sleep 3600", "cpus": 0.05, "mem": 16, "instances": 3,
                           "strategy": "spread"}).status_code == 201
    until(lambda: len(sched.running(app_id)) == 3, 60, what="3 running, one per agent")
    assert Counter(t["host"] for t in sched.tasks(app_id))["127.0.0.2"] == 1
    start = time.time() + 600   # within the default horizon (1 h)

    posted = cli(sched, "agents", "maintenance", "127.0.0.2", "--start", iso(start), "--duration", "1h", "-o", "json")
    assert posted.returncode == 0, posted.stderr
    assert json.loads(posted.stdout)["state"] == "maintenance"
    framework_id = requests.get(f"{sched.url}/v2/info", timeout=5).json()["frameworkId"]
    try:
        assert sched.put_app(app_id, {"instances": 6}).status_code == 200
        until(lambda: len(sched.running(app_id)) == 6, 60, what="6 running")
        assert Counter(t["host"] for t in sched.tasks(app_id))["127.0.0.2"] == 1   # nothing new there
        time.sleep(3)   # the master's inverse offer came meanwhile (it is sent when the machine is scheduled)
        assert "ACCEPT" not in maintenance_statuses(private, framework_id, "127.0.0.2")   # a task runs there
        done = cli(sched, "agents", "drain", "127.0.0.2", "--wait", "--timeout", "90", timeout=150)
        assert done.returncode == 0, done.stdout + done.stderr
        until(lambda: maintenance_statuses(private, framework_id, "127.0.0.2")[-1:] == ["ACCEPT"], 30,
              what="the inverse offer accepted after the drain")
    finally:
        cli(sched, "agents", "maintenance", "127.0.0.2", "--cancel")
        cli(sched, "agents", "reactivate", "127.0.0.2")
    until(lambda: agent(sched, "127.0.0.2")["state"] == "active", 10, what="127.0.0.2 active again")
