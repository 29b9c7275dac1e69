"""``halyard lb``: a real HAProxy in front of real apps on the local cluster, following the
ServerSets in ZooKeeper, with a steady client (~20 requests/s on loopback) counting failures.

``test_the_lb_follows_members_written_in_zookeeper`` writes the member nodes itself, in the
scheduler's format, for a real app's tasks. ``test_end_to_end_*`` runs against members the
scheduler writes (issue 14), and is skipped until ``halyard scheduler`` has ``--discovery-path``.
"""
from __future__ import annotations

import collections
import collections.abc
import json
import subprocess
import time
from typing import Any

import pytest
import requests
from marathon import MarathonClient

from .harness import HALYARD, docker_container_of, free_port, leading_scheduler, unique
from .lb_harness import Announcer, LbProc, SteadyClient, wait_served
from .v1client import until

pytestmark = pytest.mark.integration

if not hasattr(collections, "Iterable"):  # marathon-python 0.13 on Python 3.10+ (see test_marathon_client)
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

CHECK = {"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 5, "intervalSeconds": 1,
         "timeoutSeconds": 2, "delaySeconds": 0, "maxConsecutiveFailures": 2}


def report(request, name: str, counts: dict[str, tuple[int, int]], **figures: float) -> None:
    """Print the per-phase figures (``pytest -s`` shows them) and keep them next to the logs."""
    lines = [f"{name}: phase, requests, failed"] + [f"  {p:<16} {n:>5} {f:>4}" for p, (n, f) in counts.items()]
    lines += [f"  {k}: {v:.2f} s" for k, v in figures.items()]
    print("\n" + "\n".join(lines))
    out = request.config.rootpath / "tests" / "integration" / ".lb-figures"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"counts": counts, "figures": figures}, indent=1))


def healthy_endpoints(api: str, app_id: str, **tls: Any) -> dict[str, str]:
    """Running, healthy tasks: "host:port" -> task id (``tls``: requests' verify and cert)."""
    tasks = requests.get(f"{api}/v2/apps{app_id}/tasks", timeout=5, **tls).json()["tasks"]
    return {f"{t['host']}:{t['ports'][0]}": t["id"] for t in tasks
            if t["state"] == "TASK_RUNNING" and any(r.get("alive") for r in t.get("healthCheckResults", []))}


def test_the_serverset_watcher_follows_members_with_watches(cluster):
    """The watcher alone, on the real ZooKeeper: an app watched before its node exists, members
    that come and go (a bad body left out), the app's node removed, an app no longer watched."""
    from kazoo.client import KazooClient

    from halyard.store.serverset_watch import ServerSetWatcher

    chroot = unique("lb-watch")
    zk_hosts = f"{cluster['ZK'].removeprefix('zk://')}/{chroot}"
    client = KazooClient(hosts=zk_hosts)
    client.start(timeout=15)
    announcer = Announcer(zk_hosts)
    seen: dict[str, tuple] = {}
    watcher = ServerSetWatcher(client, "/discovery", lambda app_id, members: seen.__setitem__(app_id, members))

    def ports(app_id):
        return sorted(m.service.port for m in seen.get(app_id, ()))

    try:
        watcher.watch({"/a/web", "/b"})
        assert seen == {}
        first = announcer.announce("/a/web", "127.0.0.2", 31001, 0)
        until(lambda: ports("/a/web") == [31001], 10, what="the first member")
        announcer.announce("/a/web", "127.0.0.3", 31002, 1)
        client.create("/discovery/a/web/member_", b"{not json", sequence=True)
        client.create("/discovery/a/web/other", b"{}")
        until(lambda: ports("/a/web") == [31001, 31002], 10, what="the second member, the bad one left out")
        announcer.withdraw(first)
        until(lambda: ports("/a/web") == [31002], 10, what="a member withdrawn")
        announcer.announce("/b", "127.0.0.1", 31003, 0)
        until(lambda: ports("/b") == [31003], 10, what="another app's member")
        client.delete("/discovery/a/web", recursive=True)
        until(lambda: ports("/a/web") == [], 10, what="the app's node removed")
        announcer.announce("/a/web", "127.0.0.2", 31004, 0)
        until(lambda: ports("/a/web") == [31004], 10, what="the app's node back")
        watcher.watch({"/a/web"})
        assert seen["/b"] == ()
        announcer.announce("/b", "127.0.0.1", 31005, 1)
        time.sleep(0.5)
        assert seen["/b"] == () and watcher.watched() == {"/a/web"}
    finally:
        announcer.close()
        client.stop()
        client.close()
        root = KazooClient(hosts=cluster["ZK"].removeprefix("zk://"))
        root.start(timeout=15)
        root.delete("/" + chroot, recursive=True)
        root.stop()
        root.close()


def test_the_lb_follows_members_written_in_zookeeper(sched, tmp_path, request):
    """Members announced by hand for a real app's tasks: traffic flows through HAProxy to them;
    reloads (a member withdrawn and announced again, ten times) fail no request; a member
    withdrawn is drained out of HAProxy before its task is killed, failing no request."""
    client = MarathonClient(sched.url)
    app_id, front = "/" + unique("lbweb"), free_port()
    backend = f"{app_id.strip('/')}_{front}"
    zk = f"{sched.cluster['ZK']}/{sched.chroot}"
    # A path of its own: once the scheduler writes ServerSets (under "discovery"), it would
    # announce the same tasks there.
    announcer = Announcer(f"{sched.cluster['ZK'].removeprefix('zk://')}/{sched.chroot}", base="/by-hand")
    lb = LbProc(sched.url, zk, tmp_path / "lb", "--discovery-path", "by-hand").start()
    load = None
    try:
        other = requests.post(sched.url + "/v2/apps", timeout=30, json={
            "id": app_id + "-internal", "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": 0,
            "labels": {"HAPROXY_GROUP": "internal"}})
        assert other.status_code == 201, other.text
        created = requests.post(sched.url + "/v2/apps", timeout=30, json={
            "id": app_id, "cmd": "exec python3 -m http.server $PORT0", "cpus": 0.05, "mem": 32, "instances": 2,
            "healthChecks": [CHECK], "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": str(front)}})
        assert created.status_code == 201, created.text
        endpoints = until(lambda: (lambda e: e if len(e) == 2 else None)(healthy_endpoints(sched.url, app_id)), 90,
                          what="2 healthy tasks")
        members = {addr: announcer.announce(app_id, addr.split(":")[0], int(addr.split(":")[1]), shard)
                   for shard, addr in enumerate(sorted(endpoints))}
        wait_served(lb, backend, set(endpoints))
        config = (tmp_path / "lb" / "haproxy.cfg").read_text()
        assert f"frontend {backend}" in config and f"bind 127.0.0.1:{front}" in config
        assert "internal" not in config  # another group's app gets no frontend
        load = SteadyClient(front).start()
        time.sleep(3)

        load.set_phase("reloads")
        first = sorted(endpoints)[0]
        host, port = first.split(":")
        for _ in range(5):
            announcer.withdraw(members[first])
            wait_served(lb, backend, set(endpoints) - {first})
            members[first] = announcer.announce(app_id, host, int(port), 0)
            wait_served(lb, backend, set(endpoints))
            time.sleep(0.3)

        load.set_phase("drain+kill")
        announcer.withdraw(members.pop(first))
        wait_served(lb, backend, set(endpoints) - {first})
        client.kill_task(app_id.lstrip("/"), endpoints[first], scale=True)
        until(lambda: set(healthy_endpoints(sched.url, app_id)) == set(endpoints) - {first}, 60, what="task killed")
        time.sleep(2)

        load.set_phase("after")
        time.sleep(2)
        load.stop()
        counts = load.counts()
        report(request, "lb-members-by-hand", counts)
        assert load.errors == []
        assert counts["reloads"][0] >= 20 and counts["drain+kill"][0] >= 20 and counts["after"][0] >= 20
        reloads = sum(1 for line in (tmp_path / "lb" / "haproxy.log").read_text().splitlines()
                      if "Reloading HAProxy" in line)
        assert reloads >= 11, f"only {reloads} reloads"
    finally:
        if load is not None:
            load.stop()
        lb.stop()
        for gone in (app_id, app_id + "-internal"):
            requests.delete(sched.url + "/v2/apps" + gone, params={"force": "true"}, timeout=30)
        for gone in (app_id, app_id + "-internal"):
            until(lambda: requests.get(sched.url + "/v2/apps" + gone, timeout=5).status_code == 404, 60,
                  what=f"{gone} gone")
        announcer.close()
    assert lb.proc is not None and lb.proc.returncode == 0
    assert not subprocess.run(["pgrep", "-f", str(tmp_path / "lb" / "haproxy.cfg")], capture_output=True).stdout


def test_a_bad_frontend_port_label_is_refused_with_its_path_and_changes_nothing(sched):
    app_id = "/" + unique("lbbad")
    bad = requests.post(sched.url + "/v2/apps", timeout=30, json={
        "id": app_id, "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": 0,
        "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "99999", "HAPROXY_1_PORT": "8080"}})
    assert bad.status_code == 422, bad.text
    assert sorted((d["path"], d["errors"][0]) for d in bad.json()["details"]) == [
        ("/labels/HAPROXY_0_PORT", "'99999' is not a valid port (1-65535)"),
        ("/labels/HAPROXY_1_PORT", "names port 1, but the app has 1 port (index 0)")]
    assert requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code == 404


def _scheduler_writes_serversets() -> bool:
    done = subprocess.run([HALYARD, "scheduler", "--help"], capture_output=True, text=True)
    return "--discovery-path" in done.stdout


@pytest.mark.skipif(not _scheduler_writes_serversets(),
                    reason="the scheduler does not write ServerSets yet (`halyard scheduler --help` has no "
                           "--discovery-path): issue 14's writer is not merged")
def test_end_to_end_haproxy_follows_the_scheduler_s_serversets_with_zero_failed_requests(cluster, tmp_path, request):
    """Issue 14's test: real HAProxy in front of a real Docker app, health-checked, ~20 requests/s
    while the app scales 2 -> 4, has a task `docker kill`ed, goes through a rolling config change,
    and scales to 1. No request may fail while scaling or during the rolling change; failures
    between the kill and HAProxy's own health check are counted and reported."""
    app_id, front = "/" + unique("lbe2e"), free_port()
    backend = f"{app_id.strip('/')}_{front}"
    definition = {
        "id": app_id, "cpus": 0.05, "mem": 32, "instances": 2,
        "cmd": 'echo "$VERSION" > /tmp/index.html && exec httpd -f -p $PORT0 -h /tmp',
        "container": {"type": "DOCKER", "docker": {"image": "local/busybox:1", "network": "HOST"}},
        "env": {"VERSION": "one"},
        "healthChecks": [{**CHECK, "protocol": "HTTP"}],
        "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0.5},
        # The drain delay as a label: marathon-python's MarathonApp refuses fields it does not know
        # (Halyard's "drainSeconds" in GET /v2/apps would break client.scale_app).
        "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": str(front), "HALYARD_DRAIN_SECONDS": "2"}}
    with leading_scheduler(cluster, tmp_path) as sched:
        client = MarathonClient(sched.url)
        zk = f"{cluster['ZK']}/{sched.chroot}"
        announcer = Announcer(f"{cluster['ZK'].removeprefix('zk://')}/{sched.chroot}")
        lb = LbProc(sched.url, zk, tmp_path / "lb").start()
        load = SteadyClient(front)
        figures: dict[str, float] = {}

        def settled(instances: int) -> set[str]:
            """Deployment over, `instances` healthy tasks, all of them announced and served."""
            def check():
                if requests.get(sched.url + "/v2/deployments", timeout=5).json():
                    return None
                healthy = set(healthy_endpoints(sched.url, app_id))
                announced = {f"{m['serviceEndpoint']['host']}:{m['serviceEndpoint']['port']}"
                             for m in announcer.members(app_id).values()}
                return healthy if len(healthy) == instances and announced == healthy == lb.up(backend) else None
            served = until(check, 120, interval=0.2, what=f"{instances} healthy tasks announced and served")
            time.sleep(1)  # each phase also counts a second of the state it ends in
            return served

        try:
            created = requests.post(sched.url + "/v2/apps", json=definition, timeout=30)
            assert created.status_code == 201, created.text
            settled(2)
            load.start()
            time.sleep(3)

            load.set_phase("scale 2->4")
            client.scale_app(app_id.lstrip("/"), instances=4)
            settled(4)

            load.set_phase("docker kill")
            endpoints = healthy_endpoints(sched.url, app_id)
            victim_addr, victim = sorted(endpoints.items())[0]
            container = docker_container_of(cluster, victim)
            assert container, f"no container for {victim}"
            killed_at = time.monotonic()
            subprocess.run(["/usr/bin/docker", "-H", cluster["DOCKER_HOST"], "kill", container], check=True,
                           capture_output=True)
            until(lambda: victim_addr not in lb.up(backend), 30, interval=0.05, what="HAProxy stops using the task")
            figures["kill -> out of HAProxy (its check, or the member withdrawn)"] = time.monotonic() - killed_at
            until(lambda: victim_addr not in {f"{m['serviceEndpoint']['host']}:{m['serviceEndpoint']['port']}"
                                              for m in announcer.members(app_id).values()}, 60, interval=0.05,
                  what="the member withdrawn")
            figures["kill -> member removed"] = time.monotonic() - killed_at
            settled(4)

            load.set_phase("rolling change")
            changed = requests.put(sched.url + "/v2/apps" + app_id, json={**definition, "instances": 4,
                                                                          "env": {"VERSION": "two"}}, timeout=30)
            assert changed.status_code == 200, changed.text
            settled(4)
            assert requests.get(f"http://127.0.0.1:{front}/", timeout=5).text.strip() == "two"

            load.set_phase("scale to 1")
            client.scale_app(app_id.lstrip("/"), instances=1)
            settled(1)
            time.sleep(2)
            load.stop()
            counts = load.counts()
            report(request, "lb-end-to-end", counts, **figures)
            for phase in ("start", "scale 2->4", "rolling change", "scale to 1"):
                sent, failed = counts[phase]
                assert sent >= 20 and failed == 0, (phase, counts, load.errors)
            assert counts["docker kill"][0] >= 20
        finally:
            load.stop()
            lb.stop()
            announcer.client.stop()
            announcer.client.close()
