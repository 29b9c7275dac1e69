"""``GET /v1/deployments``: the recent deployments, ended ones with their status and failures,
newest first (what the dashboard's Deployments view lists)."""
from __future__ import annotations


from .test_api import call
from .test_groups_api import app


def test_a_cancelled_deployment_is_listed_with_its_failure_and_the_rollback_after_it(api, backend):
    clock = [1_700_000_000.0]
    backend.engine.clock = lambda: clock[0]
    backend.engine.deployment_book.clock = lambda: clock[0]
    status, created = call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve", "instances": 2})
    assert status == 201
    first = created["deployments"][0]["id"]
    listed = call(api, "GET", "/v1/deployments")[1]
    assert [(d["id"], d["status"], d["kind"], d["endedAt"]) for d in listed] == [(first, "running", "start", None)]
    assert listed[0]["startedAt"] == "2023-11-14T22:13:20.000Z" and listed[0]["totalSteps"] == 1
    clock[0] += 5
    status, answer = call(api, "DELETE", f"/v2/deployments/{first}")
    assert status == 200
    rollback = answer["deploymentId"]
    listed = call(api, "GET", "/v1/deployments")[1]
    assert [(d["id"], d["status"], d["kind"]) for d in listed] == [
        (rollback, "succeeded", "rollback"), (first, "cancelled", "start")]  # a new app: removed at once
    assert listed[1]["failures"] == ["cancelled: rolled back"] and listed[1]["endedAt"] == "2023-11-14T22:13:25.000Z"
    assert [d["id"] for d in call(api, "GET", "/v1/deployments", query="limit=1")[1]] == [rollback]
    assert call(api, "GET", f"/v2/deployments/{first}")[1] == listed[1]  # one deployment, as listed
    assert call(api, "GET", "/v2/deployments")[1] == []  # Marathon's list: only the running ones


def test_a_bad_limit_is_a_422_naming_it(api):
    status, body = call(api, "GET", "/v1/deployments", query="limit=0")
    assert status == 422 and "limit" in str(body), body


def test_an_ended_deployment_of_several_steps_shows_the_step_it_ended_at(both):
    _, api = both
    body = call(api, "POST", "/v2/groups", {"id": "/g", "apps": [app("a"), app("b", dependencies=["a"])]})[1]
    plan_id = body["deploymentId"]
    running = call(api, "GET", f"/v2/deployments/{plan_id}")[1]
    assert (running["currentStep"], running["totalSteps"], running["endedAt"]) == (1, 2, None)
    assert call(api, "DELETE", f"/v2/deployments/{plan_id}")[0] == 200
    cancelled = call(api, "GET", f"/v2/deployments/{plan_id}")[1]
    assert (cancelled["status"], cancelled["currentStep"], cancelled["totalSteps"]) == ("cancelled", 1, 2)
    assert cancelled["endedAt"] is not None and cancelled["failures"] == ["/g/a: cancelled: rolled back"]


def test_cancelling_a_rollback_answers_its_own_id_for_nothing_rolls_it_back(api, backend):
    """The engine does not undo a rollback (nor a rebalance): the cancel's answer names the
    rollback itself, not a second rollback that never exists."""
    assert call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve", "instances": 1})[0] == 201
    status, changed = call(api, "PUT", "/v2/apps/web", {"id": "/web", "cmd": "serve --v2", "instances": 1},
                           query="force=true")
    assert status == 200
    status, answer = call(api, "DELETE", f"/v2/deployments/{changed['deploymentId']}")
    assert status == 200
    rollback = answer["deploymentId"]
    assert (rollback, "running", "rollback") in [(d["id"], d["status"], d["kind"])
                                                 for d in call(api, "GET", "/v1/deployments")[1]]
    status, again = call(api, "DELETE", f"/v2/deployments/{rollback}")
    assert status == 200 and again["deploymentId"] == rollback, again
    assert call(api, "GET", f"/v2/deployments/{rollback}")[0] == 200
