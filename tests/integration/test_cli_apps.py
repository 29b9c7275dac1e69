"""`halyard apps ...`, `halyard deployments` and `halyard events` against a real scheduler."""
from __future__ import annotations

import json
import select
import subprocess

import pytest
import requests

from .harness import HALYARD, cli
from .v1client import until

pytestmark = pytest.mark.integration


def halyard(sched, *args):
    proc = cli(sched, *args, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_app_commands(sched, tmp_path):
    definition = tmp_path / "cli.yaml"
    definition.write_text("id: /cli/app\ncmd: sleep 3600\ncpus: 0.01\nmem: 8\ninstances: 1\n"
                          "environments: {big: {instances: 2}}\n")
    watcher = subprocess.Popen([HALYARD, "events", "--type", "event_stream_attached", "--type", "deployment_success",
                                "--count", "2", "-o", "json"], stdout=subprocess.PIPE, text=True,
                               env={"HALYARD_API": sched.url})
    try:
        # The stream is attached before the app is created (a deployment without checks ends as soon
        # as its task runs: a watcher still starting up would miss it).
        assert select.select([watcher.stdout], [], [], 30)[0], "the event stream did not attach"
        assert json.loads(watcher.stdout.readline())["eventType"] == "event_stream_attached"
        assert "/cli/app: created" in halyard(sched, "apps", "create", str(definition))
        event = json.loads(watcher.communicate(timeout=60)[0].splitlines()[0])
        assert event["eventType"] == "deployment_success"
        assert [a["app"] for step in event["plan"]["steps"] for a in step["actions"]] == ["/cli/app"]  # Marathon's plan
    finally:
        watcher.kill()
    listed = json.loads(halyard(sched, "apps", "list", "-o", "json"))
    assert [a["id"] for a in listed] == ["/cli/app"] and listed[0]["tasksRunning"] == 1
    assert "/cli/app: 1/1 running" in halyard(sched, "apps", "show", "cli/app")
    assert "scaling to 3" in halyard(sched, "apps", "scale", "/cli/app", "3")
    until(lambda: len(sched.running("/cli/app")) == 3, 60, what="3 running")
    assert "updated" in halyard(sched, "apps", "update", str(definition), "--env", "big", "--force")
    until(lambda: requests.get(sched.url + "/v2/apps/cli/app", timeout=5).json()["app"]["instances"] == 2, 30)
    one = sched.running("/cli/app")[0]["id"]
    # With scale, Marathon answers the scale deployment (force: the update's may still be running).
    killed = requests.delete(f"{sched.url}/v2/apps/cli/app/tasks/{one}", params={"scale": "true", "force": "true"},
                             timeout=10)
    assert killed.status_code == 200 and set(killed.json()) == {"version", "deploymentId"}
    until(lambda: one not in {t["id"] for t in sched.tasks("/cli/app")}, 30, what="the task killed")
    assert requests.get(sched.url + "/v2/apps/cli/app", timeout=5).json()["app"]["instances"] == 1
    assert "restarting" in halyard(sched, "apps", "restart", "/cli/app", "--force")
    assert "ID" in halyard(sched, "deployments") or "no deployments under way" in halyard(sched, "deployments")
    assert "destroying" in halyard(sched, "apps", "destroy", "/cli/app", "--force")
    until(lambda: requests.get(sched.url + "/v2/apps/cli/app", timeout=5).status_code == 404, 60, what="gone")


def test_app_changes_wait_until_their_deployment_ends_unless_told_not_to(sched, tmp_path):
    definition = tmp_path / "wait.yaml"
    definition.write_text("id: /cli/wait\ncmd: sleep 3600\ncpus: 0.01\nmem: 8\ninstances: 2\n")

    def app():
        return requests.get(sched.url + "/v2/apps/cli/wait", timeout=5).json()["app"]

    created = halyard(sched, "apps", "create", str(definition))
    assert "/cli/wait: created" in created and "succeeded (2/2 running)" in created
    assert app()["tasksRunning"] == 2 and app()["deployments"] == []  # done when the command returns
    assert "succeeded (3/3 running)" in halyard(sched, "apps", "scale", "/cli/wait", "3")
    assert app()["tasksRunning"] == 3 and app()["deployments"] == []
    quick = halyard(sched, "apps", "scale", "/cli/wait", "1", "--no-wait")
    assert "scaling to 1" in quick and "succeeded" not in quick
    halyard(sched, "apps", "destroy", "/cli/wait", "--force")
    until(lambda: requests.get(sched.url + "/v2/apps/cli/wait", timeout=5).status_code == 404, 60, what="gone")
