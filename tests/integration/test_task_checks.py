"""What the cluster's executors report beyond a task's state, and how deployments of several apps
read on the event stream, on the real cluster, through marathon-python where it reaches:

* ``healthChecks[].ignoreHttp1xx``: a task whose health endpoint answers 102 is never killed and
  stays without a health result; without it the check fails and the task is killed.
* Marathon's ``check`` (a Mesos check run by the executor): its result shows on the task as
  ``checkResult``, and the task's ``ipAddresses`` are those Mesos reports. (The cluster runs the
  executors of the main checkout: this test passes once the executors' checks are there.)
* A group deployment of two dependent apps is one plan on marathon-python's ``event_stream()``: a
  ``deployment_info`` and a ``deployment_step_success`` per step, one ``deployment_success``,
  and a ``group_change_success``.
"""
from __future__ import annotations

import collections
import collections.abc
import time
from datetime import timezone

import pytest
import requests
from marathon import MarathonClient
from marathon.models import MarathonApp, MarathonHealthCheck

from .harness import unique
from .test_events import ClientStream, Listener
from .v1client import until

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:The .warn. method is deprecated:DeprecationWarning")]

if not hasattr(collections, "Iterable"):  # marathon-python 0.13 on Python 3.10+
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

# A health endpoint that answers every GET with 102 Processing.
ANSWERS_102 = ("exec python3 -c 'import http.server as h, os\n"
               "class H(h.BaseHTTPRequestHandler):\n"
               "    def do_GET(self): self.send_response(102); self.end_headers()\n"
               "h.HTTPServer((\"\", int(os.environ[\"PORT0\"])), H).serve_forever()'")


def delete_all(url: str, app_ids: list[str]) -> None:
    for app_id in app_ids:
        requests.delete(url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
    for app_id in app_ids:
        until(lambda: requests.get(url + "/v2/apps" + app_id, timeout=5).status_code == 404, 60,
              what=f"{app_id} gone")


def test_ignore_http1xx_keeps_a_task_answering_1xx_without_a_result_and_without_it_the_task_is_killed(sched):
    client = MarathonClient(sched.url)
    base = "/" + unique("h1xx")
    lenient, strict = base + "/lenient", base + "/strict"

    def app(ignore: bool) -> MarathonApp:
        check = MarathonHealthCheck(protocol="HTTP", path="/", port_index=0, grace_period_seconds=1,
                                    interval_seconds=1, timeout_seconds=2, max_consecutive_failures=2,
                                    ignore_http1xx=ignore, delay_seconds=0)
        return MarathonApp(cmd=ANSWERS_102, cpus=0.05, mem=32, instances=1, backoff_seconds=1, health_checks=[check])

    try:
        client.create_app(lenient, app(True))
        client.create_app(strict, app(False))
        assert client.get_app(lenient).health_checks[0].ignore_http1xx is True
        first = until(lambda: [t for t in client.list_tasks(lenient) if t.started_at], 90,
                      what="the lenient app's task running")[0]
        until(lambda: client.get_app(strict).last_task_failure, 90, what="the strict app's task killed")
        failure = client.get_app(strict).last_task_failure
        assert failure.state == "TASK_KILLED"
        # The lenient task has answered 102 for longer than the strict one took to be killed.
        started = first.started_at.replace(tzinfo=timezone.utc).timestamp()
        until(lambda: time.time() - started > 10, 30, what="10 s of 102 answers")
        (task,) = client.list_tasks(lenient)
        assert task.id == first.id and task.state == "TASK_RUNNING"
        assert task.health_check_results == []   # never healthy, never unhealthy: no result at all
        shown = client.get_app(lenient)
        assert (shown.tasks_healthy, shown.tasks_unhealthy, shown.last_task_failure) == (0, 0, None)
    finally:
        delete_all(sched.url, [lenient, strict])


def test_a_mesos_check_result_and_the_addresses_mesos_reports_show_on_the_task(sched):
    """marathon-python 0.13 cannot read an app with ``check`` (nor can it read one from Marathon):
    raw HTTP here."""
    base = "/" + unique("chk")
    http_app, exec_app = base + "/http", base + "/exec"
    definitions = [
        {"id": http_app, "cmd": "exec python3 -m http.server $PORT0", "cpus": 0.05, "mem": 32, "instances": 1,
         "check": {"http": {"portIndex": 0, "path": "/nope"}, "intervalSeconds": 1, "timeoutSeconds": 2,
                   "delaySeconds": 0}},
        {"id": exec_app, "cmd": "sleep 3600", "cpus": 0.02, "mem": 16, "instances": 1,
         "check": {"exec": {"command": {"shell": "exit 3"}}, "intervalSeconds": 1, "timeoutSeconds": 2,
                   "delaySeconds": 0}}]

    def task_of(app_id: str) -> dict:
        tasks = requests.get(sched.url + "/v2/apps" + app_id + "/tasks", timeout=5).json()["tasks"]
        return tasks[0] if tasks else {}

    try:
        for definition in definitions:
            created = requests.post(sched.url + "/v2/apps", json=definition, timeout=30)
            assert created.status_code == 201, created.text
        http_task = until(lambda: task_of(http_app).get("checkResult") and task_of(http_app), 90,
                          what="the HTTP check's result")
        assert http_task["checkResult"] == {"http": {"statusCode": 404}} and http_task["state"] == "TASK_RUNNING"
        exec_task = until(lambda: task_of(exec_app).get("checkResult") and task_of(exec_app), 90,
                          what="the command check's result")
        assert exec_task["checkResult"] == {"command": {"exitCode": 3}}
        # A failing check never kills: the same task still runs.
        assert task_of(exec_app)["id"] == exec_task["id"] and task_of(exec_app)["state"] == "TASK_RUNNING"
        # The agent reports its address in the running task's container status (host networking).
        assert http_task["ipAddresses"] == [{"ipAddress": http_task["host"], "protocol": "IPv4"}]
        listed = requests.get(sched.url + "/v2/tasks", timeout=5).json()["tasks"]
        assert next(t for t in listed if t["id"] == exec_task["id"])["checkResult"] == {"command": {"exitCode": 3}}
    finally:
        delete_all(sched.url, [http_app, exec_app])


def test_tasks_on_every_agent_show_the_address_mesos_reports_through_marathon_python(sched):
    """With host networking the agent reports its own address in the task's container status."""
    client = MarathonClient(sched.url)
    app_id = "/" + unique("ips")
    client.create_app(app_id, MarathonApp(cmd="sleep 3600", cpus=0.01, mem=8, instances=3, backoff_seconds=1,
                                          constraints=[["hostname", "UNIQUE"]]))
    try:
        def running() -> list:
            found = [t for t in client.list_tasks(app_id) if t.state == "TASK_RUNNING"]
            return found if len(found) == 3 else []

        tasks = until(running, 90, what="a task running on each agent")
        assert len({t.host for t in tasks}) == 3
        for task in tasks:
            assert [(ip.ip_address, ip.protocol) for ip in task.ip_addresses] == [(task.host, "IPv4")]
    finally:
        delete_all(sched.url, [app_id])


def test_a_group_deployment_is_one_plan_on_marathon_pythons_event_stream(sched):
    group = "/" + unique("plan")
    db, web = group + "/db", group + "/web"
    raw = Listener(sched.url + "/v2/events")   # first: it sees marathon-python's stream attach
    stream = ClientStream(sched.url)
    try:
        until(lambda: len(raw.of("event_stream_attached")) >= 2, 15, what="both streams attached")
        body = {"id": group, "apps": [
            {"id": "web", "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": 1, "dependencies": ["db"]},
            {"id": "db", "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": 1}]}
        created = requests.post(sched.url + "/v2/groups", json=body, timeout=30)
        assert created.status_code == 201, created.text
        deployment_id = created.json()["deploymentId"]

        def of_plan(event_type: str) -> list:
            """marathon-python keeps the plan of deployment_info and _step_*, the id of the end."""
            return [e for e in stream.of(event_type) if (e.plan.id if hasattr(e, "plan") else e.id) == deployment_id]

        until(lambda: of_plan("deployment_success"), 90, what="the group deployed")
        stream.check()
        info = of_plan("deployment_info")
        steps = [[a.app for a in s.actions] for s in info[0].plan.steps]
        assert steps == [[db], [web]]
        assert [[a["app"] for a in e.current_step["actions"]] for e in info] == steps
        assert len(of_plan("deployment_step_success")) == 2
        assert len(of_plan("deployment_success")) == 1 and not of_plan("deployment_failed")
        assert sorted(a["id"] for a in info[0].plan.target.groups[0]["apps"]) == [db, web]
        changed = stream.of("group_change_success")
        assert changed and changed[0].group_id == "/" and changed[0].version
        # The raw stream: the same, in order, each step's end naming its step.
        raw.check()
        mine = [e for e in raw.events if e.get("plan", {}).get("id") == deployment_id]
        assert [e["eventType"] for e in mine] == ["deployment_info", "deployment_step_success", "deployment_info",
                                                  "deployment_step_success", "deployment_success"]
        assert [[a["app"] for a in e["currentStep"]["actions"]] for e in mine if "currentStep" in e] == [
            [db], [db], [web], [web]]
        assert raw.of("group_change_success", groupId="/")
    finally:
        stream.stop()
        raw.close()
        requests.delete(sched.url + "/v2/groups" + group, params={"force": "true"}, timeout=30)
        for app_id in (db, web):
            until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code == 404, 60,
                  what=f"{app_id} gone")
