"""Scoped tokens, reads limited by scope, and the audit log, through the API in-process (a real
engine behind a fake backend)."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from halyard.api.audit import AuditLog, audit_event, audit_line, deployment_id_of
from halyard.api.event_stream import EventHub
from halyard.api.read_scopes import app_id_in, event_visible, filter_read
from halyard.api.scopes import command_paths
from halyard.api.server import create_app
from halyard.api.tokens import Grant, parse_tokens
from halyard.engine.messages import ChangeApps, DeleteJob, KillTasks, Paused, PutApp
from halyard.spec.app import AppSpec

from .test_api import FakeBackend, call

TOKENS = parse_tokens("adm-0 rw name=admin\n"
                      "team-a-1 rw /team-a/ name=ci-team-a\n"
                      "viewer-2 ro\n"
                      "ro-a-3 ro /team-a/ name=view-a\n")
ADMIN, TEAM_A, VIEWER, VIEW_A = ((("authorization", f"Bearer {t}"),) for t in ("adm-0", "team-a-1", "viewer-2",
                                                                                "ro-a-3"))


def app(app_id: str, instances: int = 1, **extra: Any) -> dict:
    return {"id": app_id, "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": instances, **extra}


class RecordingHub(EventHub):
    """Keeps what the API publishes as JSON (the audit's events)."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[dict] = []

    def publish_json(self, event: dict) -> None:
        self.published.append(event)


@pytest.fixture
def world(tmp_path):
    backend, hub = FakeBackend(), RecordingHub()
    audit = AuditLog(str(tmp_path / "audit.log"))
    api = create_app(backend, hub, TOKENS, audit=audit)
    for app_id in ("/team-a/web", "/team-b/db"):
        assert call(api, "POST", "/v2/apps", app(app_id), headers=ADMIN)[0] == 201
    hub.published.clear()
    (tmp_path / "audit.log").write_text("")
    yield api, backend, hub, tmp_path / "audit.log"
    audit.close()


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_scoped_token_changes_its_apps_and_is_refused_the_others_naming_its_prefix(world):
    api, backend, _, _ = world
    assert call(api, "PUT", "/v2/apps/team-a/web", {"instances": 2}, query="force=true", headers=TEAM_A)[0] == 200
    status, body = call(api, "PUT", "/v2/apps/team-b/db", {"instances": 5}, query="force=true", headers=TEAM_A)
    assert status == 403 and body["prefixes"] == ["/team-a/"]
    assert body["message"] == "token 'ci-team-a' may change only ids under /team-a/: /team-b/db is outside"
    assert call(api, "GET", "/v2/apps/team-b/db")[1]["app"]["instances"] == 1   # nothing changed
    assert call(api, "POST", "/v2/apps", app("/team-b/new"), headers=TEAM_A)[0] == 403
    assert call(api, "GET", "/v2/apps/team-b/new")[0] == 404
    assert call(api, "POST", "/v2/apps", app("/team-a/new"), headers=TEAM_A)[0] == 201
    assert call(api, "POST", "/v2/apps", app("/team-b/db"), headers=TEAM_A)[0] == 403        # not 409: it exists
    assert call(api, "POST", "/v2/apps", {"id": "/team-b/bad", "cpus": -1}, headers=TEAM_A)[0] == 403   # not 422
    for method, path in [("DELETE", "/v2/apps/team-b/db"), ("POST", "/v2/apps/team-b/db/restart"),
                         ("DELETE", "/v2/apps/team-b/db/tasks"), ("DELETE", "/v2/queue/team-b/db/delay"),
                         ("PUT", "/v2/pods/team-b/p")]:
        assert call(api, method, path, headers=TEAM_A)[0] == 403, (method, path)
    assert call(api, "DELETE", "/v2/queue/team-a/web/delay", headers=TEAM_A)[0] == 204
    assert call(api, "PUT", "/v2/pods/team-a/p", {"id": "/team-a/p"}, headers=TEAM_A)[0] == 422   # pods: nobody


def test_every_app_of_a_list_or_group_change_must_be_in_scope(world):
    api, _, _, _ = world
    both = [{"id": "/team-a/web", "instances": 3}, {"id": "/team-b/db", "instances": 3}]
    status, body = call(api, "PUT", "/v2/apps", both, query="force=true", headers=TEAM_A)
    assert status == 403 and "/team-b/db is outside" in body["message"]
    assert call(api, "GET", "/v2/apps/team-a/web")[1]["app"]["instances"] == 1   # not even the one in scope
    assert call(api, "PUT", "/v2/apps", both[:1], query="force=true", headers=TEAM_A)[0] == 200
    # A group update that would remove another team's app, a scale of the root, a delete of the root.
    assert call(api, "PUT", "/v2/groups", {"id": "/", "groups": [{"id": "/team-a", "apps": [app("web")]}]},
                query="force=true", headers=TEAM_A)[0] == 403
    assert call(api, "PUT", "/v2/groups", {"scaleBy": 2}, query="force=true", headers=TEAM_A)[0] == 403
    assert call(api, "DELETE", "/v2/groups", query="force=true", headers=TEAM_A)[0] == 403
    assert call(api, "PUT", "/v2/groups/team-a", {"scaleBy": 2}, query="force=true", headers=TEAM_A)[0] == 200
    assert call(api, "POST", "/v2/groups", {"id": "/team-a/more", "apps": [app("w")]}, headers=TEAM_A)[0] == 201
    assert call(api, "POST", "/v2/groups", {"id": "/team-b/more", "apps": [app("w")]}, headers=TEAM_A)[0] == 403


def test_a_deployment_of_another_team_cannot_be_cancelled(world):
    api, _, _, _ = world
    deployments = {d["affectedApps"][0]: d["id"] for d in call(api, "GET", "/v2/deployments")[1]}
    status, body = call(api, "DELETE", f"/v2/deployments/{deployments['/team-b/db']}", headers=TEAM_A)
    assert status == 403 and "/team-b/db" in body["message"]
    assert call(api, "DELETE", f"/v2/deployments/{deployments['/team-a/web']}", headers=TEAM_A)[0] == 200


def test_jobs_are_scoped_by_their_dotted_id_and_leadership_is_not_a_scoped_tokens(world):
    api, _, _, _ = world
    job = {"cmd": "true", "cpus": 0.1, "mem": 32}
    assert call(api, "POST", "/v1/jobs", {**job, "id": "team-b.etl"}, headers=TEAM_A)[0] == 403
    assert call(api, "POST", "/v1/jobs", {"id": "team-b.bad", "cpus": -1}, headers=TEAM_A)[0] == 403   # not 422
    assert call(api, "POST", "/v1/jobs", {**job, "id": "team-a.etl"}, headers=TEAM_A)[0] == 201
    assert call(api, "POST", "/v1/jobs", {**job, "id": "team-b.etl"}, headers=ADMIN)[0] == 201
    assert call(api, "POST", "/v1/jobs/team-b.etl/runs", headers=TEAM_A)[0] == 403
    assert call(api, "DELETE", "/v1/jobs/team-b.etl", headers=TEAM_A)[0] == 403
    assert call(api, "POST", "/v1/jobs/team-a.etl/runs", headers=TEAM_A)[0] == 201
    status, body = call(api, "DELETE", "/v2/leader", headers=TEAM_A)
    assert status == 403 and "only an unscoped token" in body["message"]
    assert call(api, "DELETE", "/v2/leader", headers=ADMIN)[0] == 200


def test_read_only_and_unknown_tokens(world):
    api, _, _, _ = world
    status, body = call(api, "POST", "/v2/apps", app("/team-a/x"), headers=VIEW_A)
    assert (status, body["message"]) == (403, "token 'view-a' may only read")
    assert call(api, "POST", "/v2/apps", app("/x"), headers=(("authorization", "Bearer nope"),))[0] == 401
    assert call(api, "GET", "/v2/apps", headers=(("authorization", "Bearer nope"),))[0] == 200   # reads open


@pytest.mark.parametrize("command, paths", [
    (PutApp(AppSpec(id="/a/x", cmd="c")), ["/a/x"]),
    (ChangeApps((AppSpec(id="/a/x", cmd="c"),), ("/b/y",)), ["/a/x", "/b/y"]),
    (KillTasks("/b/y", ("t1",)), ["/b/y"]),
    (DeleteJob("team-b.etl"), ["/team-b/etl"]),
    (Paused(True), None),   # never from the API: a scoped token is refused it
])
def test_what_each_command_touches(command, paths):
    assert command_paths(command, None) == paths


def test_tasks_of_another_team_are_not_killed(world):
    api, backend, _, _ = world
    from halyard.engine.app_records import TaskRecord
    for task_id, app_id in (("a.1", "/team-a/web"), ("b.1", "/team-b/db")):
        backend.engine.index.set(TaskRecord(task_id=task_id, app_id=app_id, config_version=1.0, agent_id="S1",
                                            hostname="h", ports=(), state="TASK_RUNNING"))
    status, body = call(api, "POST", "/v2/tasks/delete", {"ids": ["a.1", "b.1"]}, headers=TEAM_A)
    assert status == 403 and "/team-b/db is outside" in body["message"]
    assert not any(t.killing for t in backend.engine.index.tasks.values())


# --- the audit -------------------------------------------------------------------------------

def test_every_write_is_one_line_and_one_event_refused_ones_too(world):
    api, _, hub, log = world
    status, created = call(api, "POST", "/v2/apps", app("/team-a/api"), query="force=false", headers=TEAM_A)
    assert status == 201
    call(api, "PUT", "/v2/apps/team-b/db", {"instances": 2}, headers=TEAM_A)
    call(api, "DELETE", "/v2/apps/team-a/api", headers=(("authorization", "Bearer wrong"),))
    call(api, "GET", "/v2/apps", headers=TEAM_A)   # reads are not audited
    first, refused, unknown = lines(log)
    assert set(first) == {"time", "token", "remoteAddress", "method", "path", "status", "deploymentId",
                          "forwardedFor"}
    assert first["forwardedFor"] is None
    assert first["time"].endswith("Z") and first["time"][10] == "T"
    assert (first["token"], first["remoteAddress"], first["method"], first["path"], first["status"]) == (
        "ci-team-a", "127.0.0.1", "POST", "/v2/apps?force=false", 201)
    assert first["deploymentId"] == created["deployments"][0]["id"]
    assert (refused["token"], refused["status"], refused["deploymentId"]) == ("ci-team-a", 403, None)
    assert (unknown["token"], unknown["status"]) == ("unknown token", 401)
    events = hub.published
    assert [e["eventType"] for e in events] == ["api_post_event"] * 3
    assert events[0]["appDefinition"]["id"] == "/team-a/api" and events[0]["uri"] == "/v2/apps"
    assert events[0]["clientIp"] == "127.0.0.1" and events[0]["token"] == "ci-team-a"
    assert events[0]["path"] == "/v2/apps?force=false" and events[0]["deploymentId"] == first["deploymentId"]
    assert "appDefinition" not in events[1] and events[1]["status"] == 403


def test_no_token_and_no_secret_reach_the_audit(world):
    api, _, hub, log = world
    secret = {"DB_PASSWORD": {"value": "hunter2", "secret": True}}
    assert call(api, "POST", "/v2/apps", app("/team-a/s", env=secret), headers=TEAM_A)[0] == 201
    call(api, "PUT", "/v2/apps/team-b/s", app("/team-b/s", env=secret), headers=TEAM_A)
    text = log.read_text() + json.dumps(hub.published)
    assert "hunter2" not in text and "team-a-1" not in text and "Bearer" not in text
    assert hub.published[0]["appDefinition"]["env"] == {"DB_PASSWORD": {"secret": True}}


def test_without_tokens_the_audit_still_records_writes(tmp_path):
    hub = RecordingHub()
    audit = AuditLog(str(tmp_path / "a.log"))
    api = create_app(FakeBackend(), hub, None, audit=audit)
    assert call(api, "POST", "/v2/apps", app("/x"))[0] == 201
    audit.close()
    assert lines(tmp_path / "a.log")[0]["token"] == "-" and hub.published[0]["token"] == "-"


@pytest.mark.parametrize("status, headers, body, expected", [
    (201, {}, {"id": "/a", "deployments": [{"id": "d1"}]}, "d1"),
    (200, {}, {"version": "v", "deploymentId": "d2"}, "d2"),
    (200, {"marathon-deployment-id": "d3"}, {}, "d3"),
    (409, {}, {"message": "locked", "deployments": [{"id": "d4"}]}, None),   # the one in the way: not this request's
    (200, {}, [], None),
])
def test_the_deployment_an_answer_carries(status, headers, body, expected):
    assert deployment_id_of(status, headers, body) == expected


def test_line_and_event_shapes():
    line = audit_line(1_800_000_000.25, "ci", "10.0.0.1", "DELETE", "/v2/apps/a", "force=true", 200, "d1")
    assert line == {"time": "2027-01-15T08:00:00.250Z", "token": "ci", "remoteAddress": "10.0.0.1",
                    "method": "DELETE", "path": "/v2/apps/a?force=true", "status": 200, "deploymentId": "d1",
                    "forwardedFor": None}
    assert audit_event(line, "/v2/apps/a", None) == {
        "eventType": "api_post_event", "timestamp": "2027-01-15T08:00:00.250Z", "clientIp": "10.0.0.1",
        "uri": "/v2/apps/a", "token": "ci", "method": "DELETE", "path": "/v2/apps/a?force=true", "status": 200,
        "deploymentId": "d1", "forwardedFor": None}


# --- reads with --auth-reads -------------------------------------------------------------------

@pytest.fixture
def closed(world):
    _, backend, _, _ = world
    api = create_app(backend, RecordingHub(), TOKENS, auth_reads=True)
    job = {"cmd": "true", "cpus": 0.1, "mem": 32}
    for job_id in ("team-a.etl", "team-b.etl"):
        assert call(api, "POST", "/v1/jobs", {**job, "id": job_id}, headers=ADMIN)[0] == 201
    return api


def test_reads_show_only_what_is_in_scope(closed):
    api = closed
    ids = lambda body: sorted(a["id"] for a in body["apps"])  # noqa: E731
    assert ids(call(api, "GET", "/v2/apps", headers=VIEW_A)[1]) == ["/team-a/web"]
    assert ids(call(api, "GET", "/v2/apps", headers=VIEWER)[1]) == ["/team-a/web", "/team-b/db"]
    assert [d["affectedApps"] for d in call(api, "GET", "/v2/deployments", headers=VIEW_A)[1]] == [["/team-a/web"]]
    assert [j["id"] for j in call(api, "GET", "/v1/jobs", headers=TEAM_A)[1]] == ["team-a.etl"]
    assert [q["app"]["id"] for q in call(api, "GET", "/v2/queue", headers=VIEW_A)[1]["queue"]] == ["/team-a/web"]
    root = call(api, "GET", "/v2/groups", headers=VIEW_A)[1]
    assert [g["id"] for g in root["groups"]] == ["/team-a"] and root["groups"][0]["apps"][0]["id"] == "/team-a/web"
    status, body = call(api, "GET", "/v2/apps/team-b/db", headers=VIEW_A)
    assert status == 403 and body["message"] == "token 'view-a' may read only ids under /team-a/: /team-b/db is outside"
    assert call(api, "GET", "/v2/apps/team-b/db/tasks", headers=VIEW_A)[0] == 403
    assert call(api, "GET", "/v1/jobs/team-b.etl", headers=VIEW_A)[0] == 403
    assert call(api, "GET", "/v2/apps/team-a/web", headers=VIEW_A)[0] == 200
    assert call(api, "GET", "/v2/apps", headers=()) [0] == 401


def test_the_pure_read_filters():
    grant = Grant("a", "ro", ("/a/",))
    assert app_id_in("/v2/apps/a/b/tasks") == "/a/b" and app_id_in("/v2/apps/a/b/versions/2020") == "/a/b"
    assert app_id_in("/v1/apps/a/b/endpoints") == "/a/b" and app_id_in("/v2/tasks") is None
    assert app_id_in("/v2/apps//a/b") == "/a/b"   # marathon-python's path for the id /a/b
    assert filter_read("/v2/tasks", {"tasks": [{"appId": "/a/x"}, {"appId": "/b/y"}]}, grant) == {
        "tasks": [{"appId": "/a/x"}]}
    assert filter_read("/v2/info", {"name": "halyard"}, grant) == {"name": "halyard"}
    cluster = {"agents": [{"id": "S1"}], "tasks": [{"id": "t1", "appId": "/a/x"}, {"id": "t2", "appId": "/b/y"}]}
    assert filter_read("/v1/cluster", cluster, grant) == {"agents": [{"id": "S1"}],
                                                          "tasks": [{"id": "t1", "appId": "/a/x"}]}
    history = [{"id": "d1", "affectedApps": ["/a/x"]}, {"id": "d2", "affectedApps": ["/a/x", "/b/y"]}]
    assert [d["id"] for d in filter_read("/v1/deployments", history, grant)] == ["d1"]
    releases = {"releases": [{"id": "r1", "appId": "/a/web"}, {"id": "r2", "appId": "/b/web"}]}
    assert filter_read("/v1/releases", releases, grant) == {"releases": [{"id": "r1", "appId": "/a/web"}]}
    one = {"service": "web", "environment": "b", "current": {"id": "r2", "appId": "/b/web"},
           "releases": [{"id": "r2", "appId": "/b/web"}]}
    assert filter_read("/v1/releases/web/b", one, grant) == {**one, "current": None, "releases": []}
    assert event_visible({"eventType": "status_update_event", "appId": "/a/x"}, grant)
    assert not event_visible({"eventType": "status_update_event", "appId": "/b/x"}, grant)
    assert not event_visible({"eventType": "job_created", "jobId": "b.etl"}, grant)
    assert event_visible({"eventType": "event_stream_attached", "remoteAddress": "1.2.3.4"}, grant)
    assert event_visible({"eventType": "api_post_event", "uri": "/v2/apps/a/x", "path": "/v2/apps/a/x"}, grant)
    assert not event_visible({"eventType": "api_post_event", "uri": "/v2/leader", "path": "/v2/leader"}, grant)
    plan = {"steps": [{"actions": [{"app": "/a/x"}, {"app": "/b/y"}]}]}
    assert not event_visible({"eventType": "deployment_info", "plan": plan}, grant)


def test_a_write_that_crashed_is_recorded_as_a_500(world):
    api, backend, _, log = world
    backend.refuse = RuntimeError("boom")
    with pytest.raises(RuntimeError):
        call(api, "POST", "/v2/apps", app("/team-a/crash"), headers=TEAM_A)
    (line,) = lines(log)
    assert (line["token"], line["path"], line["status"]) == ("ci-team-a", "/v2/apps", 500)


def test_a_scoped_stream_gets_only_its_events():
    grant = Grant("a", "ro", ("/a/",))

    async def scenario() -> list[str]:
        hub = EventHub()
        sub = hub.subscribe(visible=lambda e: event_visible(e, grant))
        for app_id in ("/a/x", "/b/y"):
            hub.publish_json({"eventType": "app_terminated_event", "timestamp": "t", "appId": app_id})
        await asyncio.sleep(0)
        return [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]

    frames = asyncio.run(scenario())
    assert any('"/a/x"' in f for f in frames) and not any('"/b/y"' in f for f in frames)


def test_a_write_a_standby_forwarded_names_the_client_it_was_forwarded_for(world):
    api, _, _, log = world
    forwarded = (*TEAM_A, ("x-halyard-proxied-by", "standby:8080"), ("x-halyard-client", "10.1.2.3"))
    assert call(api, "DELETE", "/v2/queue/team-a/web/delay", headers=forwarded)[0] == 204
    (line,) = lines(log)
    assert (line["remoteAddress"], line["forwardedFor"]) == ("127.0.0.1", "10.1.2.3")


def test_a_scoped_token_may_rebalance_only_its_own_apps():
    from halyard.api.scopes import command_paths
    from halyard.engine.messages import StartRebalance

    command = StartRebalance((("/team-a/web", "d1", ()), ("/team-b/db", "d2", ())))
    assert command_paths(command, None) == ["/team-a/web", "/team-b/db"]


def test_only_the_reads_filter_read_limits_are_decoded_again(closed, monkeypatch):
    from halyard.api import auth

    seen: list[str] = []
    real = auth.filter_read
    monkeypatch.setattr(auth, "filter_read", lambda path, body, grant: seen.append(path) or real(path, body, grant))
    for path in ("/v2/apps/team-a/web", "/v2/apps/team-a/web/tasks", "/v1/jobs/team-a.etl", "/v2/info",
                 "/v2/apps", "/v2/groups/team-a"):
        assert call(closed, "GET", path, headers=VIEW_A)[0] == 200, path
    assert seen == ["/v2/apps", "/v2/groups/team-a"]


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/v1/agents/127.0.0.1/drain", {}),
    ("POST", "/v1/agents/127.0.0.1/reactivate", None),
    ("POST", "/v1/agents/127.0.0.1/maintenance", {"start": "2099-01-01T00:00:00Z", "duration": "1h"}),
    ("DELETE", "/v1/agents/127.0.0.1/maintenance", None),
])
def test_an_agent_is_the_whole_clusters_only_an_unscoped_rw_token_changes_it(world, method, path, body):
    api, backend, _, audit = world
    for who in (TEAM_A, VIEWER, VIEW_A):
        status, answer = call(api, method, path, body, headers=who)
        assert status == 403, (who, status, answer)
    assert call(api, method, path, body)[0] == 401   # no token at all
    engine = backend.engine
    assert engine.drains.drains == {} and engine.maintenance.windows == {}   # nothing changed
    assert call(api, method, path, body, headers=ADMIN)[0] not in (401, 403)   # (404 here: no such agent)
