"""Marathon's client libraries read apps and tasks from Halyard and kill tasks, unchanged:
marathon-python's embeds, list filters, ``kill_task``/``kill_given_tasks`` with ``scale``, and
marathon-deploy deploying a JSON app file (it first asks ``/ping`` for JSON)."""
from __future__ import annotations

import collections
import collections.abc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from marathon import MarathonClient
from marathon.models import MarathonApp

from .harness import sleep_app, unique
from .v1client import until

pytestmark = pytest.mark.integration

# marathon-python 0.13 uses `collections.Iterable`, which Python 3.10 removed (see test_marathon_client.py).
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

MARATHON_DEPLOY = str(Path(sys.executable).parent / "marathon-deploy")


@pytest.fixture(scope="module")
def client(sched):
    return MarathonClient(sched.url)


def delete_all(client, *app_ids):
    for app_id in app_ids:
        try:
            client.delete_app(app_id, force=True)
        except Exception as exc:  # noqa: BLE001 - the app may not exist (the test failed before creating it)
            if "does not exist" not in str(exc):
                raise
    until(lambda: not {a.id for a in client.list_apps()} & set(app_ids), 90, what=f"{app_ids} deleted")


def web_app(app_id: str) -> MarathonApp:
    return MarathonApp.from_json({
        "id": app_id, "cmd": "exec python3 -m http.server $PORT0", "cpus": 0.05, "mem": 32, "instances": 2,
        "labels": {"env": "prod", "tier": "web"}, "portDefinitions": [{"port": 0, "protocol": "tcp"}],
        "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 5,
                          "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}]})


def test_marathon_python_reads_embeds_and_filters_the_app_list(client):
    web, worker = "/" + unique("mcr-web"), "/" + unique("mcr-worker")
    try:
        client.create_app(web, web_app(web))
        client.create_app(worker, MarathonApp.from_json({**sleep_app(worker, 1), "labels": {"env": "qa"}}))
        until(lambda: client.get_app(web).tasks_healthy == 2 and client.get_app(worker).tasks_running == 1, 90,
              what="web healthy, worker running")

        # marathon-lb's first call: every app with its tasks
        apps = {a.id: a for a in client.list_apps(embed_tasks=True)}
        tasks = apps[web].tasks
        assert len(tasks) == 2 and all(t.state == "TASK_RUNNING" and t.ports and t.service_ports for t in tasks)
        assert all(t.ip_addresses and t.ip_addresses[0].protocol == "IPv4" and t.started_at for t in tasks)
        (health,) = tasks[0].health_check_results
        assert health.alive is True and health.first_success is not None and health.consecutive_failures == 0
        assert health.task_id == tasks[0].id and health.instance_id == tasks[0].id
        assert len(apps[worker].tasks) == 1
        assert all(not a.tasks for a in client.list_apps())  # no embed, no tasks

        # Marathon's selectors, cmd and id substrings
        def ids(**query):
            return sorted(a.id for a in client.list_apps(**query) if a.id in (web, worker))
        assert ids(label="env==qa") == [worker] and ids(label="tier") == [web]
        assert ids(label="env in (prod, qa)") == [web, worker] and ids(label="env notin (prod)") == [worker]
        assert ids(cmd="HTTP.SERVER") == [web] and ids(app_id=worker.upper()[2:]) == [worker]

        # every embed parses in marathon-python's models
        stats = client.get_app(web, embed_task_stats=True).task_stats
        assert stats.total_summary.stats.counts.healthy == 2 and stats.with_latest_config.stats.life_time
        everything = client.list_apps(embed_tasks=True, embed_counts=True, embed_deployments=True,
                                      embed_readiness=True, embed_last_task_failure=True, embed_failures=True,
                                      embed_task_stats=True)
        assert {a.id for a in everything} >= {web, worker}
    finally:
        delete_all(client, web, worker)


def test_marathon_python_kills_tasks_with_and_without_scale(client):
    app_id = "/" + unique("mcr-kill")
    try:
        client.create_app(app_id, MarathonApp.from_json(sleep_app(app_id, 3)))
        until(lambda: client.get_app(app_id).tasks_running == 3 and not client.get_app(app_id).deployments, 90,
              what="3 running, deployed")
        first, second, third = [t.id for t in client.list_tasks(app_id)]

        answer = client.kill_task(app_id, first, scale=True)
        assert set(answer) == {"version", "deploymentId"} and answer["deploymentId"]
        until(lambda: client.get_app(app_id).tasks_running == 2 and not client.list_deployments(), 60,
              what="scaled to 2, deployment done")
        assert client.get_app(app_id).instances == 2

        assert client.kill_given_tasks([second], scale=True) is True
        until(lambda: client.get_app(app_id).instances == 1 and client.get_app(app_id).tasks_running == 1
              and not client.list_deployments(), 60, what="scaled to 1")

        assert client.kill_given_tasks([third]) is True  # without scale: replaced
        until(lambda: [t.id for t in client.list_tasks(app_id) if t.state == "TASK_RUNNING"] not in ([], [third]),
              60, what="the killed task replaced")
        assert client.get_app(app_id).instances == 1
    finally:
        delete_all(client, app_id)


def test_marathon_deploy_deploys_a_json_app_file(client, sched, tmp_path):
    app_id = "/" + unique("mcr-deploy")
    path = tmp_path / "app.json"
    path.write_text(json.dumps(sleep_app(app_id, 1)))
    try:
        done = subprocess.run([MARATHON_DEPLOY, "-m", sched.url, "--put", str(path)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[0] == '"pong"' and f"Creating app: {app_id}" in done.stdout
        until(lambda: client.get_app(app_id).tasks_running == 1, 60, what="deployed app running")

        path.write_text(json.dumps(sleep_app(app_id, 2)))  # the same file, changed: an update
        done = subprocess.run([MARATHON_DEPLOY, "-m", sched.url, "--put", str(path)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0 and f"Updating app: {app_id}" in done.stdout, done.stdout + done.stderr
        until(lambda: client.get_app(app_id).instances == 2, 60, what="updated to 2 instances")
    finally:
        delete_all(client, app_id)


def test_dcos_marathon_cannot_be_imported_on_python_3():
    """dcos-marathon 1.0.14 (its last release) is Python 2 code: ``print response.status_code`` is
    a SyntaxError on import, before it could talk to any Marathon. Its API is marathon-python's
    ``MarathonClient`` plus DC/OS login, which the tests above drive."""
    done = subprocess.run([sys.executable, "-c", "import dcos_marathon"], capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        pytest.fail("dcos_marathon imports now: drive it like marathon-python (create/list/get/scale/delete)")
    assert "SyntaxError" in done.stderr and "print response.status_code" in done.stderr
