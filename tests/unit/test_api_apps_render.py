"""Apps and tasks as Marathon renders them: ``embed=``, the list filters, task fields, kills with
``scale``, ``/ping`` and the metrics, over a real engine (in-process ASGI)."""
from __future__ import annotations

import pytest

from halyard.api.app_filters import LIST_ALWAYS, SHOW_ALWAYS, AppFilter, app_embeds, parse_label_selectors
from halyard.api.metrics import render
from halyard.engine.messages import Launch, Offers, StatusUpdate, Subscribed
from halyard.engine.task_health import HEALTH_UPDATE_REASON
from halyard.errors import ValidationError
from halyard.spec.app import AppSpec

from .test_api import call
from .test_engine import offer, status

NOW = "2023-11-14T22:13:20.000Z"   # FakeBackend's clock


def launch(backend, app_id="/web", running=True, healthy=None):
    """Start the app's tasks on offers; mark them running (and healthy/unhealthy)."""
    engine = backend.engine
    engine.handle(Subscribed("F1"))
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    tasks = [t.task_id for ins in out if isinstance(ins, Launch) for t in ins.tasks if t.task_id in engine.tasks
             and engine.tasks[t.task_id].app_id == app_id]
    for i, task_id in enumerate(tasks):
        agent = engine.tasks[task_id].agent_id
        if running:
            engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid=f"r{i}")))
        if healthy is not None:
            engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid=f"h{i}", healthy=healthy,
                                              reason=HEALTH_UPDATE_REASON,
                                              **({} if healthy else {"message": "HTTP 503"}))))
    return tasks


# --- embed and filters, pure --------------------------------------------------------------------

@pytest.mark.parametrize("values, expected", [
    (None, LIST_ALWAYS),
    (["apps.tasks"], LIST_ALWAYS | {"tasks"}),
    (["app.lastTaskFailure", "readiness"], LIST_ALWAYS | {"lastTaskFailure", "readiness"}),
    (["apps.failures"], LIST_ALWAYS | {"tasks", "lastTaskFailure"}),
    (["group.apps.taskStats", "apps.nonsense"], LIST_ALWAYS | {"taskStats"}),
])
def test_embeds_resolve_as_marathon_resolves_them(values, expected):
    assert app_embeds(values, LIST_ALWAYS) == expected


def test_one_app_always_embeds_what_marathon_shows_for_compatibility():
    assert app_embeds(["app.taskStats"], SHOW_ALWAYS) == {"counts", "tasks", "lastTaskFailure", "deployments",
                                                          "taskStats"}


def spec(**extra):
    return AppSpec.model_validate({"id": "/team/web", "cmd": "python3 -m http.server", **extra})


@pytest.mark.parametrize("label, labels, matches", [
    ("env==prod", {"env": "prod"}, True),
    ("env == prod", {"env": "qa"}, False),
    ("env!=prod", {"env": "qa"}, True),
    ("env!=prod", {}, False),   # a key the app lacks never matches, as in Marathon
    ("env in (prod, qa)", {"env": "qa"}, True),
    ("env notin (prod, qa)", {"env": "dev"}, True),
    ("env notin (prod, qa)", {"env": "qa"}, False),
    ("tier", {"tier": ""}, True),
    ("tier, env==prod", {"tier": "x"}, False),
    (r"a\ b in (c\,d)", {"a b": "c,d"}, True),
    ("", {}, True),
])
def test_label_selectors_match_as_marathons(label, labels, matches):
    assert AppFilter.parse(None, None, label).matches(spec(labels=labels)) is matches


@pytest.mark.parametrize("label", ["env some (a)", "env in a", "env test", "env==", "env in (a", "a,", "==b"])
def test_a_label_selector_that_does_not_parse_is_a_422_naming_label(label):
    with pytest.raises(ValidationError) as err:
        parse_label_selectors(label)
    assert err.value.problems[0].path == "label" and "cannot parse label selector" in err.value.problems[0].message


def test_cmd_and_id_are_case_insensitive_substrings():
    assert AppFilter.parse("HTTP.server", "TEAM/", None).matches(spec())
    assert not AppFilter.parse("nginx", None, None).matches(spec())
    assert not AppFilter.parse("x", None, None).matches(AppSpec.model_validate(
        {"id": "/d", "container": {"type": "DOCKER", "docker": {"image": "x"}}}))  # no cmd: no match


# --- over the API ---------------------------------------------------------------------------------

def test_the_app_list_honours_filters_and_embeds(api, backend):
    call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve", "cpus": 0.1, "mem": 32, "instances": 2,
                                   "labels": {"env": "prod"}, "portDefinitions": [{"port": 10101}]})
    call(api, "POST", "/v2/apps", {"id": "/worker", "cmd": "work", "cpus": 0.1, "mem": 32, "instances": 0,
                                   "labels": {"env": "qa"}})
    tasks = launch(backend)
    status_, body = call(api, "GET", "/v2/apps", query="embed=apps.tasks&embed=apps.taskStats")
    web = body["apps"][0]
    assert status_ == 200 and [t["id"] for t in web["tasks"]] == tasks
    assert web["tasksRunning"] == 2 and web["deployments"] == [] and "lastTaskFailure" not in web
    stats = web["taskStats"]["totalSummary"]["stats"]
    assert stats["counts"] == {"staged": 0, "running": 2, "healthy": 0, "unhealthy": 0}
    assert stats["lifeTime"] == {"averageSeconds": 0.0, "medianSeconds": 0.0}
    assert "withOutdatedConfig" not in web["taskStats"] and body["apps"][1]["taskStats"] == {}
    task = web["tasks"][0]
    assert task["servicePorts"] == [10101] and task["ipAddresses"][0]["protocol"] == "IPv4"
    assert task["startedAt"] == NOW and task["state"] == "TASK_RUNNING" and "healthCheckResults" not in task
    bare = call(api, "GET", "/v2/apps")[1]["apps"][0]
    assert "tasks" not in bare and "taskStats" not in bare and "tasksRunning" in bare and "deployments" in bare
    ids = lambda q: [a["id"] for a in call(api, "GET", "/v2/apps", query=q)[1]["apps"]]  # noqa: E731
    assert ids("label=env%3D%3Dqa") == ["/worker"] and ids("label=env%20in%20(prod,qa)") == ["/web", "/worker"]
    assert ids("id=WORK") == ["/worker"] and ids("cmd=serv") == ["/web"] and ids("cmd=serv&label=env!%3Dprod") == []
    status_, body = call(api, "GET", "/v2/apps", query="label=env%20in%20prod")
    assert status_ == 422 and body["details"][0]["path"] == "/label"


def test_one_app_embeds_tasks_and_its_failure_by_default_and_more_on_request(api, backend):
    call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve", "cpus": 0.1, "mem": 32, "instances": 1,
                                   "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}}]})
    (task_id,) = launch(backend, healthy=False)
    app = call(api, "GET", "/v2/apps/web")[1]["app"]
    assert [t["id"] for t in app["tasks"]] == [task_id] and app["tasksUnhealthy"] == 1 and "taskStats" not in app
    (result,) = app["tasks"][0]["healthCheckResults"]
    assert result == {"alive": False, "consecutiveFailures": 1, "firstSuccess": None, "lastSuccess": None,
                      "lastFailure": NOW, "lastFailureCause": "HTTP 503", "taskId": task_id, "instanceId": task_id}
    app = call(api, "GET", "/v2/apps/web", query="embed=app.taskStats&embed=app.readiness")[1]["app"]
    assert app["taskStats"]["withLatestConfig"]["stats"]["counts"]["unhealthy"] == 1
    assert app["readinessCheckResults"] == []
    task = call(api, "GET", "/v2/tasks")[1]["tasks"][0]
    assert task["healthCheckResults"][0]["alive"] is False and task["servicePorts"] == [10000]  # Marathon's default port, assigned


def test_kills_with_scale_answer_a_deployment(api, backend):
    call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve", "cpus": 0.1, "mem": 32, "instances": 3})
    tasks = launch(backend)
    assert not backend.engine.deployments  # the start is done: the tasks run
    status_, body = call(api, "DELETE", f"/v2/apps/web/tasks/{tasks[0]}", query="scale=true")
    assert status_ == 200 and set(body) == {"version", "deploymentId"}
    assert backend.engine.deployments[body["deploymentId"]].kind == "scale"
    assert backend.engine.apps["/web"].spec.instances == 2
    status_, body = call(api, "POST", "/v2/tasks/delete", {"ids": [tasks[1]]}, query="scale=true")
    assert status_ == 409 and body["deployments"]  # locked by the first scale deployment: nothing changes
    assert not backend.engine.tasks[tasks[1]].killing
    status_, body = call(api, "POST", "/v2/tasks/delete", {"ids": [tasks[1], "gone.1"]}, query="scale=true&force=true")
    assert status_ == 200 and backend.engine.deployments[body["deploymentId"]].kind == "scale"
    assert backend.engine.apps["/web"].spec.instances == 1
    status_, body = call(api, "POST", "/v2/tasks/delete", {"ids": [tasks[2]]}, query="wipe=true")
    assert status_ == 200 and [t["id"] for t in body["tasks"]] == [tasks[2]]
    assert backend.engine.tasks[tasks[2]].killing and backend.engine.apps["/web"].spec.instances == 1
    assert call(api, "POST", "/v2/tasks/delete", {"ids": "x"})[1]["details"][0]["path"] == "/ids"
    status_, body = call(api, "DELETE", f"/v2/apps/web/tasks/{tasks[2]}", query="scale=true&wipe=true")
    assert status_ == 422 and body["details"][0]["path"] == "/wipe"


@pytest.mark.parametrize("accept, answer", [
    (None, "pong"),
    ("*/*", "pong"),
    ("text/*", "pong"),
    ("application/json", '"pong"'),
    ("application/json, text/plain;q=0.5", '"pong"'),
    ("text/plain, application/json;q=0.9", "pong"),
])
def test_ping_answers_json_when_the_client_prefers_it(api, accept, answer):
    assert call(api, "GET", "/ping", headers=(("accept", accept),) if accept else (), raw=True) == (200, answer)


def test_ping_answers_no_content_when_the_client_takes_neither(api):
    assert call(api, "GET", "/ping", headers=(("accept", "image/png"),), raw=True) == (204, "")


def test_metrics_have_per_app_gauges_with_a_waiting_reason_class(api, backend):
    call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve", "cpus": 0.1, "mem": 32, "instances": 2})
    call(api, "POST", "/v2/apps", {"id": "/big", "cmd": "serve", "cpus": 100, "mem": 32, "instances": 1})
    launch(backend)
    text = render(backend).decode()
    assert 'halyard_app_instances{app="/web"} 2.0' in text and 'halyard_app_running{app="/web"} 2.0' in text
    assert 'halyard_app_healthy{app="/web"} 0.0' in text
    assert 'halyard_app_waiting{app="/big",reason="resources"} 1.0' in text
    assert 'halyard_app_waiting{app="/big",reason="no_offer"} 0.0' in text
    assert "# TYPE halyard_offer_cycles_total counter" in text and "halyard_deployments_failed_kept " in text


PROMETHEUS_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


def test_metrics_are_marathons_json_for_a_json_client_and_prometheus_text_otherwise(api, backend):
    """Marathon 1.7+ answers ``/metrics`` with its Dropwizard JSON (what marathon-python's
    ``get_metrics()`` reads); Halyard does so when the client asks for JSON, and answers
    Prometheus' text format to Prometheus and to any other client."""
    import collections
    import collections.abc

    from marathon import MarathonClient

    from .asgi_requests import session_for

    if not hasattr(collections, "Iterable"):  # marathon-python 0.13 on Python 3.10+
        collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]
    call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve", "cpus": 0.1, "mem": 32, "instances": 2})
    call(api, "POST", "/v2/apps", {"id": "/big", "cmd": "serve", "cpus": 100, "mem": 32, "instances": 1})
    launch(backend)
    client = MarathonClient("http://halyard", session=session_for(api))
    metrics = client.get_metrics()
    assert set(metrics) == {"version", "counters", "gauges", "histograms", "meters", "timers"}
    assert metrics["version"] == "4.0.0" and metrics["histograms"] == metrics["meters"] == metrics["timers"] == {}
    gauges = metrics["gauges"]
    assert gauges["halyard.leader.gauge"] == {"value": 1.0} and gauges["halyard.apps.gauge"] == {"value": 2.0}
    assert gauges["halyard.tasks.TASK_RUNNING.gauge"] == {"value": 2.0}
    assert gauges["halyard.app.instances.web.gauge"] == {"value": 2.0}
    assert gauges["halyard.app.waiting.big.resources.gauge"] == {"value": 1.0}
    assert gauges["halyard.offer.to.accept.p99.gauge.seconds"] == {"value": 9.25 / 1000}
    assert metrics["counters"] == {"halyard.offer.cycles.counter": {"count": backend.engine.offer_cycles}}
    assert all(set(g) == {"value"} and isinstance(g["value"], float) for g in gauges.values())
    for accept in (None, "*/*", "text/plain", PROMETHEUS_ACCEPT, "application/json;q=0.5, text/plain"):
        status_, text = call(api, "GET", "/metrics", headers=(("accept", accept),) if accept else ())
        assert status_ == 200 and 'halyard_app_instances{app="/web"} 2.0' in text, accept
