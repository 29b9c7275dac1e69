"""The API over a fake backend (a real engine behind an EngineView): shapes and error answers,
called in-process through ASGI (no server, no scheduler)."""
from __future__ import annotations

import asyncio
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from halyard.engine.engine import Engine
from halyard.engine.view import EngineView
from halyard.errors import ConflictError, LeaderSuspendedError, NotLeaderError, UpstreamError
from halyard.placement import Scope, Scorer, Strategy, StrategyRegistry
from halyard.placement.registry import BUILTINS
from halyard.runtime.backend import Latency, SchedulerInfo, SchedulerStats

from ..engine_harness import EngineHarness

MASTER_STATE = Path(__file__).parent / "data" / "master_state.json"


def call(api: Any, method: str, path: str, body: Optional[Any] = None, query: str = "",
         headers: tuple[tuple[str, str], ...] = (), raw: bool = False) -> tuple[int, Any]:
    """One request through the ASGI app (``body`` as JSON, or bytes sent as they are); (status, JSON
    body or text; with ``raw``, the text and its content type must match: JSON is checked to be
    ``application/json``)."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query.encode(),
             "headers": [(b"content-type", b"application/json"), (b"host", b"test"),
                         *((k.lower().encode(), v.encode()) for k, v in headers)],
             "client": ("127.0.0.1", 1234), "server": ("test", 80)}
    sent: list[dict] = []
    received = [{"type": "http.request", "body": payload, "more_body": False}]

    async def receive() -> dict:
        return received.pop(0) if received else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(api(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if raw:
        start = next(m for m in sent if m["type"] == "http.response.start")
        content_type = dict(start["headers"]).get(b"content-type", b"").decode()
        assert content_type.startswith("application/json") == body.startswith(b'"'), content_type
        return status, body.decode()
    global LAST_HEADERS
    LAST_HEADERS = {k.decode().lower(): v.decode()
                    for k, v in next(m for m in sent if m["type"] == "http.response.start").get("headers", [])}
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()


LAST_HEADERS: dict[str, str] = {}  # the headers of call's last answer


class FakeBackend:
    """A leader with a real engine; ``refuse`` makes commands raise."""

    def __init__(self) -> None:
        self.engine = EngineHarness(StrategyRegistry(), clock=lambda: 1_700_000_000.0)
        self.refuse: Optional[Exception] = None
        self.leading = True
        self.stale: Optional[float] = None

    def leader(self) -> Optional[str]:
        return "me:8080" if self.leading else None

    def address(self) -> str:
        return "me:8080"

    @contextmanager
    def reading(self):
        if not self.leading:
            raise NotLeaderError(None)
        yield EngineView(self.engine)

    def submit(self, command: Any) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.engine.handle(command)

    def stats(self) -> SchedulerStats:
        return SchedulerStats(leader=self.leading, epoch=3, offer_cycles=7, reconciling=0,
                              offer_to_accept=Latency(p50=1.5, p99=9.25, count=4))

    def about(self) -> SchedulerInfo:
        return SchedulerInfo(name="halyard", version="0.1.0", leader="me:8080", elected=True, framework_id="F1",
                             master="zk://z:2181/mesos", role="*", failover_timeout=604800.0, zk="zk://z:2181/h",
                             zk_session_timeout=10.0, listen="me:8080", subscribed_master="10.0.0.2:5050")

    def abdicate(self) -> bool:
        return True

    def stale_for(self) -> Optional[float]:
        return self.stale

    def master(self) -> Any:
        return self

    def state(self) -> Any:
        raise UpstreamError("the Mesos master at http://m:5050 did not answer")

    def slaves(self) -> Any:
        return self.state()

    def agent_url(self, agent_id: str) -> str:
        raise UpstreamError("the Mesos master at http://m:5050 did not answer")


def test_info_leader_and_stats_keep_their_json(api):
    assert call(api, "GET", "/v2/info") == (200, {
        "name": "halyard", "version": "0.1.0", "leader": "me:8080", "elected": True, "frameworkId": "F1",
        "marathon_config": {"master": "zk://z:2181/mesos", "framework_name": "halyard", "mesos_role": "*",
                            "failover_timeout": 604800.0, "mesos_user": None,
                            "mesos_leader_ui_url": "http://10.0.0.2:5050/"},
        "zookeeper_config": {"zk": "zk://z:2181/h", "zk_timeout": 10000}, "http_config": {"http_port": 8080}})
    assert call(api, "GET", "/v1/stats") == (200, {"leader": True, "suspended": False, "epoch": 3, "offerCycles": 7,
                                                  "reconciling": 0,
                                                  "offerToAcceptMs": {"p50": 1.5, "p99": 9.25, "count": 4}})
    assert call(api, "GET", "/v2/leader") == (200, {"leader": "me:8080"})
    assert call(api, "GET", "/ping") == (200, "pong")


def test_a_leader_without_zookeeper_serves_reads_marked_stale_and_refuses_changes_with_marathons_503(api, backend):
    """ZooKeeper's quorum lost: reads carry X-Halyard-Stale (seconds since), writes get Marathon's
    no-leader answer; nothing else changes, and the header goes when ZooKeeper is back."""
    backend.stale = 12.34
    assert call(api, "GET", "/v2/apps")[0] == 200 and LAST_HEADERS["x-halyard-stale"] == "12.3"
    backend.refuse = LeaderSuspendedError(12.34)
    status, body = call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "sleep 1"})
    assert status == 503 and body["message"] == "Could not determine the current leader"
    assert "ZooKeeper unreachable for 12.3 s" in body["reason"]
    assert call(api, "GET", "/v2/apps/web")[0] == 404  # nothing was created
    backend.stale, backend.refuse = None, None
    assert call(api, "GET", "/v2/apps")[0] == 200 and "x-halyard-stale" not in LAST_HEADERS


def test_a_conflict_names_the_deployment_in_the_way(api, backend):
    backend.refuse = ConflictError("App is locked by one or more deployments.", deployment_id="d-42")
    status, body = call(api, "PUT", "/v2/apps/web", {"cmd": "x"})
    assert status == 409 and body == {"message": "App is locked by one or more deployments.",
                                      "deployments": [{"id": "d-42"}]}
    backend.refuse = ConflictError("App '/web' is being deleted")
    assert call(api, "PUT", "/v2/apps/web", {"cmd": "x"})[1]["deployments"] == []


def test_a_master_that_does_not_answer_is_a_502(api):
    status, body = call(api, "POST", "/v1/plan", {"id": "/x", "cmd": "y"})
    assert status == 502 and "did not answer" in body["message"]


class Raises(Scorer):
    name = "raises"
    scope = Scope.AGENT

    def score(self, ctx, agent):
        raise RuntimeError("boom")


def test_the_dry_run_shows_a_broken_strategy_as_the_reason_not_a_500(api, backend, monkeypatch):
    plugins = {"raises": lambda args: Strategy("raises", scorers=((Raises(), 1.0),)), "crashes": lambda args: 1 / 0}
    monkeypatch.setattr(StrategyRegistry, "discover", classmethod(lambda cls: cls({**BUILTINS, **plugins})))
    monkeypatch.setattr(backend, "state", lambda: json.loads(MASTER_STATE.read_text()))
    status, body = call(api, "POST", "/v1/plan", {"apps": [
        {"id": "/ok", "cmd": "y", "cpus": 0.1, "mem": 8}, {"id": "/bad", "cmd": "y", "strategy": "raises"},
        {"id": "/worse", "cmd": "y", "strategy": "crashes"}]})
    assert status == 200 and [p["app"] for p in body["placements"]] == ["/ok"]
    assert [(u["app"], u["reasons"]) for u in body["unplaced"]] == [
        ("/bad", ["strategy 'raises' failed: scorer 'raises' raised RuntimeError('boom')"]),
        ("/worse", ["strategy 'crashes' failed: strategy 'crashes' failed to start: "
                    "ZeroDivisionError('division by zero')"])]
    status, body = call(api, "POST", "/v1/plan", {"id": "/x", "cmd": "y", "strategy": "nope"})
    assert status == 422 and "unknown strategy 'nope'" in body["problems"][0]  # bad input is still refused


def test_apps_tasks_queue_and_deployments_render_from_the_view(api, backend):
    status, created = call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve", "instances": 2})
    assert status == 201 and created["id"] == "/web" and created["version"] == "2023-11-14T22:13:20.000Z"
    assert created["tasks"] == [] and created["tasksRunning"] == 0 and len(created["deployments"]) == 1
    assert call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve"}) == (
        409, {"message": "An app with id [/web] already exists."})
    listed = call(api, "GET", "/v2/apps")[1]["apps"]
    assert [a["id"] for a in listed] == ["/web"] and "tasks" not in listed[0]
    assert call(api, "GET", "/v2/apps/web/tasks") == (200, {"tasks": []})
    assert call(api, "GET", "/v2/apps/nope") == (404, {"message": "App '/nope' does not exist"})
    queued = call(api, "GET", "/v2/queue")[1]["queue"]
    assert queued[0]["count"] == 2 and queued[0]["app"]["id"] == "/web"
    deployments = call(api, "GET", "/v2/deployments")[1]
    assert deployments[0]["affectedApps"] == ["/web"] and deployments[0]["steps"][0]["actions"][0]["action"] == \
        "StartApplication"
    assert call(api, "GET", "/v1/apps/web/placement")[1]["pending"] == 2


def test_a_standby_without_a_known_leader_answers_503(api, backend):
    backend.leading = False
    assert call(api, "GET", "/v2/apps") == (503, {"message": "Could not determine the current leader", "leader": None})


def test_a_standby_cut_from_zookeeper_says_why_it_cannot_name_the_leader(api, backend):
    backend.refuse = NotLeaderError(None, "ZooKeeper unreachable for 2.0 s: this scheduler cannot tell which one leads")
    status, body = call(api, "PUT", "/v2/apps/web", {"cmd": "x", "cpus": 0.1, "mem": 8})
    assert status == 503 and body["message"] == "Could not determine the current leader" and body["leader"] is None
    assert body["reason"].startswith("ZooKeeper unreachable for 2.0 s")


def test_invalid_input_is_a_422_with_paths(api):
    status, body = call(api, "POST", "/v2/apps", {"id": "/x", "cmd": "y", "cpus": "z"})
    assert status == 422 and body["problems"] == ["cpus: expected a number, got 'z'"]
    assert body["details"] == [{"path": "/cpus", "errors": ["expected a number, got 'z'"]}]



def test_a_strategy_whose_plugin_cannot_start_is_a_422_and_changes_nothing(api, backend):
    backend.engine = Engine(StrategyRegistry({**BUILTINS, "crashes": lambda args: 1 / 0}),
                            clock=lambda: 1_700_000_000.0)
    status, body = call(api, "POST", "/v2/apps", {"id": "/worse", "cmd": "y", "strategy": "crashes"})
    assert status == 422, body
    assert body["details"] == [{"path": "/strategy", "errors": [
        "strategy 'crashes' failed to start: ZeroDivisionError('division by zero')"]}]
    assert call(api, "GET", "/v2/apps/worse")[0] == 404
