"""The HTTP API and an app's life on the real cluster: create, inspect, scale, restart, back off, destroy."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError

from .harness import framework, leading_scheduler, mesos_tasks, sleep_app
from .v1client import until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sched(cluster, tmp_path_factory):
    with leading_scheduler(cluster, tmp_path_factory.mktemp("api"), "--zk-auth", "halyard:s3cret") as s:
        yield s


def get(s, path, **kw):
    return requests.get(s.url + path, timeout=10, **kw)


def test_ping_validation_and_status_codes(sched):
    assert get(sched, "/ping").text == "pong"
    bad = requests.post(sched.url + "/v2/apps", json={"id": "/bad", "cmd": "x", "cpus": "lots",
                                                      "constraints": [["hostname", "UNIQ"]]}, timeout=10)
    assert bad.status_code == 422
    body = bad.json()
    assert body["message"] == "Object is not valid"
    assert {"path": "/cpus", "errors": ["expected a number, got 'lots'"]} in body["details"]
    assert any(p.startswith("constraints[0][1]: unknown operator 'UNIQ'") for p in body["problems"])
    assert get(sched, "/v2/apps/bad").status_code == 404  # nothing was created
    assert get(sched, "/v2/apps/bad").json() == {"message": "App '/bad' does not exist"}

    created = sched.post_app(sleep_app("/api/one", 1))
    assert created.status_code == 201
    data = created.json()
    assert data["id"] == "/api/one" and data["version"] and data["deployments"][0]["id"]
    assert sched.post_app(sleep_app("/api/one", 1)).status_code == 409
    assert "/api/one" in [a["id"] for a in get(sched, "/v2/apps").json()["apps"]]
    until(lambda: len(sched.running("/api/one")) == 1, 60, what="running")
    task = sched.running("/api/one")[0]
    assert set(task) >= {"id", "host", "ports", "state", "appId", "slaveId", "startedAt", "version"}
    assert requests.put(sched.url + "/v2/apps/api/one", json={"id": "/other"}, timeout=10).status_code == 422
    assert requests.delete(sched.url + "/v2/apps/api/one", params={"force": "true"}, timeout=10).status_code == 200


def test_a_task_gets_ports_env_labels_and_fetched_files(cluster, sched, tmp_path):
    payload = tmp_path / "payload.txt"
    payload.write_text("fetched!\n")
    out = tmp_path / "seen"
    app = {"id": "/api/env", "instances": 1, "cpus": 0.01, "mem": 8,
           "cmd": f"env | sort > {out}.env; cat payload.txt > {out}.fetch; sleep 3600",
           "portDefinitions": [{"port": 0, "name": "http"}, {"port": 0, "name": "admin"}],
           "env": {"GREETING": "hi"}, "labels": {"team": "api"},
           "fetch": [{"uri": f"file://{payload}", "extract": False}]}
    assert sched.post_app(app).status_code == 201
    until(lambda: Path(f"{out}.fetch").exists() and Path(f"{out}.env").stat().st_size, 60, what="task wrote its env")
    env = dict(line.split("=", 1) for line in Path(f"{out}.env").read_text().splitlines() if "=" in line)
    task = until(lambda: sched.running("/api/env"), 30, what="running")[0]
    ports = [str(p) for p in task["ports"]]
    assert [env["PORT0"], env["PORT1"]] == ports and env["PORT"] == ports[0] and env["PORTS"] == ",".join(ports)
    assert env["PORT_HTTP"] == ports[0] and env["PORT_ADMIN"] == ports[1]
    assert env["HOST"] == task["host"] and env["HALYARD_APP_ID"] == "/api/env" and env["GREETING"] == "hi"
    assert Path(f"{out}.fetch").read_text() == "fetched!\n"
    mesos = mesos_tasks(cluster, framework(cluster, sched.name)["name"])[task["id"]]
    labels = {lab["key"]: lab["value"] for lab in mesos["labels"]}
    assert labels["team"] == "api" and labels["HALYARD_APP_ID"] == "/api/env"
    assert requests.delete(sched.url + "/v2/apps/api/env", params={"force": "true"}, timeout=10).status_code == 200


def test_scale_down_kills_the_youngest_and_destroy_removes_tasks_and_state(cluster, sched):
    # minReadySeconds: the start deployment holds for 3 s after the task runs (without it, it would
    # end as soon as the task runs, as in Marathon, and the scale below would not be a conflict).
    assert sched.post_app(sleep_app("/api/scale", 1, minReadySeconds=3)).status_code == 201
    first = until(lambda: sched.running("/api/scale"), 60, what="first running")[0]["id"]
    assert sched.put_app("/api/scale", {"instances": 3}, force=False).status_code == 409  # still starting
    assert sched.put_app("/api/scale", {"instances": 3}).status_code == 200
    until(lambda: len(sched.running("/api/scale")) == 3, 60, what="3 running")
    assert sched.put_app("/api/scale", {"instances": 1}).status_code == 200
    until(lambda: [t["id"] for t in sched.tasks("/api/scale")] == [first], 60, what="the oldest kept")

    zk = KazooClient(hosts=cluster["ZK"].removeprefix("zk://") + "/" + sched.chroot, timeout=10,
                     auth_data=[("digest", "halyard:s3cret")])
    zk.start(timeout=10)
    try:
        app_node = "/apps/" + quote("/api/scale", safe="")
        assert zk.exists(app_node) and zk.exists(f"/tasks/{first}")
        assert requests.delete(sched.url + "/v2/apps/api/scale", params={"force": "true"}, timeout=10).status_code == 200
        until(lambda: get(sched, "/v2/apps/api/scale").status_code == 404, 60, what="app gone")
        assert not zk.exists(app_node) and not zk.exists(f"/tasks/{first}")
        assert first not in mesos_tasks(cluster, sched.name)
    finally:
        zk.stop()


def test_znodes_carry_digest_acls(cluster, sched):
    assert sched.post_app(sleep_app("/api/acl", 0)).status_code == 201
    anonymous = KazooClient(hosts=cluster["ZK"].removeprefix("zk://") + "/" + sched.chroot, timeout=10)
    anonymous.start(timeout=10)
    try:
        with pytest.raises(NoAuthError):
            anonymous.get("/apps/" + quote("/api/acl", safe=""))
    finally:
        anonymous.stop()
    requests.delete(sched.url + "/v2/apps/api/acl", timeout=10)


def test_backoff_is_visible_and_can_be_reset(sched):
    app = {"id": "/api/crash", "cmd": "exit 1", "cpus": 0.01, "mem": 8, "instances": 1,
           "backoffSeconds": 30, "backoffFactor": 2}
    assert sched.post_app(app).status_code == 201

    def delayed():
        entries = [q for q in get(sched, "/v2/queue").json()["queue"] if q["app"]["id"] == "/api/crash"]
        return entries and entries[0]["delay"]["timeLeftSeconds"] > 20 and entries[0]

    entry = until(delayed, 60, what="a visible backoff after the first failure")
    assert entry["count"] == 1 and not entry["delay"]["overdue"]
    placement = get(sched, "/v1/apps/api/crash/placement").json()
    assert placement["currentDelay"] == 30 and placement["pending"] == 1
    failures_before = get(sched, "/v2/apps/api/crash").json()["app"]["lastTaskFailure"]["taskId"]
    assert requests.delete(sched.url + "/v2/queue/api/crash/delay", timeout=10).status_code == 204
    # Reset: the next attempt comes at once, not 30 s later (it fails again and backs off again).
    until(lambda: get(sched, "/v2/apps/api/crash").json()["app"]["lastTaskFailure"]["taskId"] != failures_before,
          15, what="a new attempt right after the reset")
    assert requests.delete(sched.url + "/v2/apps/api/crash", params={"force": "true"}, timeout=10).status_code == 200


def test_an_app_that_cannot_be_placed_says_why(sched):
    assert sched.post_app(sleep_app("/api/huge", 2, cpus=10)).status_code == 201
    reasons = until(lambda: get(sched, "/v1/apps/api/huge/placement").json()["reasons"], 30, what="reasons")
    assert "insufficient cpus (needs 10) on 3 of 3 agents" in reasons
    queue = [q for q in get(sched, "/v2/queue").json()["queue"] if q["app"]["id"] == "/api/huge"][0]
    assert queue["count"] == 2 and queue["reasons"] == reasons
    assert requests.delete(sched.url + "/v2/apps/api/huge", params={"force": "true"}, timeout=10).status_code == 200


def test_restart_replaces_every_task(sched):
    assert sched.post_app(sleep_app("/api/restart", 2)).status_code == 201
    before = {t["id"] for t in until(lambda: len(sched.running("/api/restart")) == 2 and sched.running("/api/restart"),
                                     60, what="2 running")}
    resp = requests.post(sched.url + "/v2/apps/api/restart/restart", params={"force": "true"}, timeout=10)
    assert resp.status_code == 200 and resp.json()["deploymentId"]
    until(lambda: len(sched.running("/api/restart")) == 2 and not before & {t["id"] for t in sched.tasks("/api/restart")},
          60, what="all tasks replaced")
    assert requests.delete(sched.url + "/v2/apps/api/restart", params={"force": "true"}, timeout=10).status_code == 200


def web_app(app_id: str, check_path: str) -> dict:
    return {"id": app_id, "instances": 1, "cpus": 0.01, "mem": 16,
            "cmd": "echo ok > /tmp/index.html && exec httpd -f -p $PORT0 -h /tmp",
            "container": {"type": "DOCKER", "docker": {"image": "local/busybox:1", "network": "HOST"}},
            "healthChecks": [{"protocol": "HTTP", "path": check_path, "portIndex": 0, "gracePeriodSeconds": 3,
                              "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 2,
                              "delaySeconds": 0}]}


def test_health_checks_report_health_and_replace_failing_tasks(sched):
    assert sched.post_app(web_app("/api/healthy", "/")).status_code == 201
    app = until(lambda: (a := get(sched, "/v2/apps/api/healthy").json()["app"])["tasksHealthy"] == 1 and a, 60,
                what="healthy")
    assert app["tasks"][0]["healthCheckResults"][0]["alive"] is True
    assert sched.post_app(web_app("/api/sick", "/missing")).status_code == 201
    first = until(lambda: sched.running("/api/sick"), 60, what="sick task running")[0]["id"]
    until(lambda: first not in {t["id"] for t in sched.tasks("/api/sick")}, 60, what="unhealthy task killed")
    failure = get(sched, "/v2/apps/api/sick").json()["app"]["lastTaskFailure"]
    assert failure["taskId"] == first
    until(lambda: sched.tasks("/api/sick"), 60, what="replacement launched")
    for app_id in ("/api/healthy", "/api/sick"):
        assert requests.delete(sched.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=10).status_code == 200
