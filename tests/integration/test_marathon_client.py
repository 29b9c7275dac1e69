"""An existing Marathon client library (marathon-python) drives Halyard unchanged."""
from __future__ import annotations

import collections
import collections.abc

import pytest
from marathon import MarathonClient
from marathon.models import MarathonApp

from .v1client import until

pytestmark = pytest.mark.integration

# marathon-python 0.13 (its last release) encodes constraints with `collections.Iterable`, which
# Python 3.10 removed: give it the alias older Pythons had. The library is otherwise unchanged.
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def client(sched):
    return MarathonClient(sched.url)


def test_marathon_python_manages_an_app(client):
    app = client.create_app("mc-web", MarathonApp(cmd="sleep 3600", cpus=0.01, mem=8, instances=2,
                                                  constraints=[["hostname", "UNIQUE"]]))
    assert app.id == "/mc-web" and app.instances == 2
    until(lambda: client.get_app("mc-web").tasks_running == 2, 60, what="2 running")
    assert len({t.host for t in client.list_tasks("mc-web")}) == 2
    assert [a.id for a in client.list_apps()] == ["/mc-web"]
    assert client.get_info().elected is True and client.get_leader()
    assert client.list_deployments() == [] or all(d.affected_apps == ["/mc-web"] for d in client.list_deployments())
    assert isinstance(client.list_queue(), list)
    result = client.scale_app("mc-web", instances=1, force=True)
    assert result["deploymentId"]
    until(lambda: client.get_app("mc-web").tasks_running == 1, 60, what="scaled to 1")
    killed = client.kill_tasks("mc-web")
    assert len(killed) == 1
    until(lambda: client.get_app("mc-web").tasks_running == 1, 60, what="replaced after kill")
    assert client.restart_app("mc-web", force=True)["deploymentId"]
    assert client.delete_app("mc-web", force=True)["deploymentId"]
    until(lambda: client.list_apps() == [], 60, what="deleted")


def test_an_app_without_checks_can_be_scaled_as_soon_as_its_tasks_run(client):
    """A Marathon client's usual sequence: create, wait until tasksRunning == instances, scale at
    once. The deployment of an app without health or readiness checks is done once its tasks run,
    as in Marathon, so the scale is not refused with 409 (locked by a deployment)."""
    client.create_app("mc-quick", MarathonApp(cmd="sleep 3600", cpus=0.01, mem=8, instances=2))
    deleted = False
    try:
        until(lambda: client.get_app("mc-quick").tasks_running == 2, 60, interval=0.05, what="2 running")
        result = client.scale_app("mc-quick", instances=1)  # no force: a 409 raises MarathonHttpError
        assert result["deploymentId"]
        until(lambda: client.get_app("mc-quick").tasks_running == 1 and not client.list_deployments(), 60,
              what="scaled to 1, deployment ended")
        assert client.delete_app("mc-quick")["deploymentId"]  # no force either
        deleted = True
    finally:
        if not deleted:
            client.delete_app("mc-quick", force=True)
        until(lambda: all(a.id != "/mc-quick" for a in client.list_apps()), 60, what="deleted")


def test_marathon_python_reads_and_updates_an_app_with_every_halyard_field(client, sched):
    """An app deployed with Halyard's own fields (as ``deploy`` sets ``minReadySeconds``) is read,
    listed, found in its group and updated by marathon-python, whose ``MarathonApp`` refuses any
    field Marathon does not have; the update keeps Halyard's fields (read with embed=app.halyard)."""
    import requests

    from halyard.spec.app import HALYARD_FIELDS

    extensions = {"minReadySeconds": 1, "drainSeconds": 1, "pinDigest": False, "strategy": {"name": "spread", "args": {}},
                  "environments": {"production": {"instances": 3}}}
    assert set(extensions) == set(HALYARD_FIELDS)
    app_id = "/mc-ext/web"
    try:
        created = sched.post_app({"id": app_id, "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": 1,
                                  **extensions})
        assert created.status_code == 201, created.text
        until(lambda: client.get_app(app_id).tasks_running == 1, 60, what="1 running")
        assert [a.id for a in client.list_apps(embed_counts=True, embed_task_stats=True)] == [app_id]
        assert [a.id for a in client.get_group("/mc-ext").apps] == [app_id]
        app = client.get_app(app_id, embed_tasks=True)
        app.instances = 2
        assert client.update_app(app_id, app, force=True)["deploymentId"]
        until(lambda: client.get_app(app_id).tasks_running == 2, 60, what="2 running")
        shown = requests.get(f"{sched.url}/v2/apps{app_id}", params={"embed": "app.halyard"}, timeout=10).json()["app"]
        assert {k: shown[k] for k in HALYARD_FIELDS} == extensions and shown["instances"] == 2
    finally:
        client.delete_app(app_id, force=True)
        until(lambda: all(a.id != app_id for a in client.list_apps()), 60, what="deleted")
