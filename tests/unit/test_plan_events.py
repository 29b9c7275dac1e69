"""A deployment of several apps is told as a whole, as Marathon tells its DeploymentPlan: a
``deployment_info`` as each step starts, a ``deployment_step_success`` as each ends, one
``deployment_success``/``deployment_failed``; a group change is a ``group_change_success``
(events in, the Marathon events of what the engine publishes out)."""
from __future__ import annotations

from halyard.api.event_json import marathon_events
from halyard.engine.messages import ChangeApps, Offers, Publish, StatusUpdate, Subscribed

from .test_engine import make_engine, offer, status
from .test_plans import launched, spec


def stream(out):
    """The Marathon events of what the engine published: (type, plan's app ids by step, current step's)."""
    shown = [e for i in out if isinstance(i, Publish) for e in marathon_events(i.event)]
    return [(e["eventType"],
             [[a["app"] for a in s["actions"]] for s in e["plan"]["steps"]] if "plan" in e else e.get("groupId"),
             [a["app"] for a in e["currentStep"]["actions"]] if "currentStep" in e else None)
            for e in shown if e["eventType"] not in ("api_post_event", "status_update_event", "instance_changed_event")]


def run(engine, clock, task_ids):
    out = []
    for task_id in task_ids:
        clock.now += 0.1
        out += engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=engine.tasks[task_id].agent_id,
                                                 uuid=f"run-{task_id}")))
    return out


def test_a_deployment_of_several_apps_is_one_plan_on_the_stream():
    engine, clock = make_engine()
    engine.handle(Subscribed("F1"))
    steps = [["/g/db"], ["/g/web"]]
    out = engine.handle(ChangeApps((spec("/g/web", dependencies=["db"]), spec("/g/db")), deployment_id="P1",
                                   group_id="/"))
    assert stream(out) == [("deployment_info", steps, ["/g/db"]), ("group_change_success", "/", None)]
    shown = [e for i in out if isinstance(i, Publish) for e in marathon_events(i.event)]
    info = next(e for e in shown if e["eventType"] == "deployment_info")
    assert info["plan"]["id"] == "P1" and [a["id"] for a in info["plan"]["target"]["groups"][0]["apps"]] == [
        "/g/db", "/g/web"]
    out = run(engine, clock, launched(engine.handle(Offers((offer(1),)))))
    assert stream(out) == [("deployment_step_success", steps, ["/g/db"]), ("deployment_info", steps, ["/g/web"])]
    out = run(engine, clock, launched(engine.handle(Offers((offer(1),)))))
    assert stream(out) == [("deployment_step_success", steps, ["/g/web"]), ("deployment_success", steps, None)]


def test_a_failed_deployment_of_several_apps_fails_once_as_a_whole():
    engine, clock = make_engine(deployment_failures=1)
    engine.handle(Subscribed("F1"))
    engine.handle(ChangeApps((spec("/g/db"), spec("/g/web", dependencies=["db"])), deployment_id="P1"))
    db_task = launched(engine.handle(Offers((offer(1),))))[0]
    clock.now += 1
    out = engine.handle(StatusUpdate(status(db_task, "TASK_FAILED", agent=engine.tasks[db_task].agent_id, uuid="f")))
    shown = [e for i in out if isinstance(i, Publish) for e in marathon_events(i.event)]
    p1 = [(e["eventType"], [a["app"] for a in e["currentStep"]["actions"]] if "currentStep" in e else None)
          for e in shown if "plan" in e and e["plan"]["id"] == "P1"]
    assert p1 == [("deployment_step_failure", ["/g/db"]), ("deployment_failed", None)]
    # /g/db, new, is removed again: a deployment of its own, told as one app's
    others = [e for e in shown if "plan" in e and e["plan"]["id"] != "P1"]
    assert {e["eventType"] for e in others} == {"deployment_info", "deployment_step_success", "deployment_success"}
    failed = next(e for e in shown if e["eventType"] == "deployment_failed")
    assert failed["id"] == "P1" and failed["status"] == "failed" and db_task in failed["reason"]


def test_a_change_of_one_app_keeps_its_own_events_and_an_empty_change_is_still_a_group_change():
    engine, clock = make_engine()
    out = engine.handle(ChangeApps((spec("/g/db"),), deployment_id="P1", group_id="/g"))
    assert stream(out) == [("deployment_info", [["/g/db"]], ["/g/db"]), ("group_change_success", "/g", None)]
    out = engine.handle(ChangeApps((spec("/g/db"),), deployment_id="P2", group_id="/g"))   # nothing changes
    assert stream(out) == [("group_change_success", "/g", None)]
