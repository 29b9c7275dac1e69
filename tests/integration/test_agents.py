"""``halyard agents`` on a real cluster of its own (agents are stopped, started and drained, so never
the shared one):

* the operator's sequence: agent 3 stopped, a spread app of 6 healthy instances on agents 1-2,
  ``minimesos/agent start 3`` and at once ``halyard rebalance APP --wait``: 2/2/2 with health held;
  meanwhile ``halyard agents`` shows agent 3 from the operator stream within 2 s, the event stream
  tells ``agent_added_event``, and ``--rebalance-on-agent-join`` counted the join;
* a drain of the agent holding two apps of 3 healthy instances (``minimumHealthCapacity: 1``):
  healthy never below 3 (sampled every 200 ms), the agent ends with no Halyard task and drained at
  the master, a scale-up places nothing there; after reactivation a rebalance uses it again;
  an unknown host is a 404 naming the known hosts;
* a maintenance window on agent 2: new tasks go elsewhere, the inverse offer accepted after the drain;
* a job run during a drain finishes (not killed) before the master drains the agent, and a run
  pinned there meanwhile waits until the agent is reactivated;
* a drain survives a leader failover: the leader SIGKILLed halfway, the new leader shows the drain
  and finishes it, health held (sampled from the master).

About 280 s in all (the cluster's up and down included; 2 cores shared with other runs). Figures
with ``-s``. ``HALYARD_TEST_CLUSTER`` moves the cluster to other ports (tests/integration/conftest.py).
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from halyard.timestamps import iso, parse_iso

from .conftest import MINIMESOS, minimesos, private_cluster, read_env
from .harness import HALYARD, SchedulerProc, clean_shutdown, cli, leading_scheduler, unique
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
    for app_id in ids:   # --wait's progress per app, on stderr: moving, then done
        assert f"{app_id}: moving, 0/3 moved" in done.stderr and f"{app_id}: done (3 moved)" in done.stderr, done.stderr
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


def master_agent(cluster: dict[str, str], host: str) -> dict:
    """The master's view of the agent ``host`` (``/master/slaves``: ``deactivated``, ``drain_info``)."""
    slaves = requests.get(cluster["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"]
    return next(a for a in slaves if a["hostname"] == host)


def test_a_job_run_during_a_drain_finishes_before_the_agent_is_drained_at_the_master(private, sched):
    """A run on the agent keeps running through the drain and finishes (TASK_FINISHED, not killed);
    the master is asked to drain the agent only after it ended (sampled every 100 ms); a run started
    meanwhile and pinned there waits, and runs once the agent is reactivated."""
    from .test_jobs import define, run_of, start, wait_status

    host = "127.0.0.1"
    job, pinned = unique("drainjob"), unique("pinnedjob")
    here = {"constraints": [["hostname", "CLUSTER", host]]}
    define(sched, {"id": job, "cmd": "echo begin; sleep 12; echo end", **here})
    define(sched, {"id": pinned, "cmd": "echo pinned", **here})
    run_id = start(sched, job)
    wait_status(sched, job, run_id, ("RUNNING",), timeout=60)

    samples: list[tuple[float, str, bool]] = []   # (when, the run's status, drain_info at the master)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():   # the master first: a drain it shows began before the run's status is read
            at_master = bool(master_agent(private, host).get("drain_info"))
            samples.append((time.monotonic(), run_of(sched, job, run_id)["status"], at_master))
            stop.wait(0.1)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        draining = subprocess.Popen([HALYARD, "agents", "drain", host, "--deadline", "10m", "--wait", "--timeout",
                                     "120", "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env={**os.environ, "HALYARD_API": sched.url})
        until(lambda: agent(sched, host)["state"] == "draining", 10, what=f"{host} draining")
        later = start(sched, pinned)   # pinned to the draining agent: nothing new is placed there
        out, err = draining.communicate(timeout=150)
        took = time.monotonic() - started
        assert draining.returncode == 0, out + err
        assert json.loads(out)["state"] == "drained"
        until(lambda: samples[-1][2], 10, what="the master draining the agent")
    finally:
        stop.set()
        sampler.join(10)
    try:
        done = run_of(sched, job, run_id)
        assert done["status"] == "FINISHED", done
        assert [h["status"] for h in done["history"]][-1] == "FINISHED"
        assert requests.get(f"{sched.url}/v1/jobs/{job}/runs/{run_id}/stdout", timeout=10).text.split() == \
            ["begin", "end"]
        ran = [s for s in samples if s[1] not in ("FINISHED", "FAILED", "KILLED")]
        assert ran and not any(at_master for _, _, at_master in ran), "drained at the master while the run ran"
        first_drained = next(when for when, _, at_master in samples if at_master)
        ended = next(when for when, status, _ in samples if status == "FINISHED")
        assert ended <= first_drained
        assert run_of(sched, pinned, later)["status"] == "QUEUED"   # not placed on the drained agent
    finally:
        back = cli(sched, "agents", "reactivate", host)
        assert back.returncode == 0, back.stderr
    until(lambda: agent(sched, host)["state"] == "active", 10, what=f"{host} active again")
    assert wait_status(sched, pinned, later, timeout=60)["status"] == "FINISHED"
    print(f"\njob run during a drain of {host}: drained after {took:.1f}s (the run's 12 s sleep), "
          f"run finished {first_drained - ended:.2f}s before the master's drain showed")


class MasterHealthy(threading.Thread):
    """Every 200 ms, from the master (not the scheduler, which fails over meanwhile): the framework's
    running tasks of the app whose last status says healthy."""

    def __init__(self, cluster: dict[str, str], framework_name: str, app_id: str):
        super().__init__(daemon=True)
        self.cluster, self.name, self.prefix = cluster, framework_name, app_id.strip("/").replace("/", "_") + "."
        self.stopping = threading.Event()
        self.counts: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                at = time.monotonic()
                frameworks = requests.get(self.cluster["MESOS_MASTER"] + "/master/frameworks", timeout=2
                                          ).json()["frameworks"]
                self.counts.append(sum(1 for f in frameworks if f["name"] == self.name for t in f["tasks"]
                                       if t["id"].startswith(self.prefix) and t["state"] == "TASK_RUNNING"
                                       and t["statuses"] and t["statuses"][-1].get("healthy") is True))
                self.stopping.wait(max(0.0, 0.2 - (time.monotonic() - at)))
        except BaseException as exc:  # noqa: BLE001 - re-raised by stop()
            self.error = exc

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        if self.error is not None:
            raise self.error


def test_a_drain_survives_a_leader_failover_and_the_new_leader_finishes_it(private, tmp_path):
    """Two schedulers on one chroot; the leader is killed (SIGKILL) halfway through a drain of the
    agent holding an app's 3 healthy instances and a job's run (which keeps the drain from ending
    before the failover): the new leader shows the drain at once, finishes it (the agent empty of
    Halyard's tasks, the run finished first, then drained at the master, the drain deployment
    succeeded), and healthy never drops below 3 (sampled from the master)."""
    from .test_jobs import define, run_of, start, wait_status

    name, chroot = unique("halyard-drain-ha"), unique("halyard-drain-ha")
    first = SchedulerProc(private, chroot, name, tmp_path).start()
    schedulers = [first]
    host = None
    try:
        until(first.leading, 30, what="the first scheduler leads")
        second = SchedulerProc(private, chroot, name, tmp_path).start()
        schedulers.append(second)
        until(lambda: requests.get(second.url + "/v2/leader", timeout=5).ok, 30, what="the standby knows the leader")
        until(lambda: requests.get(first.url + "/v1/agents", timeout=5).json()["stream"]["up"], 30,
              what="the operator stream up")
        app_id = unique("/hadrain")
        assert first.post_app(packed(app_id)).status_code == 201
        until(lambda: healthy(first, app_id, 3), 90, what="3 healthy")
        hosts = Counter(t["host"] for t in first.tasks(app_id))
        host, count = hosts.most_common(1)[0]
        assert count == 3, hosts   # binpack: all on one agent
        job = unique("hajob")
        define(first, {"id": job, "cmd": "sleep 45", "constraints": [["hostname", "CLUSTER", host]]})
        run_id = start(first, job)
        wait_status(first, job, run_id, ("RUNNING",), timeout=60)

        probe = MasterHealthy(private, name, app_id)
        probe.start()
        try:
            started = requests.post(f"{first.url}/v1/agents/{host}/drain", json={"deadline": "10m"}, timeout=10)
            assert started.status_code == 200, started.text
            deployment_id = started.json()["drain"]["apps"][0]["deploymentId"]
            until(lambda: agent(first, host)["drain"]["apps"][0]["left"] < 3, 90, interval=0.05,
                  what="an instance moved off")
            first.kill9()
            killed = time.monotonic()
            until(second.leading, 30, interval=0.1, what="the standby leads")
            led_after = time.monotonic() - killed
            # The new leader knows the agent once its operator stream (or listing) has it: the drain at once.
            row = until(lambda: (lambda r: r if "state" in r else None)(agent(second, host)), 10, interval=0.1,
                        what="the new leader knowing the agent")
            assert row["state"] == "draining", row
            assert [(a["app"], a["deploymentId"], a["initial"]) for a in row["drain"]["apps"]] == \
                [(app_id, deployment_id, 3)]
            assert run_of(second, job, run_id)["status"] == "RUNNING"
            assert not master_agent(private, host).get("drain_info")   # the run goes on: not drained yet
            until(lambda: agent(second, host)["state"] == "drained", 120, what="drained by the new leader")
            finished_after = time.monotonic() - killed
        finally:
            probe.stop()
        assert all(t["host"] != host for t in second.tasks(app_id))
        assert healthy(second, app_id, 3)
        assert run_of(second, job, run_id)["status"] == "FINISHED"   # ran to its end, not killed
        deployment = requests.get(f"{second.url}/v2/deployments/{deployment_id}", timeout=5).json()
        assert (deployment["kind"], deployment["status"]) == ("drain", "succeeded")
        at_master = master_agent(private, host)
        assert at_master["deactivated"] is True and at_master.get("drain_info"), at_master
        assert probe.counts and min(probe.counts) >= 3, probe.counts
        print(f"\ndrain across a failover: the standby led {led_after:.1f}s after the SIGKILL and finished the "
              f"drain {finished_after:.1f}s after it; lowest healthy {min(probe.counts)} of 3 "
              f"({len(probe.counts)} samples from the master)")
    finally:
        if host is not None:
            leader = next((s for s in schedulers if s.proc and s.proc.poll() is None and s.leading()), None)
            if leader is not None:
                requests.post(f"{leader.url}/v1/agents/{host}/reactivate", json={}, timeout=10)
            else:
                requests.post(private["MESOS_MASTER"] + "/api/v1", timeout=10, json={
                    "type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": master_agent(private, host)["id"]}}})
        clean_shutdown(private, name, schedulers)
    until(lambda: master_agent(private, host)["active"] and not master_agent(private, host).get("deactivated"), 30,
          what=f"{host} active at the master again")
