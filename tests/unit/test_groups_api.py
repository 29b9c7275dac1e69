"""Groups and lists of apps over the API (in-process, a real engine behind it): the tree the app ids
imply, group changes as one deployment, and what is refused with a reason."""
from __future__ import annotations

import pytest

from halyard.api.event_json import marathon_events
from halyard.api.event_stream import EventHub
from halyard.api.server import create_app

from .test_api import call
from .test_versions import VersionedBackend


def app(app_id, **extra):
    return {"id": app_id, "cmd": "serve", "cpus": 0.1, "mem": 16, **extra}


def test_the_groups_are_the_tree_the_app_ids_imply(both):
    _, api = both
    assert call(api, "GET", "/v2/groups")[1] == {"id": "/", "dependencies": [], "version": "2023-11-14T22:13:20.000Z",
                                                 "apps": [], "groups": [], "pods": []}
    for app_id in ("/top", "/prod/db", "/prod/web/a", "/prod/web/b"):
        assert call(api, "POST", "/v2/apps", app(app_id))[0] == 201
    root = call(api, "GET", "/v2/groups")[1]
    assert [a["id"] for a in root["apps"]] == ["/top"] and [g["id"] for g in root["groups"]] == ["/prod"]
    prod = root["groups"][0]
    assert [a["id"] for a in prod["apps"]] == ["/prod/db"]
    assert [(g["id"], [a["id"] for a in g["apps"]]) for g in prod["groups"]] == [("/prod/web", ["/prod/web/a",
                                                                                                 "/prod/web/b"])]
    status, web = call(api, "GET", "/v2/groups/prod/web")
    assert status == 200 and web["id"] == "/prod/web" and web["groups"] == []
    only_apps = call(api, "GET", "/v2/groups/prod", query="embed=group.apps")[1]
    assert "groups" not in only_apps and [a["id"] for a in only_apps["apps"]] == ["/prod/db"]
    assert call(api, "GET", "/v2/groups/nope") == (404, {"message": "Group '/nope' does not exist"})


def test_a_group_is_created_in_one_deployment_ordered_by_dependencies(both):
    backend, api = both
    status, body = call(api, "POST", "/v2/groups", {"id": "/shop", "apps": [app("db"), app("web", dependencies=["db"])],
                                                    "groups": [{"id": "jobs", "apps": [app("/shop/jobs/cron")]}]})
    assert status == 201 and body["deploymentId"]
    deployments = call(api, "GET", "/v2/deployments")[1]
    assert len(deployments) == 1
    plan = deployments[0]
    assert plan["id"] == body["deploymentId"] and plan["affectedApps"] == ["/shop/db", "/shop/jobs/cron", "/shop/web"]
    assert [[a["app"] for a in s["actions"]] for s in plan["steps"]] == [["/shop/db", "/shop/jobs/cron"], ["/shop/web"]]
    assert plan["currentStep"] == 1 and plan["totalSteps"] == 2
    assert {a["app"] for a in plan["currentActions"]} == {"/shop/db", "/shop/jobs/cron"}
    shown = call(api, "GET", f"/v2/deployments/{body['deploymentId']}")[1]
    assert shown["status"] == "running" and shown["kind"] == "plan"
    assert call(api, "GET", "/v2/apps/shop/web")[1]["app"]["deployments"] == [{"id": body["deploymentId"]}]
    assert call(api, "POST", "/v2/groups", {"id": "/shop", "apps": [app("x")]})[0] == 409
    assert call(api, "POST", "/v2/groups", {"id": "/shop/db", "apps": [app("x")]})[0] == 409


def test_a_group_update_replaces_its_apps_and_subgroups_and_delete_removes_them(both):
    backend, api = both
    call(api, "POST", "/v2/groups", {"id": "/g", "apps": [app("a"), app("b")], "groups": [{"id": "sub",
                                                                                          "apps": [app("c")]}]})
    status, dry = call(api, "PUT", "/v2/groups/g", {"apps": [app("a", instances=2), app("d", dependencies=["a"])]},
                       query="dryRun=true")
    assert status == 200 and dry == {"steps": [
        {"actions": [{"action": "StopApplication", "app": "/g/b"}]},
        {"actions": [{"action": "ScaleApplication", "app": "/g/a"}]},
        {"actions": [{"action": "ScaleApplication", "app": "/g/d"}]}]}
    assert len(call(api, "GET", "/v2/groups/g")[1]["apps"]) == 2  # a dry run changes nothing
    status, body = call(api, "PUT", "/v2/groups/g", {"apps": [app("a", instances=2), app("d")]}, query="force=true")
    assert status == 200 and body["deploymentId"]
    ids = {a["id"]: a["instances"] for a in call(api, "GET", "/v2/apps")[1]["apps"]
           if not a.get("deleting")}
    group = call(api, "GET", "/v2/groups/g")[1]
    assert sorted(a["id"] for a in group["apps"]) == ["/g/a", "/g/d"]  # /g/b is gone (being destroyed)
    assert [g["id"] for g in group["groups"]] == ["/g/sub"] and ids["/g/a"] == 2  # groups not given: kept
    status, _ = call(api, "PUT", "/v2/groups/g", {"scaleBy": 2}, query="force=true")
    assert status == 200
    scaled = {a["id"]: a["instances"] for a in call(api, "GET", "/v2/groups/g", query="embed=group.apps")[1]["apps"]}
    assert scaled == {"/g/a": 4, "/g/d": 2}
    status, body = call(api, "DELETE", "/v2/groups/g", query="force=true")
    assert status == 200 and body["deploymentId"]
    assert call(api, "GET", "/v2/groups/g")[0] == 404
    assert call(api, "DELETE", "/v2/groups/g")[0] == 404


def test_what_halyard_cannot_do_with_groups_is_refused_with_the_reason(both):
    _, api = both
    call(api, "POST", "/v2/groups", {"id": "/g", "apps": [app("a")]})
    cases = [
        ({"version": "2023-11-14T22:13:20.000Z"}, "version: group versions are not kept by Halyard"),
        ({"scaleBy": 2, "apps": []}, "scaleBy: may only be combined with 'id'"),
        ({"apps": [app("/elsewhere/x")]}, "apps[0].id: Identifier is not child of '/g'"),
        ({"apps": [app("a", cpus="lots")]}, "apps[0].cpus: expected a number"),
        ({"enforceRole": True}, "enforceRole: roles are not enforced by Halyard"),
        ({"pods": [{"id": "p"}]}, "pods: pods are not supported by Halyard"),
        ({"apps": [app("a", dependencies=["b"]), app("b", dependencies=["a"])]},
         "dependencies: cyclic dependencies: /g/a -> /g/b -> /g/a"),
    ]
    for body, problem in cases:
        status, answer = call(api, "PUT", "/v2/groups/g", body, query="force=true")
        assert status == 422 and answer["problems"][0].startswith(problem), (body, answer)
    assert call(api, "POST", "/v2/groups", {"id": "/empty"})[0] == 422
    assert call(api, "PATCH", "/v2/groups/g", {"enforceRole": False}) == (200, {})
    assert call(api, "PATCH", "/v2/groups/g", {"enforceRole": True})[0] == 422
    assert [a["id"] for a in call(api, "GET", "/v2/groups/g")[1]["apps"]] == ["/g/a"]  # nothing changed


def test_put_and_patch_of_a_list_of_apps_is_one_deployment(both):
    backend, api = both
    call(api, "POST", "/v2/apps", app("/a", env={"K": "1"}))
    status, body = call(api, "PUT", "/v2/apps", [{"id": "/a", "instances": 3}, app("/b")], query="force=true")
    assert status == 200 and body["deploymentId"]
    a = call(api, "GET", "/v2/apps/a")[1]["app"]
    assert a["instances"] == 3 and a["env"] == {"K": "1"}  # partial by default: merged
    plan = [d for d in call(api, "GET", "/v2/deployments")[1] if d["id"] == body["deploymentId"]][0]
    assert plan["affectedApps"] == ["/a", "/b"]
    assert call(api, "PATCH", "/v2/apps", [{"id": "/nope", "instances": 1}])[0] == 404
    status, refused = call(api, "PUT", "/v2/apps", [{"id": "/a", "cpus": "x"}, {"cmd": "y"}])
    assert status == 422 and refused["problems"] == ["[0].cpus: expected a number, got 'x'", "[1].id: required: the app's id"]
    assert call(api, "PUT", "/v2/apps", {"id": "/a"})[0] == 422
    status, _ = call(api, "PUT", "/v2/apps", [app("/a", instances=1)], query="partialUpdate=false&force=true")
    assert status == 200 and call(api, "GET", "/v2/apps/a")[1]["app"]["env"] == {}  # replaced whole


def test_a_deployment_of_several_apps_is_cancelled_by_its_id(both):
    _, api = both
    body = call(api, "POST", "/v2/groups", {"id": "/g", "apps": [app("a"), app("b", dependencies=["a"])]})[1]
    plan_id = body["deploymentId"]
    status, rollback = call(api, "DELETE", f"/v2/deployments/{plan_id}")
    assert status == 200 and rollback["deploymentId"] != plan_id
    shown = call(api, "GET", f"/v2/deployments/{plan_id}")[1]
    assert shown["status"] == "cancelled" and shown["affectedApps"] == ["/g/a", "/g/b"] and shown["currentActions"] == []
    assert plan_id not in [d["id"] for d in call(api, "GET", "/v2/deployments")[1]]
    assert call(api, "GET", "/v2/groups/g")[0] == 404  # new apps: rolled back means removed


def test_a_group_update_that_resends_its_apps_unchanged_plans_nothing(both):
    """The stored apps have service ports assigned; the same definitions sent again with port 0
    keep them, so nothing changes (before, every such app was planned as a restart)."""
    backend, api = both
    call(api, "POST", "/v2/groups", {"id": "/same", "apps": [app("a"), app("b")]})
    status, dry = call(api, "PUT", "/v2/groups/same", {"apps": [app("a"), app("b")]}, query="dryRun=true")
    assert status == 200 and dry == {"steps": []}


def test_a_refused_group_change_is_a_group_change_failed_on_the_stream():
    class Recording(EventHub):
        def __init__(self):
            super().__init__()
            self.seen = []

        def publish(self, event):
            self.seen += marathon_events(event)

    hub = Recording()
    api = create_app(VersionedBackend(), hub)
    assert call(api, "POST", "/v2/apps", app("/prod/db"))[0] == 201   # its deployment is under way
    status, body = call(api, "PUT", "/v2/groups/prod", {"apps": [app("/prod/db", instances=2)]})
    assert status == 409
    assert [(e["eventType"], e["groupId"], e["reason"]) for e in hub.seen] == [
        ("group_change_failed", "/", body["message"])]
    status, _ = call(api, "PUT", "/v2/apps", [app("/other", dependencies=["/other2"]),
                                               app("/other2", dependencies=["/other"])])
    assert status == 422 and hub.seen[-1]["eventType"] == "group_change_failed" and hub.seen[-1]["groupId"] == "/"
    assert "cyclic dependencies" in hub.seen[-1]["reason"]


@pytest.mark.parametrize("update", [
    {"apps": [app("db"), app("web", dependencies=["db"]), app("api", dependencies=["web"])]},   # dependencies
    {"apps": [app("a", env={"V": "2"}), app("n", dependencies=["a"])]},                          # removals first
    {"apps": [app("a", instances=3), app("b")]},                                                 # a scale only
    {"groups": [{"id": "sub", "apps": [app("c"), app("d", dependencies=["c"])]}]},              # a subgroup
])
def test_a_group_update_deploys_the_steps_its_dry_run_promised(both, update):
    _, api = both
    call(api, "POST", "/v2/groups", {"id": "/g", "apps": [app("a"), app("b")], "groups": [{"id": "sub",
                                                                                          "apps": [app("c")]}]})
    status, dry = call(api, "PUT", "/v2/groups/g", update, query="dryRun=true")
    assert status == 200 and dry["steps"]
    status, body = call(api, "PUT", "/v2/groups/g", update, query="force=true")
    assert status == 200
    shown = call(api, "GET", f"/v2/deployments/{body['deploymentId']}")[1]
    # Marathon's dry run shows a new app as scaled (started, then scaled); the deployment as started
    done = [[{**a, "action": "ScaleApplication" if a["action"] == "StartApplication" else a["action"]}
             for a in step["actions"]] for step in shown["steps"]]
    assert [step["actions"] for step in dry["steps"]] == done


def test_a_dry_run_is_refused_as_the_change_would_be(both):
    _, api = both
    call(api, "POST", "/v2/groups", {"id": "/g", "apps": [app("a", dependencies=["b"]), app("b")]})
    update = {"apps": [app("a", dependencies=["b"]), app("b", dependencies=["a"])]}
    dry = call(api, "PUT", "/v2/groups/g", update, query="dryRun=true")
    assert dry == call(api, "PUT", "/v2/groups/g", update, query="force=true")
    assert dry[0] == 422 and dry[1]["problems"] == ["dependencies: cyclic dependencies: /g/a -> /g/b -> /g/a"]
