"""Marathon's own app definitions on the real cluster: its example corpus POSTed to the scheduler
(201, or 422 naming only what Halyard cannot do), Marathon exports accepted unchanged, and
marathon-python's ``update_app(id, get_app(id))`` accepted without changing anything, secrets
included (the tasks check their secret value, so a lost one shows as a task that does not run)."""
from __future__ import annotations

import collections
import collections.abc
import json
import subprocess
from datetime import datetime, timezone

import pytest
import requests
import yaml
from marathon import MarathonClient
from marathon.models import MarathonApp

from ..unit.test_marathon_defs import EXPORTS, REFUSED, STORE, corpus
from .harness import docker_container_of, leading_scheduler, unique
from .v1client import until

pytestmark = pytest.mark.integration

if not hasattr(collections, "Iterable"):  # marathon-python 0.13 on Python >= 3.10 (see test_marathon_client)
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def sched(cluster, tmp_path_factory):
    """A scheduler with a secret store (YAML: source -> value)."""
    workdir = tmp_path_factory.mktemp("marathon_defs")
    secrets = workdir / "secrets.yaml"
    secrets.write_text(yaml.safe_dump(STORE))
    with leading_scheduler(cluster, workdir, "--secrets-file", str(secrets)) as s:
        yield s


@pytest.fixture(scope="module")
def client(sched):
    return MarathonClient(sched.url)


def delete_all(sched, ids: list[str]) -> None:
    for app_id in ids:
        requests.delete(sched.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
    until(lambda: not {a["id"] for a in requests.get(sched.url + "/v2/apps", timeout=10).json()["apps"]} & set(ids),
          90, what="apps deleted")


def test_every_marathon_example_is_created_or_refused_with_the_reason(sched):
    created: list[str] = []
    try:
        for name, raw in corpus():
            if "/" + raw["id"].strip("/") in created:  # two examples are both /sleep: the later one replaces it
                delete_all(sched, ["/" + raw["id"].strip("/")])
            # instances 0: the definition as Marathon wrote it, without taking the shared cluster's resources
            resp = requests.post(sched.url + "/v2/apps", json={**raw, "instances": 0}, timeout=30)
            expected = REFUSED.get(name)
            if expected is None:
                assert resp.status_code == 201, (name, resp.text)
                created.append(resp.json()["id"])
            else:
                body = resp.json()
                assert resp.status_code == 422, (name, resp.text)
                assert {p.split(": ", 1)[0] for p in body["problems"]} == set(expected), (name, body["problems"])
                assert all(d["path"].startswith("/") and d["errors"] for d in body["details"])
        assert len(created) == 26 - len(REFUSED) and len(set(created)) == len(created) - 1
        listed = {a["id"]: a for a in requests.get(sched.url + "/v2/apps", timeout=10).json()["apps"]}
        assert set(created) <= set(listed)
        assert listed["/myapp"]["portDefinitions"][0]["port"] == 10013  # `ports`, converted
        assert listed["/test/sleep60"]["dependencies"] == ["/test/sleep120", "/other/namespace/or/app"]
    finally:
        delete_all(sched, created)


def runnable(name: str) -> dict:
    """A Marathon export as GET /v2/apps/{id} gave it, made runnable here: no internet to fetch from, and
    (docker) a command that serves its port only when its secret arrived."""
    app = json.loads((EXPORTS / name).read_text())["app"]
    app["fetch"] = []
    if app.get("container"):
        app["cmd"] = 'test "$DB_PASSWORD" = s3cret && echo ok > /tmp/index.html && exec httpd -f -p 8080 -h /tmp'
        app["healthChecks"] = []  # the export's MESOS_TCP check: not what this test is about
    return app


def running_ids(sched, app_id: str) -> set[str]:
    return {t["id"] for t in sched.running(app_id)}


def ran_for(sched, app_id: str, seconds: float, not_in: set[str]) -> set[str]:
    """The app's running tasks, once every one of them (none of ``not_in``) has run ``seconds``."""
    tasks = sched.running(app_id)
    now = datetime.now(timezone.utc)
    old = [t for t in tasks if t.get("startedAt") and t["id"] not in not_in and
           (now - datetime.fromisoformat(t["startedAt"].replace("Z", "+00:00"))).total_seconds() >= seconds]
    return {t["id"] for t in old} if tasks and len(old) == len(tasks) else set()


# marathon-python 0.13 cannot read an app with `check` (its MarathonApp takes no unknown field; so
# against Marathon too): that export goes GET -> PUT over plain HTTP, as a script would.
@pytest.mark.parametrize("name, via", [("docker-bridge-1.10.json", "marathon-python"), ("command-host-1.5.json", "http")])
def test_a_marathon_export_runs_and_round_trips_unchanged(sched, client, name, via):
    app = runnable(name)
    app_id = app["id"]
    resp = sched.post_app(app)
    assert resp.status_code == 201, resp.text
    try:
        first = until(lambda: ran_for(sched, app_id, 3, set()), 120, what=f"{app_id} running 3 s")
        until(lambda: not client.list_deployments(), 60, what="deployment done")
        before = requests.get(sched.url + "/v2/apps" + app_id, timeout=10).json()["app"]
        if via == "marathon-python":
            result = client.update_app(app_id, client.get_app(app_id))  # no force: nothing may be in the way
        else:
            resp = requests.put(sched.url + "/v2/apps" + app_id, json=before, timeout=30)
            assert resp.status_code == 200, resp.text
            result = resp.json()
        assert result["deploymentId"]
        until(lambda: not client.list_deployments(), 60, what="no-op deployment done")
        after = requests.get(sched.url + "/v2/apps" + app_id, timeout=10).json()["app"]
        changing = ("version", "versionInfo", "deployments", "tasks", "tasksRunning", "tasksHealthy", "tasksStaged",
                    "tasksUnhealthy", "lastTaskFailure")
        assert {k: v for k, v in after.items() if k not in changing} == \
               {k: v for k, v in before.items() if k not in changing}
        assert running_ids(sched, app_id) == first  # nothing restarted
        if "DB_PASSWORD" in app.get("env", {}):
            assert after["env"]["DB_PASSWORD"] == {"secret": "dbpw"}
            # A restart launches with the value kept: the new task runs only if it got "s3cret".
            client.restart_app(app_id, force=True)
            until(lambda: ran_for(sched, app_id, 3, first), 120, what="restarted task running 3 s with its secret")
            assert "lastTaskFailure" not in requests.get(sched.url + "/v2/apps" + app_id, timeout=10).json()["app"]
    finally:
        delete_all(sched, [app_id])


def test_marathon_python_keeps_an_inline_secret_through_get_and_update(sched, client):
    app_id = "/defs/secret-inline"
    client.create_app(app_id, MarathonApp(cmd='test "$PW" = inline-pw && exec sleep 3600', cpus=0.01, mem=8,
                                          instances=1, env={"PW": {"value": "inline-pw", "secret": True}}))
    try:
        first = until(lambda: ran_for(sched, app_id, 2, set()), 120, what="running 2 s")
        until(lambda: not client.list_deployments(), 60, what="deployment done")
        shown = client.get_app(app_id)
        assert shown.env["PW"] == {"secret": True}
        assert client.update_app(app_id, shown)["deploymentId"]
        until(lambda: not client.list_deployments(), 60, what="no-op deployment done")
        assert running_ids(sched, app_id) == first
        client.restart_app(app_id, force=True)
        until(lambda: ran_for(sched, app_id, 2, first), 120, what="restarted task running 2 s with its secret")
        assert client.get_app(app_id).last_task_failure is None
    finally:
        delete_all(sched, [app_id])


def test_a_secret_the_store_lacks_is_a_422_naming_it(sched):
    resp = sched.post_app({"id": "/defs/nosecret", "cmd": "sleep 1", "instances": 0,
                           "env": {"PW": {"secret": "pw"}}, "secrets": {"pw": {"source": "/not/there"}}})
    assert resp.status_code == 422
    assert resp.json()["problems"] == ["env.PW: secret 'pw': the scheduler's secret store has no source '/not/there'"]
    assert all(a["id"] != "/defs/nosecret" for a in requests.get(sched.url + "/v2/apps", timeout=10).json()["apps"])


@pytest.fixture
def docker_network(cluster):
    """A Docker network on the cluster's dockerd (made beforehand, as on real agents), removed after."""
    docker = ["/usr/bin/docker", "-H", cluster["DOCKER_HOST"]]
    name = "halyard-" + unique("net")
    subprocess.run(docker + ["network", "create", "-d", "bridge", name], check=True, capture_output=True)
    yield name
    subprocess.run(docker + ["network", "rm", name], capture_output=True)


def test_a_named_container_network_and_a_tty_reach_docker(sched, cluster, docker_network):
    """``networks: [{mode: container, name}]`` joins that Docker network, and ``tty`` gives the
    container a tty. (A ``check`` is sent to Mesos in the TaskInfo too, but this cluster's stand-in
    executors do not run Mesos checks: that part is tested on the TaskInfo, in the unit tests.)"""
    app_id = "/defs/networked"
    resp = sched.post_app({"id": app_id, "cmd": "exec sleep 3600", "cpus": 0.01, "mem": 8, "tty": True,
                           "networks": [{"mode": "container", "name": docker_network}],
                           "container": {"type": "DOCKER", "docker": {"image": "local/busybox:1"},
                                         "portMappings": [{"containerPort": 80, "name": "http"}]},
                           "check": {"exec": {"command": {"shell": "true"}}}})
    assert resp.status_code == 201, resp.text
    try:
        task = until(lambda: sched.running(app_id), 120, what="running")[0]
        docker = ["/usr/bin/docker", "-H", cluster["DOCKER_HOST"]]
        cid = until(lambda: docker_container_of(cluster, task["id"]), 30, what="its container")
        inspect = json.loads(subprocess.run(docker + ["inspect", cid], capture_output=True, text=True, check=True).stdout)[0]
        assert list(inspect["NetworkSettings"]["Networks"]) == [docker_network]
        assert inspect["Config"]["Tty"] is True
    finally:
        delete_all(sched, [app_id])
