"""Health checks of command apps, run by the local cluster's command executor as Mesos runs them."""
from __future__ import annotations

import pytest
import requests

from .v1client import until

pytestmark = pytest.mark.integration


def check(path: str) -> dict:
    return {"protocol": "MESOS_HTTP", "path": path, "portIndex": 0, "gracePeriodSeconds": 3, "intervalSeconds": 1,
            "timeoutSeconds": 2, "delaySeconds": 0, "maxConsecutiveFailures": 2}


def app(app_id: str, path: str) -> dict:
    return {"id": app_id, "cmd": "exec python3 -m http.server $PORT0", "cpus": 0.05, "mem": 32, "instances": 1,
            "healthChecks": [check(path)]}


def test_a_command_apps_http_check_reports_healthy_and_a_failing_one_kills_its_task(sched):
    def shown(app_id):
        return requests.get(sched.url + "/v2/apps" + app_id, timeout=5).json()["app"]

    try:
        assert requests.post(sched.url + "/v2/apps", json=app("/health/ok", "/"), timeout=30).status_code == 201
        assert requests.post(sched.url + "/v2/apps", json=app("/health/bad", "/nope"), timeout=30).status_code == 201
        until(lambda: shown("/health/ok")["tasksHealthy"] == 1, 60, what="the good check passes")
        task = shown("/health/ok")["tasks"][0]
        (result,) = task["healthCheckResults"]
        assert result["alive"] is True and result["consecutiveFailures"] == 0 and result["firstSuccess"]
        assert result["lastSuccess"] and result["taskId"] == result["instanceId"] == task["id"]
        until(lambda: (shown("/health/bad").get("lastTaskFailure") or {}).get("state") == "TASK_KILLED", 60,
              what="the failing check kills its task")
        assert shown("/health/ok")["tasksHealthy"] == 1 and not shown("/health/ok").get("lastTaskFailure")
    finally:
        for app_id in ("/health/ok", "/health/bad"):
            requests.delete(sched.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
        for app_id in ("/health/ok", "/health/bad"):
            until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code == 404, 60,
                  what=f"{app_id} gone")


def test_a_readiness_check_holds_the_deployment_until_the_task_is_ready(sched):
    """Marathon's readinessChecks, run by the scheduler: the task serves 404 on /ready for a few
    seconds, then 200; the deployment ends only then, and the results show both."""
    definition = {"id": "/health/ready", "cpus": 0.05, "mem": 32, "instances": 1,
                  "cmd": "(sleep 4; touch ready) & exec python3 -m http.server $PORT0",
                  "portDefinitions": [{"port": 0, "name": "http-api"}],
                  "readinessChecks": [{"path": "/ready", "intervalSeconds": 1, "timeoutSeconds": 2,
                                       "preserveLastResponse": True}]}

    def shown():
        return requests.get(sched.url + "/v2/apps/health/ready", params={"embed": "app.readiness"},
                            timeout=5).json()["app"]

    try:
        created = requests.post(sched.url + "/v2/apps", json=definition, timeout=30)
        assert created.status_code == 201, created.text
        deployment_id = created.json()["deployments"][0]["id"]
        # A check may first find nothing listening yet (no response at all): wait for the 404.
        not_ready = until(lambda: [r for r in shown()["readinessCheckResults"]
                                   if not r["ready"] and "lastResponse" in r], 60,
                          what="a readiness check that is not ready yet")
        assert not_ready[0]["lastResponse"]["status"] == 404 and not_ready[0]["name"] == "readinessCheck"
        running = requests.get(sched.url + f"/v2/deployments/{deployment_id}", timeout=5).json()
        assert running["status"] == "running" and shown()["tasksRunning"] == 1
        until(lambda: requests.get(sched.url + f"/v2/deployments/{deployment_id}", timeout=5).json()["status"]
              == "succeeded", 60, what="the deployment done once ready")
        [result] = shown()["readinessCheckResults"]
        assert result["ready"] is True and result["lastResponse"]["status"] == 200
    finally:
        requests.delete(sched.url + "/v2/apps/health/ready", params={"force": "true"}, timeout=30)
        until(lambda: requests.get(sched.url + "/v2/apps/health/ready", timeout=5).status_code == 404, 60,
              what="gone")
