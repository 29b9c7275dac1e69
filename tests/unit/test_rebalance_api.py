"""``POST /v1/rebalance`` and ``halyard rebalance``: dry runs change nothing, moves start deployments."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from halyard.api.server import create_app
from halyard.engine.messages import Launch, Offers, PutApp, StatusUpdate, Subscribed
from halyard.spec.app import AppSpec

from .test_api import FakeBackend, call
from .test_engine import offer, status


def _slave(n: int) -> dict:
    return {"id": f"S{n}", "hostname": f"127.0.0.{n}", "active": True,
            "resources": {"cpus": 4, "mem": 4096, "ports": "[31000-31009]"},
            "used_resources": {"cpus": 0, "mem": 0}}


@pytest.fixture
def spread_backend(monkeypatch):
    """/web (spread, 6 instances) running 3/3 on S1 and S2; the master knows S1, S2 and S3."""
    backend = FakeBackend()
    engine = backend.engine
    engine.handle(PutApp(AppSpec.model_validate({"id": "/web", "cmd": "serve", "cpus": 0.1, "mem": 32,
                                                 "instances": 6, "strategy": "spread"})))
    engine.handle(Subscribed("F1"))
    out = engine.handle(Offers((offer(1), offer(2))))
    for i, task in enumerate(t for ins in out if isinstance(ins, Launch) for t in ins.tasks):
        engine.handle(StatusUpdate(status(task.task_id, "TASK_RUNNING", agent=task.agent_id, uuid=f"u{i}")))
    assert engine.deployment_of("/web") is None
    monkeypatch.setattr(backend, "state", lambda: {"slaves": [_slave(1), _slave(2), _slave(3)], "frameworks": []})
    return backend


def test_a_dry_run_lists_the_moves_and_changes_nothing(spread_backend):
    api = create_app(spread_backend)
    before = dict(spread_backend.engine.tasks)
    code, body = call(api, "POST", "/v1/rebalance", {"apps": ["web"], "dryRun": True, "minAge": 0})
    assert code == 200 and body["dryRun"] is True and body["deploymentIds"] == []
    assert [(m["fromHost"], m["toHost"]) for m in body["moves"]] == [("127.0.0.1", "127.0.0.3"),
                                                                     ("127.0.0.2", "127.0.0.3")]
    assert body["moves"][0]["reason"] == "/web: 127.0.0.1 has 3, 127.0.0.3 has 0 (spread)"
    assert (body["moves"][0]["scoreBefore"], body["moves"][1]["scoreAfter"]) == (4, 0)
    assert spread_backend.engine.tasks == before and spread_backend.engine.deployments == {}


def test_young_instances_stay_by_default(spread_backend):
    code, body = call(create_app(spread_backend), "POST", "/v1/rebalance", {"dryRun": True})
    assert code == 200 and body["moves"] == []


def test_a_rebalance_starts_one_rebalance_deployment_per_app(spread_backend):
    api = create_app(spread_backend)
    code, body = call(api, "POST", "/v1/rebalance", {"apps": ["/web"], "minAge": 0, "maxMoves": 1})
    assert code == 200 and len(body["moves"]) == 1 and len(body["deploymentIds"]) == 1
    deployment_id = body["deploymentIds"][0]
    code, shown = call(api, "GET", f"/v2/deployments/{deployment_id}")
    assert code == 200 and shown["kind"] == "rebalance" and shown["status"] == "running"
    assert shown["steps"] == [{"actions": [{"action": "RestartApplication", "app": "/web"}]}]
    code, again = call(api, "POST", "/v1/rebalance", {"apps": ["/web"], "minAge": 0, "dryRun": True})
    assert again["moves"] == [] and again["skipped"][0]["reason"] == f"deployment {deployment_id} under way"
    code, cancelled = call(api, "DELETE", f"/v2/deployments/{deployment_id}")
    assert code == 200 and cancelled["deploymentId"] == deployment_id   # nothing rolled back: no new id
    assert call(api, "GET", f"/v2/deployments/{deployment_id}")[1]["status"] == "cancelled"


def test_a_forced_rebalance_moves_an_app_whose_deployment_is_under_way_superseding_it(spread_backend):
    api = create_app(spread_backend)
    code, first = call(api, "POST", "/v1/rebalance", {"apps": ["/web"], "minAge": 0, "maxMoves": 1})
    held = first["deploymentIds"][0]
    code, skipped = call(api, "POST", "/v1/rebalance", {"apps": ["/web"], "minAge": 0, "maxMoves": 1})
    assert code == 200 and skipped["moves"] == [] and skipped["skipped"][0]["reason"] == f"deployment {held} under way"
    code, forced = call(api, "POST", "/v1/rebalance", {"apps": ["/web"], "minAge": 0, "maxMoves": 1, "force": True})
    assert code == 200 and len(forced["moves"]) == 1 and forced["deploymentIds"] != [held]
    assert call(api, "GET", f"/v2/deployments/{held}")[1]["status"] == "cancelled"
    assert call(api, "GET", f"/v2/deployments/{forced['deploymentIds'][0]}")[1]["status"] == "running"


@pytest.mark.parametrize("body,field", [({"apps": "web"}, "apps"), ({"apps": ["bad id!"]}, "apps[0]"),
                                        ({"dryRun": "yes"}, "dryRun"), ({"maxMoves": -1}, "maxMoves"),
                                        ({"minAge": "old"}, "minAge"), ({"speed": 3}, "speed"), ({"force": 1}, "force"),
                                        ([1], "")])
def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(spread_backend, body, field):
    code, answer = call(create_app(spread_backend), "POST", "/v1/rebalance", body)
    assert code == 422 and any(p.startswith(f"{field}:") or p.startswith(field) for p in answer["problems"]), answer
    assert spread_backend.engine.deployments == {}


def test_an_unknown_app_is_a_404(spread_backend):
    code, answer = call(create_app(spread_backend), "POST", "/v1/rebalance", {"apps": ["/nope"]})
    assert code == 404 and answer["message"] == "App '/nope' does not exist"


def test_the_cli_prints_each_move_with_reason_and_scores(monkeypatch):
    from halyard.cli import main as cli_main
    from halyard.cli.client import Client

    answer = {"dryRun": True, "skipped": [], "deploymentIds": [], "deployments": [],
              "moves": [{"app": "/web", "task": "web.1", "fromAgent": "S1", "fromHost": "127.0.0.1",
                         "toAgent": "S3", "toHost": "127.0.0.3", "reason": "/web: 127.0.0.1 has 3, 127.0.0.3 has 0 "
                         "(spread)", "goal": "spread", "scoreBefore": 4, "scoreAfter": 2}]}
    sent = []
    monkeypatch.setattr(Client, "request", lambda self, method, path, json=None, **kw: sent.append(json) or answer)
    result = CliRunner().invoke(cli_main.cli, ["rebalance", "/web", "--dry-run", "--min-age", "0"])
    assert result.exit_code == 0, result.output
    assert sent == [{"dryRun": True, "apps": ["/web"], "minAge": 0.0}]
    assert "1 move(s) (dry run)" in result.output and "4 -> 2" in result.output
    assert "/web: 127.0.0.1 has 3, 127.0.0.3 has 0 (spread)" in result.output
    result = CliRunner().invoke(cli_main.cli, ["rebalance", "-o", "json", "--dry-run"])
    assert json.loads(result.output)["moves"][0]["scoreAfter"] == 2


def test_the_join_trigger_waits_a_cooldown_after_a_join_and_between_runs():
    from halyard.rebalance.trigger import JoinTrigger

    trigger = JoinTrigger(cooldown=60)
    assert not trigger.observe({"S1", "S2"}, 0)          # a new leader's first look: only learns
    assert not trigger.observe({"S1", "S2", "S3"}, 10)   # S3 joins
    assert not trigger.observe({"S1", "S2", "S3", "S4"}, 40)  # covered by the same run
    assert trigger.observe({"S1", "S2", "S3", "S4"}, 70) and trigger.joined == {"S3", "S4"}
    assert not trigger.observe({"S1", "S2", "S3", "S4"}, 200)  # nothing joined since
    assert not trigger.observe({"S1", "S2", "S4"}, 210)  # S3 down...
    assert not trigger.observe({"S1", "S2", "S3", "S4"}, 220)  # ...and back: a join
    assert trigger.observe({"S1", "S2", "S3", "S4"}, 280)
    trigger.reset()
    assert not trigger.observe({"S9"}, 1000) and not trigger.observe({"S9"}, 5000)


def test_the_scheduler_rebalances_by_itself_a_cooldown_after_an_agent_joins(spread_backend, monkeypatch):
    from halyard.runtime.auto_rebalance import AutoRebalancer

    engine = spread_backend.engine
    now = engine.clock() + 1000  # every instance older than the default --min-age
    monkeypatch.setattr(engine, "clock", lambda: now)
    auto = AutoRebalancer(spread_backend, cooldown=30, leading=lambda: True)
    two = {"slaves": [_slave(1), _slave(2)], "frameworks": []}
    three = {"slaves": [_slave(1), _slave(2), _slave(3)], "frameworks": []}
    monkeypatch.setattr(spread_backend, "state", lambda: two)
    auto.look(now)
    monkeypatch.setattr(spread_backend, "state", lambda: three)
    auto.look(now + 5)
    assert engine.deployments == {}  # the cooldown
    auto.look(now + 40)
    (deployment,) = engine.deployments.values()
    assert deployment.kind == "rebalance" and deployment.app_id == "/web"


def test_a_due_automatic_rebalance_plans_on_the_agents_its_look_read(spread_backend, monkeypatch):
    from halyard.runtime.auto_rebalance import AutoRebalancer

    engine = spread_backend.engine
    now = engine.clock() + 1000
    monkeypatch.setattr(engine, "clock", lambda: now)
    auto = AutoRebalancer(spread_backend, cooldown=30, leading=lambda: True)
    reads: list[int] = []
    states = iter([{"slaves": [_slave(1), _slave(2)], "frameworks": []}] +
                  [{"slaves": [_slave(1), _slave(2), _slave(3)], "frameworks": []}] * 2)
    monkeypatch.setattr(spread_backend, "state", lambda: reads.append(1) or next(states))
    auto.look(now)
    auto.look(now + 5)
    auto.look(now + 40)   # due: one read of the master's state, not two
    assert len(reads) == 3 and len(engine.deployments) == 1
