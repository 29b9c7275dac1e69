"""Service discovery on the real cluster: members in the real ZooKeeper (ServerSets, Curator),
following health, kills and scale-downs; DiscoveryInfo in the master's state; the endpoints API
and CLI; the writer against the real ZooKeeper."""
from __future__ import annotations

import collections
import collections.abc
import json
import os
import subprocess
import threading
import time
from typing import Any

import pytest
import requests
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from marathon import MarathonClient
from marathon.models import MarathonApp, MarathonHealthCheck
from marathon.models.app import PortDefinition

from halyard.engine.members import Member, dns_label
from halyard.store.serverset_format import MEMBER_PREFIX, member_body, serverset_body
from halyard.store.serversets import ServerSetWriter

from .harness import HALYARD, SchedulerProc, clean_shutdown, cli, leading_scheduler, sleep_app, unique
from .v1client import until

pytestmark = pytest.mark.integration

if not hasattr(collections, "Iterable"):  # marathon-python 0.13 on Python 3.10+ (see test_marathon_client.py)
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

HEALTH = {"protocol": "MESOS_HTTP", "path": "/", "port_index": 0, "grace_period_seconds": 5, "delay_seconds": 0,
          "interval_seconds": 1, "timeout_seconds": 2, "max_consecutive_failures": 3}


@pytest.fixture(scope="module")
def zk(cluster):
    client = KazooClient(hosts=cluster["ZK"].removeprefix("zk://"), timeout=10)
    client.start()
    yield client
    client.stop()
    client.close()


def members(zk: KazooClient, directory: str) -> dict[str, tuple[dict, Any]]:
    """Member node name -> (body, stat), as one moment saw them: a member removed between the
    listing and its read makes the listing be taken again (else a withdrawal right after an
    announcement the listing missed would look like one member too few)."""
    for _ in range(20):
        out, vanished = {}, False
        for name in (zk.get_children(directory) if zk.exists(directory) else []):
            if name.startswith("member_"):
                try:
                    data, stat = zk.get(f"{directory}/{name}")
                except NoNodeError:
                    vanished = True
                    break
                out[name] = (json.loads(data), stat)
        if not vanished:
            return out
    raise AssertionError(f"{directory}: members kept changing under 20 listings")


def endpoints(s, app_id: str) -> dict:
    return requests.get(f"{s.url}/v1/apps{app_id}/endpoints", timeout=10).json()


def healthy_tasks(s, app_id: str) -> list[dict]:
    tasks = requests.get(f"{s.url}/v2/apps{app_id}/tasks", timeout=10).json()["tasks"]
    return [t for t in tasks if t.get("healthCheckResults") and t["healthCheckResults"][0]["alive"]]


def parse_iso(text: str) -> float:
    from halyard.timestamps import parse_iso as parse
    return parse(text)


def test_a_health_checked_apps_members_follow_health_kills_and_scale_down(sched, zk, cluster):
    """marathon-python creates the app (drain delay by label); members appear once healthy, with
    Aurora's body; a kill removes its member at once; a scale-down drains before the kill."""
    client = MarathonClient(sched.url)
    name = unique("disc-web")
    app_id = f"/disc/{name}"
    directory = f"/{sched.chroot}/discovery/disc/{name}"
    client.create_app(app_id, MarathonApp(
        cmd="exec python3 -m http.server $PORT0", cpus=0.05, mem=32, instances=2,
        port_definitions=[PortDefinition(port=0, name="http")],
        health_checks=[MarathonHealthCheck(**HEALTH)], labels={"HALYARD_DRAIN_SECONDS": "3"}))
    try:
        found = until(lambda: len(m := members(zk, directory)) == 2 and m, 90, interval=0.05,
                      what="2 members after both tasks are healthy")
        tasks = {t["id"]: t for t in healthy_tasks(sched, app_id)}
        assert len(tasks) == 2
        by_endpoint = {(t["host"], t["ports"][0]): t for t in tasks.values()}
        for body, stat in found.values():
            task = by_endpoint[(body["serviceEndpoint"]["host"], body["serviceEndpoint"]["port"])]
            assert body == {"serviceEndpoint": {"host": task["host"], "port": task["ports"][0]},
                            "additionalEndpoints": {"http": {"host": task["host"], "port": task["ports"][0]}},
                            "status": "ALIVE", "shard": body["shard"]}
            healthy_at = parse_iso(task["healthCheckResults"][0]["firstSuccess"])
            print(f"FIGURE healthy->member {stat.ctime / 1000 - healthy_at:.3f}s")
            assert stat.ctime / 1000 >= healthy_at - 1.0  # never announced before healthy (1 s clock slack)
        assert sorted(b["shard"] for b, _ in found.values()) == [0, 1]

        # DiscoveryInfo in the master's state
        state = requests.get(cluster["MESOS_MASTER"] + "/master/state", timeout=10).json()
        mesos_tasks = {t["id"]: t for f in state["frameworks"] if f["name"] == sched.name for t in f["tasks"]}
        for task_id, task in tasks.items():
            info = mesos_tasks[task_id]["discovery"]
            assert info["visibility"] == "FRAMEWORK" and info["name"] == dns_label(app_id)
            assert [(p["number"], p.get("name"), p["protocol"]) for p in info["ports"]["ports"]] == [
                (task["ports"][0], "http", "tcp")]
            assert {"key": "HALYARD_DRAIN_SECONDS", "value": "3"} in info["labels"]["labels"]

        # The endpoints API and CLI say the same
        answer = endpoints(sched, app_id)
        assert answer["announced"] == 2 and all(e["announced"] for e in answer["endpoints"])
        shown = cli(sched, "endpoints", app_id, "-o", "json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["announced"] == 2
        assert requests.get(f"{sched.url}/v1/apps/disc/nope/endpoints", timeout=10).status_code == 404

        # A kill: the member goes at once (then the drain, then the kill); the replacement takes its shard
        victim_shard, victim_task = next((b["shard"], by_endpoint[(b["serviceEndpoint"]["host"],
                                                                   b["serviceEndpoint"]["port"])]["id"])
                                         for b, _ in found.values())
        t0 = time.monotonic()
        assert requests.delete(f"{sched.url}/v2/apps{app_id}/tasks/{victim_task}", timeout=30).ok
        until(lambda: len(members(zk, directory)) == 1, 30, interval=0.01, what="the killed task's member removed")
        print(f"FIGURE kill->member-removed {time.monotonic() - t0:.3f}s")
        reasons = {e["taskId"]: e["reason"] for e in endpoints(sched, app_id)["endpoints"]}
        assert reasons.get(victim_task) == "draining before its kill"
        after = until(lambda: len(m := members(zk, directory)) == 2 and m, 90, interval=0.1,
                      what="the replacement announced once healthy")
        assert sorted(b["shard"] for b, _ in after.values()) == [0, 1]
        assert victim_shard in {b["shard"] for b, _ in after.values()}
        until(lambda: victim_task not in {t["id"] for t in requests.get(f"{sched.url}/v2/apps{app_id}/tasks",
                                                                       timeout=10).json()["tasks"]},
              60, what="the killed task gone after its drain")

        # A scale-down: the surplus member goes, and its task drains before it is killed
        client.scale_app(app_id, instances=1, force=True)
        until(lambda: len(members(zk, directory)) == 1, 30, interval=0.05, what="the surplus member removed")
        draining = [e for e in endpoints(sched, app_id)["endpoints"] if e["reason"] == "draining before its kill"]
        assert len(draining) == 1 and draining[0]["state"] == "TASK_RUNNING" and draining[0].get("drainUntil")
        until(lambda: len(requests.get(f"{sched.url}/v2/apps{app_id}/tasks", timeout=10).json()["tasks"]) == 1, 60,
              what="the drained task killed")
        assert len(members(zk, directory)) == 1
    finally:
        client.delete_app(app_id, force=True)
    until(lambda: not members(zk, directory), 60, what="members removed with the app")


@pytest.fixture(scope="module")
def curator_sched(cluster, tmp_path_factory):
    with leading_scheduler(cluster, tmp_path_factory.mktemp("discovery-curator"), "--discovery-format", "curator",
                           "--discovery-path", "/services") as s:
        yield s


def test_the_curator_format(curator_sched, zk):
    s = curator_sched
    app_id = "/" + unique("disc-cur")
    body = {"id": app_id, "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": 1,
            "portDefinitions": [{"port": 0, "name": "http"}]}
    assert s.post_app(body).status_code == 201
    directory = f"/{s.chroot}/services/{dns_label(app_id)}"
    try:
        task = until(lambda: s.running(app_id) and s.running(app_id)[0], 60, what="running")
        node = until(lambda: zk.exists(f"{directory}/{task['id']}") and zk.get(f"{directory}/{task['id']}")[0],
                     30, interval=0.05, what="the Curator instance node")
        instance = json.loads(node)
        assert {k: instance[k] for k in ("name", "id", "address", "port", "sslPort", "serviceType")} == {
            "name": dns_label(app_id), "id": task["id"], "address": task["host"], "port": task["ports"][0],
            "sslPort": None, "serviceType": "PERMANENT"}
        assert isinstance(instance["registrationTimeUTC"], int) and instance["uriSpec"]["parts"]
        assert instance["payload"]["name"] == dns_label(app_id)

        # halyard endpoints --watch prints the changes: the second instance waits, then is announced
        watch = subprocess.Popen([HALYARD, "endpoints", app_id, "--watch", "--count", "3", "-o", "json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "HALYARD_API": s.url})
        changes = []
        guard = threading.Timer(90, watch.kill)  # a readline never blocks past the deadline
        guard.start()
        try:
            first = json.loads(watch.stdout.readline())  # the state now, then the changes
            assert first["announced"] == 1
            assert s.put_app(app_id, {**body, "instances": 2}).ok
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(c["change"] == "announced" for c in changes):
                line = watch.stdout.readline()
                if not line:
                    break
                changes.append(json.loads(line))
        finally:
            guard.cancel()
            watch.kill()
            watch.wait()
        announced = [c for c in changes if c["change"] == "announced"]
        assert announced and announced[0]["taskId"] != task["id"], changes
        assert all(c["taskId"] == announced[0]["taskId"] for c in changes), changes
    finally:
        requests.delete(s.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
    until(lambda: not zk.get_children(directory), 60, what="the instance removed with the app")


def test_the_writer_against_zookeeper(zk):
    """Announce, withdraw (also one it did not write: found by its body) and sync (strays removed,
    missing added) on the real ZooKeeper, in both formats."""
    root = "/" + unique("halyard-discovery")
    try:
        a = Member("/g/a", "t1", "h1", (31000, 31001), ("http", "admin"), 0, 1.0)
        b = Member("/g/a", "t2", "h2", (31002,), (None,), 1, 2.0)
        c = Member("/g/b", "t3", "h3", (31003,), ("http",), 0, 3.0)
        w = ServerSetWriter(zk, root)
        w.announce(a)
        w.flush()
        [name] = zk.get_children(f"{root}/g/a")
        assert name.startswith("member_") and json.loads(zk.get(f"{root}/g/a/{name}")[0]) == serverset_body(a)
        w.announce(b)
        w.withdraw(b)  # at once, its create perhaps still under way: withdrawn all the same
        assert [m["shard"] for m in w.members("/g/a")] == [0]
        w.announce(b)
        w.flush()
        ServerSetWriter(zk, root).withdraw(b)  # a fresh writer (a new leader) finds it by its body
        assert [m["shard"] for m in w.members("/g/a")] == [0]
        zk.create(f"{root}/g/a/member_", b'{"stray": true}', sequence=True)  # a task gone while no leader looked
        added, removed = ServerSetWriter(zk, root).sync([a, c])
        assert (added, removed) == (1, 1)
        assert w.members("/g/a") == [serverset_body(a)] and w.members("/g/b") == [serverset_body(c)]
        assert ServerSetWriter(zk, root).sync([a, c]) == (0, 0)  # nothing to do: no flap
        quick = ServerSetWriter(zk, root)
        quick.sync([a, c])
        zk.create(f"{root}/g/b/member_", b'{"stray": true}', sequence=True)
        assert quick.sync([a], full=False) == (0, 1)  # c withdrawn; the stray is not read...
        assert ServerSetWriter(zk, root).sync([a]) == (0, 1)  # ...until the next full one
        cur = ServerSetWriter(zk, root + "/curator", "curator")
        cur.announce(c)
        cur.flush()
        assert json.loads(zk.get(f"{root}/curator/b-g/t3")[0])["id"] == "t3"
        assert cur.sync([a]) == (1, 1) and zk.get_children(f"{root}/curator/a-g") == ["t1"]
    finally:
        zk.delete(root, recursive=True)


def test_a_new_leader_repairs_the_members(cluster, zk, tmp_path):
    """Members are persistent: they outlive their leader. What changed while no leader looked (a
    member lost, a stray one left) is repaired by the next leader once it has reconciled."""
    name, chroot = unique("halyard-test"), unique("halyard-test")
    first = SchedulerProc(cluster, chroot, name, tmp_path).start()
    second = None
    app_id = "/" + unique("disc-failover")
    directory = f"/{chroot}/discovery/{app_id.strip('/')}"
    try:
        until(first.leading, 30, what="leader")
        assert first.post_app(sleep_app(app_id, 2, portDefinitions=[{"port": 0, "name": "http"}])).status_code == 201
        before = until(lambda: len(m := members(zk, directory)) == 2 and m, 60, what="2 members")
        first.stop()
        assert members(zk, directory).keys() == before.keys()  # persistent: still there without a leader
        lost = sorted(before)[0]
        zk.delete(f"{directory}/{lost}")
        stray = zk.create(f"{directory}/{MEMBER_PREFIX}", member_body("gone", 1, 7), sequence=True)
        second = SchedulerProc(cluster, chroot, name, tmp_path).start()
        until(second.leading, 30, what="the new leader")
        after = until(lambda: (m := members(zk, directory)) and len(m) == 2 and stray.rsplit("/", 1)[1] not in m
                      and m, 60, interval=0.1, what="members repaired")
        assert sorted(json.dumps(b, sort_keys=True) for b, _ in after.values()) == \
            sorted(json.dumps(b, sort_keys=True) for b, _ in before.values())
        kept = sorted(before)[1]
        assert kept in after  # the member that was right was not rewritten (no flap)
    finally:
        clean_shutdown(cluster, name, [s for s in (first, second) if s is not None])


def test_members_follow_the_health_gates_through_a_rolling_change(sched, zk, cluster):
    """Through a rolling config change, ZooKeeper always holds 2 members, and an old task's member
    is gone at least the drain delay before Mesos is asked to kill the task: a client never sees a
    member about to be killed."""
    app_id = "/disc/" + unique("rolling")
    directory = f"/{sched.chroot}/discovery{app_id}"
    app = {"id": app_id, "cmd": "exec python3 -m http.server $PORT0", "cpus": 0.05, "mem": 32, "instances": 2,
           "portDefinitions": [{"port": 0, "name": "http"}], "labels": {"HALYARD_DRAIN_SECONDS": "1"},
           # A generous timeout: one probe slow on a loaded machine rightly withdraws a member (it
           # is unhealthy then), which is not what this test is about.
           "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 5, "delaySeconds": 0,
                             "intervalSeconds": 1, "timeoutSeconds": 10, "maxConsecutiveFailures": 3}],
           "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1}}
    assert sched.post_app(app).status_code == 201
    try:
        before = until(lambda: len(m := members(zk, directory)) == 2 and m, 90, what="2 members")
        old = {(b["serviceEndpoint"]["host"], b["serviceEndpoint"]["port"]) for b, _ in before.values()}
        changed = sched.put_app(app_id, {**app, "env": {"RELEASE": "2"}})
        assert changed.ok, changed.text
        deployment = changed.json()["deploymentId"]
        last_seen: dict[tuple[str, int], float] = {}
        fewest = 2
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            now = time.time()
            seen = members(zk, directory)
            endpoints_now = {(b["serviceEndpoint"]["host"], b["serviceEndpoint"]["port"]) for b, _ in seen.values()}
            fewest = min(fewest, len(endpoints_now))
            for endpoint in endpoints_now:
                last_seen[endpoint] = now
            running = requests.get(f"{sched.url}/v2/deployments", timeout=10).json()
            if not any(d["id"] == deployment for d in running) and not old & endpoints_now:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the rolling change did not end within 120 s")
        assert fewest >= 2, f"only {fewest} member(s) at one point"
        state = requests.get(cluster["MESOS_MASTER"] + "/master/state", timeout=10).json()
        fw = next(f for f in state["frameworks"] if f["name"] == sched.name)
        killed = {}
        # Only this app's tasks: the shared scheduler ran other apps whose tasks may have held the
        # same host and port earlier (Mesos hands a freed port out again).
        prefix = "_".join(app_id.strip("/").split("/")) + "."
        for task in (t for t in fw["completed_tasks"] if t["id"].startswith(prefix)):
            ports = task.get("discovery", {}).get("ports", {}).get("ports", [])
            stops = [s["timestamp"] for s in task["statuses"] if s["state"] in ("TASK_KILLING", "TASK_KILLED")]
            if ports and stops:
                host = next(a["hostname"] for a in state["slaves"] if a["id"] == task["slave_id"])
                killed[(host, ports[0]["number"])] = min(stops)
        assert old <= set(killed), (old, killed)
        for endpoint in old:
            assert last_seen[endpoint] <= killed[endpoint] - 0.8, \
                f"{endpoint} seen {killed[endpoint] - last_seen[endpoint]:.2f}s before its kill"
            print(f"FIGURE member-gone-before-kill {killed[endpoint] - last_seen[endpoint]:.2f}s")
    finally:
        requests.delete(sched.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
        until(lambda: not members(zk, directory), 60, what="members removed with the app")
