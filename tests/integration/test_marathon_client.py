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
