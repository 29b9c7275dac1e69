"""The engine keeps each task's health check history from status updates, and a kill with
``scale`` is a scale deployment (events in, instructions and records out)."""
from __future__ import annotations

import pytest

from halyard.engine.app_records import TaskRecord
from halyard.engine.messages import KillTasks, Persist, PutApp, StatusUpdate, Tick
from halyard.engine.task_health import HEALTH_UPDATE_REASON, TaskHealth, is_check_result
from halyard.engine.waiting import reason_class
from halyard.errors import ConflictError

from .test_engine import app, running_engine, status


def health_update(task_id, agent, healthy, uuid, message=None, reason=HEALTH_UPDATE_REASON):
    return StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid=uuid, healthy=healthy, reason=reason,
                               **({"message": message} if message else {})))


def test_health_history_follows_check_results_as_marathon_keeps_it():
    h = TaskHealth().observe(False, 10.0, "HTTP 500").observe(False, 20.0, None)
    assert (h.consecutive_failures, h.last_failure, h.last_failure_cause, h.first_success) == (
        2, 20.0, "health check failed", None)
    h = h.observe(True, 30.0).observe(True, 40.0)
    assert (h.first_success, h.last_success, h.consecutive_failures, h.last_failure) == (30.0, 40.0, 0, 20.0)
    assert TaskHealth.from_json(h.to_json()) == h and TaskHealth.from_json(None) is None


@pytest.mark.parametrize("healthy, reason, known, counts", [
    (True, HEALTH_UPDATE_REASON, True, True),     # a health update, even repeating itself
    (False, "REASON_RECONCILIATION", False, False),  # a reconciliation answer repeating what is known
    (True, "REASON_RECONCILIATION", None, True),  # ... that says something new
    (None, HEALTH_UPDATE_REASON, True, False),    # no result at all
])
def test_what_counts_as_a_check_result(healthy, reason, known, counts):
    assert is_check_result(healthy, reason, known) is counts


def test_status_updates_build_the_health_history_and_it_is_persisted():
    engine, clock, launched = running_engine(1)
    task_id = launched[0]
    agent = engine.tasks[task_id].agent_id
    clock.now += 5
    failed_at = clock.now
    out = engine.handle(health_update(task_id, agent, False, "h1", message="connection refused"))
    persisted = [t for ins in out if isinstance(ins, Persist) for t in ins.tasks]
    assert persisted and persisted[0].health == TaskHealth(last_failure=failed_at, last_failure_cause="connection refused",
                                                           consecutive_failures=1)
    engine.handle(health_update(task_id, agent, False, "r1", reason="REASON_RECONCILIATION"))
    assert engine.tasks[task_id].health.consecutive_failures == 1  # a reconciliation answer is no new result
    clock.now += 5
    engine.handle(health_update(task_id, agent, True, "h2"))
    health = engine.tasks[task_id].health
    assert (health.first_success, health.last_success, health.consecutive_failures) == (clock.now, clock.now, 0)
    assert TaskRecord.from_json(engine.tasks[task_id].to_json()) == engine.tasks[task_id]
    old = engine.tasks[task_id].to_json()
    old.pop("health")  # a record written before health was kept
    assert TaskRecord.from_json(old).health is None


def test_kill_with_scale_is_a_scale_deployment_that_ends_when_the_task_is_gone():
    engine, clock, launched = running_engine(3)
    engine.handle(KillTasks("/web", (launched[0],), scale=True, deployment_id="d-scale"))
    deployment = engine.deployments["d-scale"]
    assert deployment.kind == "scale" and deployment.previous["instances"] == 3
    assert engine.apps["/web"].spec.instances == 2
    with pytest.raises(ConflictError):  # the app is locked by the scale deployment
        engine.handle(KillTasks("/web", (launched[1],), scale=True, deployment_id="d-2"))
    assert engine.apps["/web"].spec.instances == 2 and not engine.tasks[launched[1]].killing  # nothing changed
    engine.handle(StatusUpdate(status(launched[0], "TASK_KILLED", agent=engine.tasks[launched[0]].agent_id,
                                      uuid="k1")))
    engine.handle(Tick())
    assert "d-scale" not in engine.deployments
    assert engine.deployment_book.ended("d-scale").status == "succeeded"


def test_a_forced_kill_with_scale_supersedes_the_deployment_under_way():
    engine, clock, launched = running_engine(3)
    engine.handle(PutApp(app(4), deployment_id="d-up"))
    engine.handle(KillTasks("/web", (launched[0],), scale=True, deployment_id="d-down", force=True))
    assert list(engine.deployments) == ["d-down"] and engine.apps["/web"].spec.instances == 3


@pytest.mark.parametrize("reasons, delayed, failed, expected", [
    ((), True, False, "delayed"),
    (("strategy 'x' failed: boom",), False, True, "strategy_failed"),
    ((), False, False, "no_offer"),
    (("no offer with 1 cpus, 128 MB mem for 9 s",), False, False, "no_offer"),
    (("constraint [hostname, UNIQUE]: already on this agent on 3 of 3 agents",), False, False, "constraint"),
    (("insufficient cpus (needs 2) on 3 of 3 agents",), False, False, "resources"),
    (("agents 127.0.0.1, 127.0.0.2 full",), False, False, "resources"),
    (("host port 80 not free on 1 of 1 agents",), False, False, "resources"),
    (("zone-filter: wrong zone on 3 of 3 agents",), False, False, "other"),
])
def test_waiting_reasons_fall_into_classes(reasons, delayed, failed, expected):
    assert reason_class(reasons, delayed, failed) == expected
