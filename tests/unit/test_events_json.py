"""Marathon's event JSON for every domain event (checked field for field and through
marathon-python's own event classes), and the hub that feeds the event streams."""
from __future__ import annotations

import asyncio
import json
import threading
import time
import typing

import pytest
from marathon.models.events import EventFactory

from halyard.api.event_json import MARATHON_TYPES, condition, group_tree, light_plan, marathon_events
from halyard.api.event_stream import KEEPALIVE, EventHub, sse
from halyard.api.server import create_app
from halyard.engine.app_records import DeploymentRecord, TaskRecord
from halyard.engine.domain_events import (
    AgentJoined,
    AgentLeft,
    AppChanged,
    AppTerminated,
    DeploymentFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    DomainEvent,
    GroupChanged,
    HealthChanged,
    PlacementFailed,
    PlanEnded,
    PlanStepChanged,
    TaskChanged,
    UnhealthyTaskKilled,
)
from halyard.jobs.domain_events import JobDefined, JobDeleted, JobRunChanged, JobRunSkipped
from halyard.jobs.records import RunRecord
from halyard.spec.app import HALYARD_FIELDS
from halyard.spec.validation import parse_app, parse_job
from halyard.timestamps import iso

from .test_api import call


def shown(app: typing.Any) -> dict:
    """An app as Marathon's events hold it: its public definition without Halyard's own fields."""
    return {k: v for k, v in app.public_json().items() if k not in HALYARD_FIELDS}


AT = 1_800_000_000.25
WHEN = "2027-01-15T08:00:00.250Z"
V = "2023-11-14T22:13:20.500Z"  # the deployment's version
TV = "2023-11-14T22:13:20.000Z"  # the task's config version
APP = parse_app({"id": "/web", "cmd": "serve", "instances": 2})
OLD = parse_app({"id": "/web", "cmd": "serve", "instances": 1})
JOB = parse_job({"id": "etl", "cmd": "make-report"})
TASK = TaskRecord("web.1", "/web", 1_700_000_000.0, "S1", "10.0.0.1", (31000, 31001), state="TASK_STAGING")
DEPLOYMENT = DeploymentRecord(id="d1", app_id="/web", kind="scale", version=1_700_000_000.5, started_at=AT,
                              previous=OLD.to_json(), target=APP.to_json())
ROOT = {"id": "/", "groups": [], "pods": [], "dependencies": [], "version": V}
PLAN = {"id": "d1", "original": {**ROOT, "apps": [{**shown(OLD), "version": V}]},
        "target": {**ROOT, "apps": [{**shown(APP), "version": V}]},
        "steps": [{"actions": [{"action": "ScaleApplication", "app": "/web"}]}], "version": V}
STEP = {"actions": [{"action": "ScaleApplication", "app": "/web"}]}
RUN = RunRecord(run_id="r1", job_id="etl", spec=JOB, created_at=AT, trigger="api", scheduled_for=None,
                status="FAILED", history=(), attempt=2, task_id="job.etl.r1.2", exit_code=3)
FAILED = DeploymentRecord(**{**DEPLOYMENT.__dict__, "status": "failed", "failures": ("web.1: TASK_FAILED",)})
CANCELLED = DeploymentRecord(**{**DEPLOYMENT.__dict__, "status": "cancelled",
                                "failures": ("cancelled: rolled back",)})
# A deployment of two apps: /web scales first, then /api starts.
API = parse_app({"id": "/api", "cmd": "serve", "instances": 1})
IN_PLAN = DeploymentRecord(**{**DEPLOYMENT.__dict__, "step": 0})
STARTS = DeploymentRecord(id="d1", app_id="/api", kind="start", version=1_700_000_000.5, started_at=AT,
                          target=API.to_json(), step=1, held=True)
MULTI = (IN_PLAN, STARTS)
WHOLE = {**PLAN, "target": {**ROOT, "apps": [{**shown(APP), "version": V}, {**shown(API), "version": V}]},
         "steps": [STEP, {"actions": [{"action": "StartApplication", "app": "/api"}]}]}
FAILED_PLAN = (DeploymentRecord(**{**IN_PLAN.__dict__, "status": "failed", "failures": ("web.1: TASK_FAILED",)}),
               DeploymentRecord(**{**STARTS.__dict__, "status": "failed", "held": False}))
UPDATE = {"slaveId": "S2", "taskId": "web.1", "taskStatus": "TASK_RUNNING", "message": "up", "appId": "/web",
          "host": "10.0.0.1", "ipAddresses": [{"ipAddress": "10.0.0.1", "protocol": "IPv4"}], "ports": [31000, 31001],
          "version": TV}
KILL = {"appId": "/web", "taskId": "web.1", "instanceId": "web.1", "version": TV,
        "reason": "Container exited with status 143", "host": "10.0.0.1", "slaveId": "S1"}


def ev(event_type: str, **fields):
    return {"eventType": event_type, "timestamp": WHEN, **fields}


# What the engine's emits (engine/*.py, jobs/book.py) put on the stream, field for field.
CASES = [
    (AppChanged(APP, AT), [ev("api_post_event", clientIp=None, uri="/v2/apps/web", appDefinition=shown(APP))]),
    (AppChanged(APP, AT, "10.9.8.7", "/v2/apps"), []),  # asked by a client: the request's audit record is its
                                                         # api_post_event (tests/unit/test_audit.py)
    (AppTerminated("/web", AT), [ev("app_terminated_event", appId="/web")]),
    (DeploymentStarted(DEPLOYMENT, AT), [ev("deployment_info", plan=PLAN, currentStep=STEP)]),
    (DeploymentSucceeded(DEPLOYMENT, AT), [ev("deployment_step_success", plan=PLAN, currentStep=STEP),
                                           ev("deployment_success", id="d1", plan=PLAN)]),
    (DeploymentFailed(FAILED, AT), [ev("deployment_step_failure", plan=PLAN, currentStep=STEP),
                                    ev("deployment_failed", id="d1", plan=PLAN, reason="web.1: TASK_FAILED",
                                       status="failed", failures=["web.1: TASK_FAILED"])]),
    (DeploymentFailed(CANCELLED, AT), [ev("deployment_failed", id="d1", plan=PLAN, reason="cancelled: rolled back",
                                          status="cancelled", failures=["cancelled: rolled back"])]),
    # A deployment of several apps is told as a whole: its apps' own events are not shown.
    (DeploymentStarted(IN_PLAN, AT), []),
    (DeploymentSucceeded(IN_PLAN, AT), []),
    (DeploymentFailed(FAILED_PLAN[0], AT), []),
    (PlanStepChanged(MULTI, 0, "started", AT), [ev("deployment_info", plan=WHOLE, currentStep=STEP)]),
    (PlanStepChanged(MULTI, 1, "succeeded", AT),
     [ev("deployment_step_success", plan=WHOLE, currentStep=WHOLE["steps"][1])]),
    (PlanStepChanged(FAILED_PLAN, 0, "failed", AT), [ev("deployment_step_failure", plan=WHOLE, currentStep=STEP)]),
    (PlanEnded(MULTI, "succeeded", AT), [ev("deployment_success", id="d1", plan=WHOLE)]),
    (PlanEnded(FAILED_PLAN, "failed", AT), [ev("deployment_failed", id="d1", plan=WHOLE, reason="web.1: TASK_FAILED",
                                               status="failed", failures=["web.1: TASK_FAILED"])]),
    (GroupChanged("/", AT, AT), [ev("group_change_success", groupId="/", version=WHEN)]),
    (GroupChanged("/prod", AT, AT, "App is locked by one or more deployments."),
     [ev("group_change_failed", groupId="/prod", version=WHEN, reason="App is locked by one or more deployments.")]),
    (TaskChanged(TASK, "TASK_RUNNING", "up", "S2", AT),
     [ev("status_update_event", **UPDATE),
      ev("instance_changed_event", instanceId="web.1", condition="Running", runSpecId="/web", agentId="S2",
         host="10.0.0.1", runSpecVersion=TV)]),
    (TaskChanged(TASK.evolve(state="TASK_RUNNING"), "TASK_RUNNING", "up", "S2", AT),  # same state: no change
     [ev("status_update_event", **UPDATE)]),
    (TaskChanged(TASK, "TASK_LOST", "", "", AT, "REASON_SLAVE_REMOVED"),  # no agent in the update: the task's own
     [ev("status_update_event", **{**UPDATE, "slaveId": "S1", "taskStatus": "TASK_LOST", "message": ""}),
      ev("instance_changed_event", instanceId="web.1", condition="Unreachable", runSpecId="/web", agentId="S1",
         host="10.0.0.1", runSpecVersion=TV)]),
    (HealthChanged(TASK, False, AT), [ev("health_status_changed_event", appId="/web", taskId="web.1",
                                         instanceId="web.1", version=TV, alive=False),
                                      ev("instance_health_changed_event", instanceId="web.1", runSpecId="/web",
                                         healthy=False, runSpecVersion=TV)]),
    (UnhealthyTaskKilled(TASK, "Container exited with status 143", "S1", AT),
     [ev("unhealthy_task_kill_event", **KILL), ev("unhealthy_instance_kill_event", **KILL)]),
    # Halyard's own: Marathon has no event for a placement strategy that failed, nor for jobs.
    (PlacementFailed("app", "/web", "strategy 'x' failed: scorer 'y' raised RuntimeError('boom')", AT),
     [ev("placement_failed_event", appId="/web",
         reason="strategy 'x' failed: scorer 'y' raised RuntimeError('boom')")]),
    (PlacementFailed("job", "etl", "strategy 'x' failed: KeyError('zone')", AT, "r1"),
     [ev("placement_failed_event", jobId="etl", runId="r1", reason="strategy 'x' failed: KeyError('zone')")]),
    (JobDefined(JOB, True, AT), [ev("job_created", jobId="etl", job=JOB.public_json())]),
    (JobDefined(JOB, False, AT), [ev("job_updated", jobId="etl", job=JOB.public_json())]),
    (JobDeleted("etl", AT), [ev("job_deleted", jobId="etl")]),
    (JobRunChanged(RUN, "FAILED", "exited with status 3", AT),
     [ev("job_run_status_event", jobId="etl", runId="r1", status="FAILED", attempt=2, taskId="job.etl.r1.2",
         exitCode=3, message="exited with status 3")]),
    (JobRunSkipped("etl", "missed by 90s (startingDeadlineSeconds)", AT),
     [ev("job_run_skipped", jobId="etl", reason="missed by 90s (startingDeadlineSeconds)")]),
    (AgentJoined("S3", "127.0.0.3", AT), [ev("agent_added_event", agentId="S3", host="127.0.0.3")]),
    (AgentLeft("S3", "127.0.0.3", AT), [ev("agent_removed_event", agentId="S3", host="127.0.0.3")]),
]
IDS = [f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)]


def test_timestamps_are_marathons():
    assert iso(AT) == WHEN


@pytest.mark.parametrize("event, expected", CASES, ids=IDS)
def test_marathon_events(event, expected):
    assert marathon_events(event) == expected


def test_every_domain_event_type_has_a_rendering():
    assert {type(e) for e, _ in CASES} == set(typing.get_args(DomainEvent))


@pytest.mark.parametrize("event, expected", CASES, ids=IDS)
def test_marathon_python_parses_every_marathon_event_and_knows_no_halyard_one(event, expected):
    """marathon-python 0.13.0 builds its objects from every field it knows (a plan of another
    shape raises), and raises on a type it does not know: Halyard's own types are not Marathon's."""
    for rendered in marathon_events(event):
        if rendered["eventType"] in MARATHON_TYPES:
            parsed = EventFactory().process(rendered)
            assert parsed.event_type == rendered["eventType"]
            if "plan" in rendered and hasattr(parsed, "plan"):
                assert parsed.plan.id == "d1" and parsed.plan.target.apps[0]["id"] == "/web"
                assert parsed.plan.steps[0].actions[0].app == "/web"
        else:
            assert rendered["eventType"] in ("placement_failed_event", "job_created", "job_updated", "job_deleted",
                                             "job_run_status_event", "job_run_skipped", "agent_added_event",
                                             "agent_removed_event")
            with pytest.raises(Exception, match="Unknown event_type"):
                EventFactory().process(rendered)


def test_a_plan_in_groups_a_new_app_and_a_removed_one():
    new = DeploymentRecord(id="d2", app_id="/shop/api/v1", kind="start", version=1_700_000_000.5, started_at=AT,
                           target=parse_app({"id": "/shop/api/v1", "cmd": "x"}).to_json())
    [info] = marathon_events(DeploymentStarted(new, AT))
    assert info["plan"]["original"] == ROOT | {"apps": []}
    shop = info["plan"]["target"]["groups"][0]
    assert shop["id"] == "/shop" and shop["apps"] == [] and shop["groups"][0]["id"] == "/shop/api"
    assert [a["id"] for a in shop["groups"][0]["apps"]] == ["/shop/api/v1"]
    assert info["currentStep"] == {"actions": [{"action": "StartApplication", "app": "/shop/api/v1"}]}
    stop = DeploymentRecord(id="d3", app_id="/web", kind="stop", version=1_700_000_000.5, started_at=AT,
                            previous=OLD.to_json())
    [info] = marathon_events(DeploymentStarted(stop, AT))
    assert info["plan"]["target"]["apps"] == [] and info["plan"]["original"]["apps"][0]["id"] == "/web"


def test_secrets_in_a_plan_are_masked():
    spec = parse_app({"id": "/db", "cmd": "x", "env": {"PW": {"value": "hunter2", "secret": True}}})
    d = DeploymentRecord(id="d4", app_id="/db", kind="start", version=AT, started_at=AT, target=spec.to_json())
    [info] = marathon_events(DeploymentStarted(d, AT))
    assert "hunter2" not in str(info) and info["plan"]["target"]["apps"][0]["env"]["PW"] == {"secret": True}


def test_group_tree_puts_siblings_in_one_group():
    tree = group_tree([{"id": "/a/x"}, {"id": "/a/y"}, {"id": "/z"}], V)
    assert [g["id"] for g in tree["groups"]] == ["/a"] and [a["id"] for a in tree["apps"]] == ["/z"]
    assert [a["id"] for a in tree["groups"][0]["apps"]] == ["/a/x", "/a/y"]


def test_the_light_plan_has_no_original_or_target():
    info, success = marathon_events(DeploymentSucceeded(DEPLOYMENT, AT))
    assert light_plan(success)["plan"] == {"id": "d1", "steps": PLAN["steps"], "version": V}
    assert light_plan(info)["currentStep"] == STEP and "original" in success["plan"]  # not changed in place
    update = marathon_events(AppTerminated("/web", AT))[0]
    assert light_plan(update) is update


@pytest.mark.parametrize("state, reason, expected", [
    ("TASK_RUNNING", None, "Running"), ("TASK_KILLED", None, "Killed"), ("TASK_LOST", "REASON_RECONCILIATION",
                                                                         "Unreachable"),
    ("TASK_LOST", "REASON_TASK_UNKNOWN", "Unknown"), ("TASK_LOST", "REASON_EXECUTOR_TERMINATED", "Gone"),
    ("TASK_UNREACHABLE", None, "Unreachable"), ("TASK_GONE_BY_OPERATOR", None, "Gone")])
def test_conditions_are_marathons(state, reason, expected):
    assert condition(state, reason) == expected


# --- the hub ----------------------------------------------------------------------------------


def scenario(body):
    """Run an async test body on a fresh event loop, with a deadline."""
    asyncio.run(asyncio.wait_for(body(), 10))


async def take(stream) -> str:
    return await asyncio.wait_for(stream.__anext__(), 3)


def frame(text: str) -> tuple[str, str]:
    kind, data = text.rstrip("\n").split("\n")
    return kind, data


def test_the_hub_filters_by_type_and_keeps_an_idle_stream_alive():
    async def body():
        hub = EventHub(keepalive=0.05, poll=0.01)
        stream = hub.stream(hub.subscribe(frozenset({"app_terminated_event", "job_deleted"})))
        assert await take(stream) == KEEPALIVE and await take(stream) == KEEPALIVE  # idle, still open
        hub.publish(AppChanged(APP, AT))  # filtered out
        hub.publish(AppTerminated("/web", AT))
        hub.publish(JobDeleted("nightly", AT))  # Halyard's own, asked for by name
        assert (await take(stream)).startswith(
            'event: app_terminated_event\ndata: {"eventType": "app_terminated_event"')
        assert await take(stream) == ('event: job_deleted\ndata: {"eventType": "job_deleted", "timestamp": "%s", '
                                      '"jobId": "nightly"}\n\n' % iso(AT))
        assert await take(stream) == KEEPALIVE
        assert hub.streams == 1
        await stream.aclose()
        assert hub.streams == 0
    scenario(body)


def test_the_default_stream_carries_marathons_types_only_and_attach_detach_go_to_every_stream():
    async def body():
        hub = EventHub(keepalive=0.05, poll=0.01)
        first = hub.stream(hub.subscribe(remote_address="10.1.1.1"))
        assert frame(await take(first))[0] == "event: event_stream_attached"  # its own
        second = hub.subscribe(remote_address="10.2.2.2")
        kind, data = frame(await take(first))
        assert kind == "event: event_stream_attached" and '"remoteAddress": "10.2.2.2"' in data
        hub.publish(JobDeleted("nightly", AT))  # not Marathon's: not on a default stream
        hub.publish(PlacementFailed("app", "/web", "boom", AT))
        hub.publish(AppTerminated("/web", AT))
        assert frame(await take(first))[0] == "event: app_terminated_event"
        hub.unsubscribe(second)
        kind, data = frame(await take(first))
        assert kind == "event: event_stream_detached" and '"remoteAddress": "10.2.2.2"' in data
        assert await take(first) == KEEPALIVE
        await first.aclose()
    scenario(body)


def test_repeated_event_types_and_the_light_plan_format():
    async def body():
        hub = EventHub(keepalive=0.05, poll=0.01)
        light = hub.stream(hub.subscribe(frozenset({"deployment_info", "deployment_success"}), light=True))
        full = hub.stream(hub.subscribe(frozenset({"deployment_success"})))
        hub.publish(DeploymentStarted(DEPLOYMENT, AT))
        hub.publish(DeploymentSucceeded(DEPLOYMENT, AT))
        assert frame(await take(light))[0] == "event: deployment_info"
        kind, data = frame(await take(light))
        assert kind == "event: deployment_success" and '"original"' not in data and '"steps"' in data
        kind, data = frame(await take(full))
        assert kind == "event: deployment_success" and '"original"' in data and '"target"' in data
        await light.aclose()
        await full.aclose()
    scenario(body)


def test_keepalives_come_on_time_while_unwanted_events_flow():
    """A stream filtered to a rare type still gets its keep-alive although other events keep coming."""
    async def body():
        hub = EventHub(keepalive=0.2, poll=0.05)
        stream = hub.stream(hub.subscribe(frozenset({"deployment_success"})))
        stop = threading.Event()

        def chatter():
            while not stop.is_set():
                hub.publish(AppTerminated("/noise", AT))
                time.sleep(0.01)

        threading.Thread(target=chatter, daemon=True).start()
        try:
            started = time.monotonic()
            assert await take(stream) == KEEPALIVE
            assert time.monotonic() - started < 0.5
        finally:
            stop.set()
            await stream.aclose()
    scenario(body)


def test_a_stream_ends_when_its_scheduler_stops_leading_or_its_client_is_gone():
    async def body():
        hub = EventHub(keepalive=0.02, poll=0.01)
        leading, gone = [True], [False]

        async def leads():
            return leading[0]

        async def left():
            return gone[0]

        stream = hub.stream(hub.subscribe(frozenset({"app_terminated_event"})), leading=leads)
        assert await take(stream) == KEEPALIVE
        leading[0] = False
        with pytest.raises(StopAsyncIteration):
            await take(stream)
        assert hub.streams == 0
        watcher = hub.stream(hub.subscribe(remote_address="10.3.3.3"))
        stream = hub.stream(hub.subscribe(frozenset({"app_terminated_event"}), remote_address="10.4.4.4"), gone=left)
        assert frame(await take(watcher))[0] == "event: event_stream_attached"
        assert '"10.4.4.4"' in frame(await take(watcher))[1]
        gone[0] = True
        with pytest.raises(StopAsyncIteration):  # before any keep-alive: within a poll
            await take(stream)
        kind, data = frame(await take(watcher))
        assert kind == "event: event_stream_detached" and '"10.4.4.4"' in data
        await watcher.aclose()
    scenario(body)


def test_a_slow_stream_is_closed_not_the_publisher_blocked():
    async def body():
        hub = EventHub(keepalive=0.05, poll=0.01, max_queued=2)
        stream = hub.stream(hub.subscribe())
        publisher = threading.Thread(target=lambda: [hub.publish(AppTerminated(f"/a{i}", AT)) for i in range(5)])
        publisher.start()
        publisher.join(2)
        assert not publisher.is_alive()
        await asyncio.sleep(0.05)  # let the loop queue what the publisher handed over
        assert frame(await take(stream))[0] == "event: event_stream_attached"
        assert '"/a0"' in await take(stream)
        with pytest.raises(StopAsyncIteration):  # Marathon drops a consumer that falls behind
            await take(stream)
        assert hub.streams == 0
    scenario(body)


def test_an_event_that_cannot_be_rendered_is_logged_and_not_published(caplog):
    async def body():
        hub = EventHub(keepalive=0.05, poll=0.01)
        hub.publish(object())  # type: ignore[arg-type]
        assert "cannot render" not in caplog.text  # no stream open: nothing is rendered
        stream = hub.stream(hub.subscribe())
        assert frame(await take(stream))[0] == "event: event_stream_attached"
        hub.publish(object())  # type: ignore[arg-type]
        assert await take(stream) == KEEPALIVE
        assert "cannot render" in caplog.text
        await stream.aclose()
    scenario(body)


def test_sse_frames():
    assert sse({"eventType": "x", "a": 1}) == 'event: x\ndata: {"eventType": "x", "a": 1}\n\n'


# --- the route (what does not stream) ---------------------------------------------------------


class Standby:
    """A backend that does not lead; ``known`` is the leader it knows (None: none)."""

    def __init__(self, known):
        self.known = known

    def leader(self):
        return self.known

    def address(self):
        return "me:8080"

    def stale_for(self):
        return None  # a standby serves nothing stale


def test_a_standby_redirects_to_the_leaders_advertised_address_keeping_the_query():
    api = create_app(Standby("leader.example:8080"), EventHub())
    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/v2/events", "raw_path": b"/v2/events", "root_path": "",
             "query_string": b"event_type=a&event_type=b&plan-format=light", "headers": [(b"host", b"test")],
             "client": ("127.0.0.1", 1234), "server": ("test", 80)}
    asyncio.run(api(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 307
    assert dict(start["headers"])[b"location"] == (
        b"http://leader.example:8080/v2/events?event_type=a&event_type=b&plan-format=light")
    status, body = call(create_app(Standby(None), EventHub()), "GET", "/v2/events")
    assert status == 503 and "no leader" in body["message"]


def test_an_unknown_plan_format_is_a_422_naming_it():
    hub = EventHub()
    status, body = call(create_app(Standby("me:8080"), hub), "GET", "/v2/events", query="plan-format=heavy")
    assert status == 422 and body["problems"] == ["plan-format: expected 'light' or 'full', got 'heavy'"]
    assert hub.streams == 0


def test_a_running_deployment_keeps_its_definitions_across_a_failover_and_an_ended_one_drops_them():
    stored = DeploymentRecord.from_json(json.loads(json.dumps(DEPLOYMENT.to_json())))
    assert stored == DEPLOYMENT and marathon_events(DeploymentStarted(stored, AT))[0]["plan"] == PLAN
    ended = DeploymentRecord.from_json(FAILED.to_json())
    assert ended.previous is None and ended.target is None and ended.failures == FAILED.failures
