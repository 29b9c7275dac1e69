"""Marathon's event JSON for every domain event, and the hub that feeds the event streams."""
from __future__ import annotations

import threading
import typing

import pytest

from halyard.api.events import EventHub, marathon_event
from halyard.timestamps import iso
from halyard.engine.app_records import DeploymentRecord, TaskRecord
from halyard.engine.events import (AppChanged, AppTerminated, DeploymentFailed, DeploymentStarted, DeploymentSucceeded,
                                   DomainEvent, HealthChanged, PlacementFailed, TaskChanged)
from halyard.jobs.events import JobDefined, JobDeleted, JobRunChanged, JobRunSkipped
from halyard.jobs.records import RunRecord
from halyard.validation import parse_app, parse_job

AT = 1_800_000_000.25
WHEN = "2027-01-15T08:00:00.250Z"
APP = parse_app({"id": "/web", "cmd": "serve", "instances": 2})
JOB = parse_job({"id": "etl", "cmd": "make-report"})
TASK = TaskRecord("web.1", "/web", 1_700_000_000.0, "S1", "10.0.0.1", (31000, 31001), state="TASK_STAGING")
DEPLOYMENT = DeploymentRecord(id="d1", app_id="/web", kind="deploy", version=1_700_000_000.5, started_at=AT)
PLAN = {"id": "d1", "version": "2023-11-14T22:13:20.500Z", "affectedApps": ["/web"], "kind": "deploy"}
RUN = RunRecord(run_id="r1", job_id="etl", spec=JOB, created_at=AT, trigger="api", scheduled_for=None,
                status="FAILED", history=(), attempt=2, task_id="job.etl.r1.2", exit_code=3)

# What the engine's _emit calls (engine/engine.py, jobs/book.py) put on the stream, field for field.
CASES = [
    (AppChanged(APP, AT), {"eventType": "api_post_event", "timestamp": WHEN, "clientIp": None, "uri": "/v2/apps/web",
                           "appDefinition": APP.public_json()}),
    (AppTerminated("/web", AT), {"eventType": "app_terminated_event", "timestamp": WHEN, "appId": "/web"}),
    (DeploymentStarted(DEPLOYMENT, AT), {"eventType": "deployment_info", "timestamp": WHEN, "plan": PLAN,
                                         "currentStep": {"actions": [{"app": "/web"}]}}),
    (DeploymentSucceeded(DEPLOYMENT, AT), {"eventType": "deployment_success", "timestamp": WHEN, "id": "d1",
                                           "plan": PLAN}),
    (DeploymentFailed(DeploymentRecord(**{**DEPLOYMENT.__dict__, "status": "cancelled",
                                          "failures": ("cancelled: rolled back",)}), AT),
     {"eventType": "deployment_failed", "timestamp": WHEN, "id": "d1", "plan": PLAN, "reason": "cancelled",
      "failures": ["cancelled: rolled back"]}),
    (TaskChanged(TASK, "TASK_RUNNING", "up", "S2", AT),
     {"eventType": "status_update_event", "timestamp": WHEN, "slaveId": "S2", "taskId": "web.1",
      "taskStatus": "TASK_RUNNING", "message": "up", "appId": "/web", "host": "10.0.0.1",
      "ipAddresses": [{"ipAddress": "10.0.0.1", "protocol": "IPv4"}], "ports": [31000, 31001],
      "version": "2023-11-14T22:13:20.000Z"}),
    (TaskChanged(TASK, "TASK_FAILED", "", "", AT),  # no agent in the update: the task's own
     {"eventType": "status_update_event", "timestamp": WHEN, "slaveId": "S1", "taskId": "web.1",
      "taskStatus": "TASK_FAILED", "message": "", "appId": "/web", "host": "10.0.0.1",
      "ipAddresses": [{"ipAddress": "10.0.0.1", "protocol": "IPv4"}], "ports": [31000, 31001],
      "version": "2023-11-14T22:13:20.000Z"}),
    (HealthChanged(TASK, False, AT), {"eventType": "health_status_changed_event", "timestamp": WHEN, "appId": "/web",
                                      "taskId": "web.1", "instanceId": "web.1",
                                      "version": "2023-11-14T22:13:20.000Z", "alive": False}),
    # Halyard's own: Marathon has no event for a placement strategy that failed.
    (PlacementFailed("app", "/web", "strategy 'x' failed: scorer 'y' raised RuntimeError('boom')", AT),
     {"eventType": "placement_failed_event", "timestamp": WHEN, "appId": "/web",
      "reason": "strategy 'x' failed: scorer 'y' raised RuntimeError('boom')"}),
    (PlacementFailed("job", "etl", "strategy 'x' failed: KeyError('zone')", AT, "r1"),
     {"eventType": "placement_failed_event", "timestamp": WHEN, "jobId": "etl", "runId": "r1",
      "reason": "strategy 'x' failed: KeyError('zone')"}),
    (JobDefined(JOB, True, AT), {"eventType": "job_created", "timestamp": WHEN, "jobId": "etl",
                                 "job": JOB.public_json()}),
    (JobDefined(JOB, False, AT), {"eventType": "job_updated", "timestamp": WHEN, "jobId": "etl",
                                  "job": JOB.public_json()}),
    (JobDeleted("etl", AT), {"eventType": "job_deleted", "timestamp": WHEN, "jobId": "etl"}),
    (JobRunChanged(RUN, "FAILED", "exited with status 3", AT),
     {"eventType": "job_run_status_event", "timestamp": WHEN, "jobId": "etl", "runId": "r1", "status": "FAILED",
      "attempt": 2, "taskId": "job.etl.r1.2", "exitCode": 3, "message": "exited with status 3"}),
    (JobRunSkipped("etl", "missed by 90s (startingDeadlineSeconds)", AT),
     {"eventType": "job_run_skipped", "timestamp": WHEN, "jobId": "etl",
      "reason": "missed by 90s (startingDeadlineSeconds)"}),
]


def test_timestamps_are_marathons():
    assert iso(AT) == WHEN


@pytest.mark.parametrize("event, expected", CASES, ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)])
def test_marathon_event(event, expected):
    rendered = marathon_event(event)
    assert rendered == expected
    assert list(rendered) == list(expected)  # the engine's field order too


def test_every_domain_event_type_has_a_rendering():
    assert {type(e) for e, _ in CASES} == set(typing.get_args(DomainEvent))


def test_the_hub_renders_domain_events_filters_and_keeps_an_idle_stream_alive():
    hub = EventHub(keepalive=0.05)
    subscription = hub.subscribe()
    stream = hub.stream(subscription, {"app_terminated_event", "job_deleted"},
                        {"eventType": "event_stream_attached", "remoteAddress": None, "timestamp": WHEN})
    assert next(stream) == ":\n\n" and next(stream) == ":\n\n"  # idle: keep-alive comments, still open
    hub.publish(AppChanged(APP, AT))  # filtered out
    hub.publish(AppTerminated("/web", AT))
    hub.publish(JobDeleted("nightly", AT))
    assert next(stream).startswith("event: app_terminated_event\ndata: {\"eventType\": \"app_terminated_event\"")
    assert next(stream) == ('event: job_deleted\ndata: {"eventType": "job_deleted", "timestamp": "%s", '
                            '"jobId": "nightly"}\n\n' % iso(AT))
    assert next(stream) == ":\n\n"
    assert hub.streams == 1
    stream.close()
    assert hub.streams == 0


def test_the_attached_event_comes_first_and_a_slow_stream_loses_events_not_the_publisher():
    hub = EventHub(keepalive=0.05, max_queued=2)
    stream = hub.stream(hub.subscribe(), set(), {"eventType": "event_stream_attached", "timestamp": WHEN})
    assert next(stream).startswith("event: event_stream_attached\n")
    publisher = threading.Thread(target=lambda: [hub.publish(AppTerminated(f"/a{i}", AT)) for i in range(5)])
    publisher.start()
    publisher.join(2)
    assert not publisher.is_alive()
    assert '"appId": "/a0"' in next(stream) and '"appId": "/a1"' in next(stream) and next(stream) == ":\n\n"
    stream.close()


def test_an_event_that_cannot_be_rendered_is_logged_and_not_published(caplog):
    hub = EventHub(keepalive=0.05)
    stream = hub.stream(hub.subscribe(), set())
    hub.publish(object())  # type: ignore[arg-type]
    assert next(stream) == ":\n\n"
    assert "cannot render" in caplog.text
    stream.close()
