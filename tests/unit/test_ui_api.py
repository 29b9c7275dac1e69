"""The dashboard's server side: ``/`` -> ``/ui/``, the static files (open even when reads need a
token), ``/v1/whoami`` and ``/v1/cluster``."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from halyard.api.server import create_app
from halyard.api.tokens import TokenBook, parse_tokens
from halyard.api.ui import cluster_json, whoami_json
from halyard.engine.app_records import TaskRecord
from halyard.ui import STATIC_DIR

from .test_api import MASTER_STATE, FakeBackend, call

TOKENS = {"rw-token": "rw", "ro-token": "ro"}


class StatefulBackend(FakeBackend):
    def state(self) -> Any:
        raise AssertionError("/v1/cluster reads the master's agents (/master/slaves), not its whole state")

    def slaves(self) -> Any:
        return {"slaves": json.loads(MASTER_STATE.read_text())["slaves"]}


def get_file(api: Any, path: str) -> tuple[int, str]:
    """GET a static file through the ASGI app (a client that stays connected while it is sent)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": [],
             "client": ("127.0.0.1", 1234), "server": ("test", 80)}
    sent: list[dict] = []
    first = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if first:
            return first.pop()
        await asyncio.Event().wait()
        return {}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(api(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()


def test_root_redirects_to_the_dashboard_and_its_files_are_served():
    api = create_app(FakeBackend())
    status, _ = call(api, "GET", "/")
    assert status == 302
    status, html = get_file(api, "/ui/")
    assert status == 200 and '<script type="module" src="app.js">' in html
    for name in ("app.js", "style.css", "views/cluster.js", "views/apps.js", "views/app.js"):
        assert (STATIC_DIR / name).is_file(), name
        assert get_file(api, "/ui/" + name)[0] == 200, name
    assert get_file(api, "/ui/nothing.js")[0] == 404


def test_the_dashboard_is_open_when_reads_need_a_token_but_the_api_is_not():
    api = create_app(FakeBackend(), tokens=TOKENS, auth_reads=True)
    assert get_file(api, "/ui/")[0] == 200 and get_file(api, "/ui/app.js")[0] == 200
    assert call(api, "GET", "/")[0] == 302
    assert call(api, "GET", "/v2/apps")[0] == 401
    assert call(api, "GET", "/v1/cluster")[0] == 401
    assert call(api, "GET", "/v1/whoami") == (200, {"authenticated": False, "access": None, "name": None,
                                                   "prefixes": [], "tokensRequired": True, "readsOpen": False})


def test_whoami_tells_what_a_token_may_do():
    book = TokenBook.of(TOKENS)
    assert whoami_json(None, TokenBook.of({}), False) == {"authenticated": False, "access": None, "name": None,
                                                          "prefixes": [], "tokensRequired": False, "readsOpen": True}
    assert whoami_json("Bearer ro-token", book, False)["access"] == "ro"
    assert whoami_json("Bearer rw-token", book, False) == {
        "authenticated": True, "access": "rw", "name": book.grant("rw-token").name, "prefixes": [],
        "tokensRequired": True, "readsOpen": True}
    assert whoami_json("Bearer nope", book, False)["authenticated"] is False
    scoped = parse_tokens("team-a-token rw /team-a/ name=ci-team-a\n")
    assert whoami_json("token=team-a-token", scoped, True) == {
        "authenticated": True, "access": "rw", "name": "ci-team-a", "prefixes": ["/team-a/"],
        "tokensRequired": True, "readsOpen": False}
    api = create_app(FakeBackend(), tokens=TOKENS)
    assert call(api, "GET", "/v1/whoami", headers=(("Authorization", "Bearer ro-token"),))[1]["access"] == "ro"


def test_cluster_shows_agents_with_zone_rack_and_reachability_and_the_tasks_on_them():
    state = json.loads(MASTER_STATE.read_text())
    tasks = [TaskRecord("t1", "/web", 1.0, "S0", "127.0.0.1", (31000,), state="TASK_RUNNING", healthy=True,
                        resources=(0.5, 64.0, 0.0, 0.0)),
             TaskRecord("t2", "/web", 1.0, "S1", "127.0.0.2", (), state="TASK_LAUNCHING", killing=True),
             TaskRecord("t3", "/db", 2.0, "gone-agent", "10.0.0.9", (5432,), state="TASK_UNREACHABLE",
                        unreachable_since=5.0, healthy=False)]
    body = cluster_json(state, tasks)
    agents = {a["id"]: a for a in body["agents"]}
    assert agents["S0"]["zone"] == "zone-a" and agents["S0"]["region"] == "local" and agents["S0"]["rack"] == "rack-1"
    assert agents["S0"]["reachable"] is True and agents["S2"]["reachable"] is False
    assert set(agents["S0"]["resources"]) == {"cpus", "mem", "disk"} and set(agents["S0"]["used"]) == {"cpus", "mem", "disk"}
    # A deactivated (or drained) agent is connected: Mesos says ``active: false`` of it too.
    drained = {**state, "slaves": [{**state["slaves"][0], "active": False, "deactivated": True}]}
    assert cluster_json(drained, [])["agents"][0]["reachable"] is True
    assert agents["gone-agent"] == {"id": "gone-agent", "hostname": "10.0.0.9", "zone": None, "region": None,
                                    "rack": None, "reachable": False,
                                    "resources": {"cpus": 0.0, "mem": 0.0, "disk": 0.0},
                                    "used": {"cpus": 0.0, "mem": 0.0, "disk": 0.0},
                                    "state": "gone", "maintenanceStart": None}
    assert agents["S0"]["state"] == "active"   # no state told: active
    told = cluster_json(state, tasks, {"S0": ("draining", None), "S1": ("maintenance", "2026-12-08T02:00:00.000Z")})
    assert {a["id"]: (a["state"], a["maintenanceStart"]) for a in told["agents"]}["S1"] == \
        ("maintenance", "2026-12-08T02:00:00.000Z")
    t1, t2, t3 = body["tasks"]
    assert t1 == {"id": "t1", "appId": "/web", "agentId": "S0", "host": "127.0.0.1", "ports": [31000], "cpus": 0.5,
                  "mem": 64.0, "state": "TASK_RUNNING", "health": "healthy", "draining": False, "unreachable": False,
                  "version": 1.0}
    assert t2["state"] == "TASK_STAGING" and t2["draining"] is True and t2["health"] == "unknown"
    assert t3["health"] == "unhealthy" and t3["unreachable"] is True


def test_cluster_route_reads_the_master_and_the_engine():
    status, body = call(create_app(StatefulBackend()), "GET", "/v1/cluster")
    assert status == 200 and [a["id"] for a in body["agents"]] == ["S0", "S1", "S2"] and body["tasks"] == []
    status, body = call(create_app(FakeBackend()), "GET", "/v1/cluster")
    assert status == 502 and "did not answer" in body["message"]
