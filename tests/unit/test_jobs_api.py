"""The job API in-process: Metronome's v1 shapes (each answer read by dcos-metronome's strict
parser), Halyard's own view beside them (``?embed=halyard``), validation in Metronome's shape, the
status mapping, schedules, and Eremetic's ``/api/v1/task``."""
from __future__ import annotations

import base64
import json

import pytest

from halyard.api import eremetic, metronome_runs
from halyard.api.auth import bearer
from halyard.api.server import create_app
from halyard.engine.messages import Offers, StatusUpdate, Subscribed
from halyard.jobs.domain_events import CallbackNotice
from halyard.jobs.records import RunRecord
from halyard.spec.validation import parse_job

from .metronome_parse import strict_parse
from .test_api import call
from .test_engine import offer, status

# What dcos-metronome's MessageToJson sends for a job (proto3: default values left out).
METRONOME_JOB = {"id": "nightly.report", "description": "the report", "labels": {"team": "data"},
                 "run": {"cpus": 0.5, "mem": 64.0, "disk": 0.0, "cmd": "make-report", "user": "nobody",
                         "env": {"DAY": "yesterday"},
                         "placement": {"constraints": [{"attribute": "rack_id", "operator": "EQ", "value": "rack-1"}]},
                         "artifacts": [{"uri": "http://files/report.tgz", "extract": True}],
                         "maxLaunchDelay": 600, "restart": {"policy": "ON_FAILURE", "activeDeadlineSeconds": 300}}}
DOCKER_JOB = {"id": "img", "run": {"cpus": 0.1, "mem": 32, "disk": 0, "docker": {"image": "busybox"}, "args": ["true"],
                                   "volumes": [{"containerPath": "/data", "hostPath": "/tmp", "mode": "RO"}]}}
SCHEDULE = {"id": "every-minute", "cron": "* * * * *", "timezone": "Europe/Berlin", "startingDeadlineSeconds": 60,
            "concurrencyPolicy": "ALLOW", "enabled": True}


def embed(*names: str) -> str:
    return "&".join(f"embed={n}" for n in names)


def launch_and_report(backend, job_id: str, run_id: str, *states: str, exit_code: int | None = None) -> str:
    """Launch the run on an offer, then report ``states`` for its task; returns the task id."""
    engine = backend.engine
    engine.handle(Subscribed("F1"))
    engine.handle(Offers((offer(1),)))
    task_id = engine.jobs.runs[run_id].task_id
    for i, state in enumerate(states):
        data = base64.b64encode(json.dumps({"exitCode": exit_code}).encode()).decode() \
            if state in ("TASK_FINISHED", "TASK_FAILED") else None
        engine.handle(StatusUpdate(status(task_id, state, uuid=f"u{i}", **({"data": data} if data else {}))))
    return task_id


def test_a_metronome_job_is_created_read_listed_and_updated_in_metronome_shapes(api):
    status_, body = call(api, "POST", "/v1/jobs", METRONOME_JOB)
    assert status_ == 201, body
    assert body == {"id": "nightly.report", "description": "the report", "labels": {"team": "data"}, "run": {
        "cpus": 0.5, "mem": 64.0, "disk": 0.0, "cmd": "make-report", "user": "nobody", "env": {"DAY": "yesterday"},
        "placement": {"constraints": [{"attribute": "rack_id", "operator": "EQ", "value": "rack-1"}]},
        "artifacts": [{"uri": "http://files/report.tgz", "extract": True, "executable": False, "cache": False}],
        "maxLaunchDelay": 600, "volumes": [], "restart": {"policy": "ON_FAILURE", "activeDeadlineSeconds": 300}}}
    assert call(api, "POST", "/v1/jobs", METRONOME_JOB) == (409, {"message": "Job with this id already exists"})
    changed = {**METRONOME_JOB, "run": {**METRONOME_JOB["run"], "cpus": 1.5, "restart": {"policy": "NEVER"}}}
    status_, updated = call(api, "PUT", "/v1/jobs/nightly.report", changed)
    assert status_ == 200 and updated["run"]["cpus"] == 1.5 and updated["run"]["restart"] == {"policy": "NEVER"}
    _, listed = call(api, "GET", "/v1/jobs", query="activeRuns=true&schedules=true")   # the client's own params
    _, one = call(api, "GET", "/v1/jobs/nightly.report")
    assert listed == [updated] and one == updated
    call(api, "POST", "/v1/jobs", DOCKER_JOB)
    _, docker = call(api, "GET", "/v1/jobs/img")
    assert docker["run"]["docker"] == {"image": "busybox"} and docker["run"]["args"] == ["true"]
    assert docker["run"]["volumes"] == [{"containerPath": "/data", "hostPath": "/tmp", "mode": "RO"}]
    assert strict_parse(("JobSpec", body), ("JobSpec", updated), ("JobSpec", listed), ("JobSpec", docker)) == []


def test_metronome_fields_become_halyards_and_back(api, backend):
    call(api, "POST", "/v1/jobs", METRONOME_JOB)
    spec = backend.engine.jobs.jobs["nightly.report"].spec
    assert (spec.retries, spec.retry_deadline_seconds, spec.max_backoff_seconds) == (100, 300, 600)
    assert [c.to_json() for c in spec.constraints] == [["rack_id", "IS", "rack-1"]]
    assert spec.fetch[0].uri == "http://files/report.tgz" and spec.user == "nobody"
    plain = {"id": "plain", "run": {"cpus": 1, "mem": 128, "disk": 0, "cmd": "true"}}
    call(api, "POST", "/v1/jobs", plain)
    assert backend.engine.jobs.jobs["plain"].spec.max_backoff_seconds == 3600   # Metronome's default
    _, shown = call(api, "GET", "/v1/jobs/plain")
    assert shown["run"]["maxLaunchDelay"] == 3600 and shown["run"]["restart"] == {"policy": "NEVER"}


def test_a_metronome_put_keeps_the_schedule_and_halyards_own_parts(api, backend):
    flat = {"id": "etl", "cmd": "run-etl", "cpus": 0.5, "mem": 64, "retries": 3, "timeoutSeconds": 60,
            "callbackUri": "http://hooks/etl", "constraints": [["hostname", "UNIQUE"], ["rack_id", "LIKE", "r.*"]],
            "env": {"TOKEN": {"value": "s3cret", "secret": True}, "MODE": "fast"},
            "schedule": {"cron": "0 3 * * *", "concurrencyPolicy": "FORBID"}}
    assert call(api, "POST", "/v1/jobs", flat)[0] == 201
    _, shown = call(api, "GET", "/v1/jobs/etl")
    assert shown["run"]["env"] == {"MODE": "fast"}   # an inline secret is never shown, and Metronome cannot carry it
    assert shown["run"]["placement"]["constraints"] == [{"attribute": "rack_id", "operator": "LIKE", "value": "r.*"}]
    assert shown["run"]["restart"] == {"policy": "ON_FAILURE"}
    shown["run"]["mem"] = 96
    status_, body = call(api, "PUT", "/v1/jobs/etl", shown)
    assert status_ == 200, body
    spec = backend.engine.jobs.jobs["etl"].spec
    assert spec.mem == 96 and spec.retries == 3 and spec.timeout_seconds == 60
    assert spec.callback_uri == "http://hooks/etl" and spec.schedule.cron == "0 3 * * *"
    assert spec.env_values() == {"TOKEN": "s3cret", "MODE": "fast"}
    assert [c.to_json() for c in spec.constraints] == [["rack_id", "LIKE", "r.*"], ["hostname", "UNIQUE"]]


def test_bad_metronome_input_gets_metronomes_error_shape_with_paths_and_changes_nothing(api, backend):
    bad = {"id": "bad", "run": {"cpus": "lots", "mem": 16, "disk": 0, "cmd": "true", "colour": "red",
                                "placement": {"constraints": [{"attribute": "rack", "operator": "NEAR"}]}}}
    status_, body = call(api, "POST", "/v1/jobs", bad)
    assert status_ == 422
    assert body == {"message": "Object is not valid", "details": [
        {"path": "/run/cpus", "errors": ["expected a number, got a string"]},
        {"path": "/run/mem", "errors": ["is less than 32"]},
        {"path": "/run/colour", "errors": ["unknown field"]},
        {"path": "/run/placement/constraints/0/operator", "errors": ["'NEAR' is not one of IS, EQ, LIKE, UNLIKE"]}]}
    cron = {"id": "bad", "schedules": [{**SCHEDULE, "cron": "61 * * * *"}],
            "run": {"cpus": 1, "mem": 32, "disk": 0, "cmd": "true"}}
    status_, body = call(api, "POST", "/v1/jobs", cron)
    assert status_ == 422 and [d["path"] for d in body["details"]] == ["/schedules/0/cron"], body
    status_, body = call(api, "POST", "/v1/jobs", {"id": "bad", "run": {"cpus": 1, "mem": 32, "disk": 0, "gpus": 1,
                                                                          "cmd": "true"}})
    assert status_ == 422 and body["details"][0]["path"] == "/run/gpus"
    assert "not supported by Halyard" in body["details"][0]["errors"][0]
    assert call(api, "GET", "/v1/jobs") == (200, []) and not backend.engine.jobs.jobs


def test_runs_have_metronomes_statuses_tasks_and_history(api, backend):
    call(api, "POST", "/v1/jobs", {"id": "j", "run": {"cpus": 0.1, "mem": 32, "disk": 0, "cmd": "true"}})
    status_, started = call(api, "POST", "/v1/jobs/j/runs")
    assert status_ == 201 and started["status"] == "STARTING" and started["tasks"] == []
    assert started["completedAt"] is None and started["createdAt"].endswith("+0000")
    run_id = started["id"]
    task_id = launch_and_report(backend, "j", run_id, "TASK_STARTING")
    _, active = call(api, "GET", f"/v1/jobs/j/runs/{run_id}")
    assert active["status"] == "ACTIVE" and [t["id"] for t in active["tasks"]] == [task_id]
    assert active["tasks"][0]["status"] == "TASK_STARTING" and active["tasks"][0]["completedAt"] is None
    _, listed = call(api, "GET", "/v1/jobs/j/runs")
    _, with_embeds = call(api, "GET", "/v1/jobs/j", query=embed("activeRuns", "history", "historySummary"))
    assert listed == [active] and with_embeds["activeRuns"] == [active]
    backend.engine.handle(StatusUpdate(status(task_id, "TASK_FINISHED", uuid="u9")))
    _, done = call(api, "GET", f"/v1/jobs/j/runs/{run_id}")
    assert done["status"] == "SUCCESS" and done["completedAt"] and done["tasks"][0]["status"] == "TASK_FINISHED"
    assert call(api, "GET", "/v1/jobs/j/runs") == (200, [])   # Metronome lists the active ones
    _, job = call(api, "GET", "/v1/jobs/j", query="embed=history,historySummary")
    assert job["historySummary"] == {"successCount": 1, "failureCount": 0, "lastSuccessAt": done["completedAt"],
                                     "lastFailureAt": None}
    assert job["history"]["successfulFinishedRuns"] == [{"id": run_id, "createdAt": done["createdAt"],
                                                         "finishedAt": done["completedAt"], "tasks": [task_id]}]
    assert strict_parse(("JobRun", started), ("JobRun", active), ("JobRun", done), ("JobRun", listed)) == []


def test_stop_fails_the_run_and_halyards_view_keeps_exit_codes(api, backend):
    call(api, "POST", "/v1/jobs", {"id": "j", "cmd": "sleep 100", "cpus": 0.1, "mem": 32})
    _, first = call(api, "POST", "/v1/jobs/j/runs")
    launch_and_report(backend, "j", first["id"], "TASK_RUNNING", "TASK_FAILED", exit_code=3)
    _, second = call(api, "POST", "/v1/jobs/j/runs", query="embed=halyard")
    assert second["halyard"]["status"] == "QUEUED" and second["status"] == "STARTING"
    status_, stopped = call(api, "POST", f"/v1/jobs/j/runs/{second['id']}/actions/stop")
    assert status_ == 200 and stopped["status"] == "FAILED"
    _, kept = call(api, "GET", "/v1/jobs/j/runs", query="embed=halyard")
    # (the fake clock stands still: both runs were created at the same time, so no order is asserted)
    assert {r["id"]: (r["halyard"]["status"], r["halyard"]["exitCode"]) for r in kept} == {
        second["id"]: ("KILLED", None), first["id"]: ("FAILED", 3)}
    _, job = call(api, "GET", "/v1/jobs/j", query="embed=halyard")
    assert job["halyard"]["definition"]["cmd"] == "sleep 100"
    assert job["halyard"]["lastRun"]["id"] in (first["id"], second["id"])
    assert call(api, "POST", "/v1/jobs/j/runs/nope/actions/stop") == (
        404, {"jobSpec": "j", "id": "nope", "message": "Job Run not found"})
    assert call(api, "GET", "/v1/jobs/nope") == (404, {"id": "nope", "message": "Job not found"})


def test_the_status_mapping():
    spec = parse_job({"id": "j", "cmd": "true"})

    def run(status: str, task_state: str | None = None) -> RunRecord:
        return RunRecord("r", "j", spec, 1.0, status=status, task_state=task_state, task_id="t" if task_state else None)
    assert [metronome_runs.run_status(r) for r in (
        run("QUEUED"), run("STARTING", "TASK_LAUNCHING"), run("STARTING", "TASK_STAGING"), run("RUNNING", "TASK_RUNNING"),
        run("FINISHED", "TASK_FINISHED"), run("FAILED", "TASK_FAILED"), run("KILLED", "TASK_KILLED"))] == [
        "STARTING", "STARTING", "ACTIVE", "ACTIVE", "SUCCESS", "FAILED", "FAILED"]
    assert [metronome_runs.task_status(s) for s in ("TASK_LAUNCHING", "TASK_KILLING", "TASK_LOST", "TASK_ERROR",
                                                    "TASK_UNREACHABLE", "TASK_KILLED")] == [
        "TASK_CREATED", "TASK_RUNNING", "TASK_FAILED", "TASK_FAILED", "TASK_FAILED", "TASK_KILLED"]


def test_schedules_are_metronomes_and_halyards_cron_runs_them(api, backend):
    call(api, "POST", "/v1/jobs", {"id": "j", "run": {"cpus": 0.1, "mem": 32, "disk": 0, "cmd": "true"}})
    assert call(api, "GET", "/v1/jobs/j/schedules") == (200, [])
    status_, made = call(api, "POST", "/v1/jobs/j/schedules", SCHEDULE)
    assert status_ == 201 and made == {**SCHEDULE, "nextRunAt": made["nextRunAt"]}
    assert backend.engine.jobs.jobs["j"].next_fire is not None
    assert call(api, "POST", "/v1/jobs/j/schedules", {**SCHEDULE, "id": "other"}) == (
        409, {"message": "Only one schedule supported at the moment"})
    assert call(api, "GET", "/v1/jobs/j/schedules/every-minute") == (200, made)
    status_, changed = call(api, "PUT", "/v1/jobs/j/schedules/every-minute", {**SCHEDULE, "cron": "0 3 * * *"})
    assert status_ == 200 and changed["cron"] == "0 3 * * *" and changed["id"] == "every-minute"
    _, job = call(api, "GET", "/v1/jobs/j", query="embed=schedules")
    assert job["schedules"] == [changed]
    assert call(api, "PUT", "/v1/jobs/j/schedules/nope", SCHEDULE) == (
        404, {"id": "nope", "message": "Schedule not found"})
    assert call(api, "POST", "/v1/jobs/j/schedules", {**SCHEDULE, "cron": "bad"})[0] == 422
    assert call(api, "DELETE", "/v1/jobs/j/schedules/every-minute")[0] == 200
    assert call(api, "GET", "/v1/jobs/j/schedules") == (200, []) and backend.engine.jobs.jobs["j"].next_fire is None
    assert strict_parse(("ScheduleSpec", made), ("ScheduleSpec", changed)) == []
    yearly = {**SCHEDULE, "id": "once", "cron": "0 0 1 1 * 2031"}   # Metronome's sixth field: the year
    status_, body = call(api, "POST", "/v1/jobs/j/schedules", yearly)
    assert status_ == 201 and body["cron"] == "0 0 1 1 * 2031" and body["nextRunAt"] == "2030-12-31T23:00:00.000+0000"   # Berlin's midnight


def test_halyards_flat_definition_and_its_view_still_work(api):
    flat = {"id": "reports.daily", "cmd": "make-report", "cpus": 0.5, "mem": 64, "retries": 2}
    status_, body = call(api, "POST", "/v1/jobs", flat, query="embed=halyard")
    assert status_ == 201 and body["halyard"]["definition"]["retries"] == 2 and body["run"]["cmd"] == "make-report"
    assert call(api, "POST", "/v1/jobs", {**flat, "retries": 1})[0] == 200   # Halyard's POST replaces
    assert call(api, "DELETE", "/v1/jobs/reports.daily")[1]["id"] == "reports.daily"
    assert call(api, "POST", "/v1/jobs", {**flat, "id": "eremetic-task.x"})[0] == 422


def test_an_eremetic_task_is_a_one_off_run_told_as_eremetic_tells_it(api, backend):
    request = {"cpu": 0.2, "mem": 32, "image": "busybox", "command": "echo hi", "env": {"A": "1"},
               "masked_env": {"PASSWORD": "s3cret"}, "network": "BRIDGE", "dns": "8.8.8.8",
               "agent_constraints": [{"attribute_name": "rack_id", "attribute_value": "rack-1"}],
               "callback_uri": "http://hooks/cb", "fetch": [{"uri": "http://files/x", "extract": False}]}
    status_, task_id = call(api, "POST", "/api/v1/task", json.dumps(request).encode())
    assert status_ == 202 and task_id.startswith("eremetic-task.")
    spec = backend.engine.jobs.jobs[task_id].spec
    assert spec.container.docker.image == "busybox" and spec.network() == "bridge"
    assert [(p.key, p.value) for p in spec.container.docker.parameters] == [("dns", "8.8.8.8")]
    _, task = call(api, "GET", f"/api/v1/task/{task_id}")
    assert task["status"][0]["status"] == "TASK_QUEUED" and isinstance(task["status"][0]["time"], int)
    assert task["masked_env"] == {"PASSWORD": "******"} and task["network"] == "BRIDGE" and task["dns"] == "8.8.8.8"
    run_id = backend.engine.jobs.runs_of(task_id)[0].run_id
    out = []
    backend.engine.jobs.emit = lambda e: None
    launch_and_report(backend, task_id, run_id, "TASK_RUNNING")
    _, task = call(api, "GET", f"/api/v1/task/{task_id}")
    assert [s["status"] for s in task["status"]] == ["TASK_QUEUED", "TASK_STAGING", "TASK_RUNNING"]
    assert [t["id"] for t in call(api, "GET", "/api/v1/task")[1]] == [task_id]
    assert call(api, "DELETE", f"/api/v1/task/{task_id}")[0] == 409
    assert call(api, "POST", f"/api/v1/task/{task_id}/kill") == (202, "")
    _, task = call(api, "GET", f"/api/v1/task/{task_id}")
    assert task["status"][-1]["status"] == "TASK_TERMINATING"
    assert call(api, "GET", "/api/v1/task/eremetic-task.nope") == (404, None)
    assert call(api, "GET", "/v1/jobs")[1] == []   # not a Metronome job
    del out


def test_eremetic_refusals_and_listing_by_state(api, backend):
    status_, body = call(api, "POST", "/api/v1/task", b'{"cpu": "lots"}')
    assert status_ == 422 and body["message"] == "Unable to parse body into a valid request."
    status_, body = call(api, "POST", "/api/v1/task", json.dumps({"image": "busybox", "ports": [
        {"container_port": 80}]}).encode())
    assert status_ == 422 and "port mappings" in body["error"]
    _, task_id = call(api, "POST", "/api/v1/task", b'{"command": "true"}')
    assert backend.engine.jobs.jobs[task_id].spec.cmd == "true"
    assert call(api, "POST", f"/api/v1/task/{task_id}/kill") == (202, "")   # queued: ends at once
    assert call(api, "GET", "/api/v1/task")[1] == []
    assert [t["id"] for t in call(api, "GET", "/api/v1/task", query="state=terminated")[1]] == [task_id]
    assert call(api, "POST", f"/api/v1/task/{task_id}/kill")[0] == 409
    assert call(api, "DELETE", f"/api/v1/task/{task_id}") == (202, "")
    assert call(api, "GET", f"/api/v1/task/{task_id}") == (404, None)


def test_callback_bodies():
    notice = CallbackNotice("http://cb", 1700000000.5, "TASK_RUNNING", "job.eremetic-task.x.r.1", "eremetic-task.x",
                            "r", 1, None, "", True)
    assert eremetic.callback_json(notice) == {"time": 1700000000, "status": "TASK_RUNNING", "task_id": "eremetic-task.x"}
    own = CallbackNotice("http://cb", 1700000000.0, "TASK_FINISHED", "job.etl.r.1", "etl", "r", 1, 0, "ok", False)
    assert eremetic.callback_json(own) == {"time": 1700000000, "status": "TASK_FINISHED", "task_id": "job.etl.r.1",
                                           "jobId": "etl", "runId": "r", "attempt": 1, "exitCode": 0, "message": "ok"}


def test_an_eremetic_task_posts_every_state_and_halyards_job_only_terminal_ones(backend):
    create_app(backend)
    from halyard.engine.messages import PutJob
    spec = parse_job({"id": "eremetic-task.x", "cmd": "true", "callbackUri": "http://cb", "callbackStates": "all"})
    backend.engine.handle(PutJob(spec, run_id="r1"))
    backend.engine.handle(Subscribed("F1"))
    backend.engine.handle(Offers((offer(1),)))
    task_id = backend.engine.jobs.runs["r1"].task_id
    states = []
    for i, state in enumerate(("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED")):
        out = backend.engine.handle(StatusUpdate(status(task_id, state, uuid=f"u{i}")))
        states += [ins.notice.state for ins in out if type(ins).__name__ == "Notify"]
    assert states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]


@pytest.mark.parametrize("header,token", [
    ("Bearer t1", "t1"), ("token=t1", "t1"), ("Basic " + base64.b64encode(b"eremetic:t1").decode(), "t1"),
    ("Basic " + base64.b64encode(b"nobody").decode(), None), ("Basic !!", None)])
def test_a_token_may_come_as_basic_credentials(header, token):
    assert bearer(header) == token


def test_eremetic_clients_reach_a_secured_scheduler_with_a_token_in_their_url(backend):
    api = create_app(backend, tokens={"rw-token": "rw"})
    assert call(api, "POST", "/api/v1/task", b'{"command": "true"}')[0] == 401
    basic = (("authorization", "Basic " + base64.b64encode(b"eremetic:rw-token").decode()),)
    assert call(api, "POST", "/api/v1/task", b'{"command": "true"}', headers=basic)[0] == 202


def test_the_openapi_document_has_metronomes_and_eremetics_bodies(api):
    _, doc = call(api, "GET", "/openapi.json")
    schemas = doc["components"]["schemas"]
    assert schemas["MetronomeJobSpec"]["required"] == ["id", "run"]
    assert schemas["MetronomeJobSpec"]["properties"]["run"]["properties"]["restart"]["properties"]["policy"]["enum"] == [
        "NEVER", "ON_FAILURE"]
    assert schemas["MetronomeScheduleSpec"]["required"] == ["id", "cron"] and "cpu" in schemas["EremeticRequest"]["properties"]
    body = doc["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"anyOf": [{"$ref": "#/components/schemas/MetronomeJobSpec"},
                              {"$ref": "#/components/schemas/JobDefinition"}]}
    assert "requestBody" in doc["paths"]["/api/v1/task"]["post"]
