"""Marathon's strict clients parse every app: a v2 answer holds only the fields Marathon's own API
has (``docs/docs/rest-api/public/api/v2/types/app.raml``, Marathon 1.10), whatever Halyard added
to the definition; Halyard's own fields stay readable (``embed=app.halyard``) and survive a
Marathon client's GET -> change -> PUT. Driven through marathon-python over the API in-process."""
from __future__ import annotations

import collections
import collections.abc
from typing import Any

import pytest
from marathon import MarathonClient

from halyard.api.event_json import marathon_events
from halyard.api.server import create_app
from halyard.engine.messages import Persist, Publish
from halyard.spec.app import HALYARD_FIELDS, AppSpec
from halyard.spec.validation import parse_app

from .asgi_requests import AsgiAdapter, route_cli_to
from .test_api import FakeBackend, call
from .test_auth_scopes import RecordingHub
from .test_versions import VersionedBackend

# marathon-python 0.13 uses `collections.Iterable`, which Python 3.10 removed (see
# tests/integration/test_marathon_client.py).
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

#: Marathon 1.10's ``App`` (app.raml), field for field: what a v2 app definition may hold.
MARATHON_APP = {
    "id", "acceptedResourceRoles", "args", "backoffFactor", "backoffSeconds", "cmd", "constraints", "container",
    "cpus", "dependencies", "disk", "env", "executor", "executorResources", "fetch", "healthChecks", "check",
    "instances", "labels", "maxLaunchDelaySeconds", "mem", "gpus", "ipAddress", "networks", "ports",
    "portDefinitions", "readinessChecks", "residency", "resourceLimits", "requirePorts", "secrets",
    "taskKillGracePeriodSeconds", "upgradeStrategy", "uris", "user", "version", "versionInfo", "killSelection",
    "unreachableStrategy", "tty", "role"}
#: What ``AppInfo`` adds (``taskStats``: Marathon 1.4's name, which marathon-python reads).
MARATHON_APP_INFO = MARATHON_APP | {"tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments",
                                    "readinessCheckResults", "tasks", "lastTaskFailure", "tasksStats", "taskStats"}

#: An app with every field Halyard adds to Marathon's definition.
EXTENDED = {"id": "/shop/web", "cmd": "serve", "instances": 1, "cpus": 0.1, "mem": 16,
            "minReadySeconds": 5, "drainSeconds": 2, "pinDigest": False, "strategy": {"name": "spread"},
            "environments": {"production": {"instances": 3}}}
#: Those fields as the API keeps them.
EXTENSIONS = {k: v for k, v in parse_app(EXTENDED).to_json().items() if k in HALYARD_FIELDS}


class PublishingBackend(VersionedBackend):
    """The fake backend with its versions, keeping the domain events the engine publishes."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Any] = []

    def submit(self, command: Any) -> None:
        for ins in self.engine.handle(command):
            if isinstance(ins, Persist):
                self.stored.update({(v.app_id, v.version): v.spec for v in ins.versions})
            elif isinstance(ins, Publish):
                self.published.append(ins.event)


class ListeningHub(RecordingHub):
    """Keeps the audit's events, as if a stream were open (the API publishes them only then)."""

    @property
    def streams(self) -> int:
        return 1


@pytest.fixture
def world():
    backend, hub = PublishingBackend(), ListeningHub()
    api = create_app(backend, hub)
    status, body = call(api, "POST", "/v2/apps", EXTENDED)
    assert status == 201, body
    client = MarathonClient("http://halyard")
    client.session.mount("http://halyard", AsgiAdapter(api))
    return api, backend, hub, client


def stored(backend: FakeBackend, app_id: str = "/shop/web") -> AppSpec:
    with backend.reading() as view:
        return view.app(app_id).spec


def test_every_app_field_is_marathons_or_one_halyard_declares():
    fields = {f.alias or name for name, f in AppSpec.model_fields.items()}
    assert set(HALYARD_FIELDS) <= fields and not set(HALYARD_FIELDS) & MARATHON_APP
    assert fields - set(HALYARD_FIELDS) <= MARATHON_APP, fields - set(HALYARD_FIELDS) - MARATHON_APP


def test_marathon_python_reads_lists_and_updates_an_app_with_every_halyard_field(world):
    api, backend, _, client = world
    app = client.get_app("/shop/web", embed_tasks=True, embed_counts=True, embed_task_stats=True)
    assert app.id == "/shop/web" and app.instances == 1
    assert [a.id for a in client.list_apps(embed_counts=True, embed_deployments=True)] == ["/shop/web"]
    assert [a.id for a in client.get_group("/shop").apps] == ["/shop/web"]
    assert [a.id for g in client.get_group("/").groups for a in g.apps] == ["/shop/web"]
    app.instances = 2
    answer = client.update_app("/shop/web", app, force=True)
    assert answer["deploymentId"]
    spec = stored(backend)
    assert spec.instances == 2 and {k: v for k, v in spec.to_json().items() if k in HALYARD_FIELDS} == EXTENSIONS
    version = client.list_versions("/shop/web")[-1]
    assert client.get_version("/shop/web", version).id == "/shop/web"


def test_no_v2_answer_holds_a_field_marathon_does_not_have(world):
    api, backend, hub, _ = world
    call(api, "PUT", "/v2/apps/shop/web", {"cmd": "serve more"}, query="force=true")
    group = call(api, "GET", "/v2/groups/shop")[1]
    call(api, "PUT", "/v2/groups/shop", {"id": "/shop", "apps": [{**group["apps"][0], "instances": 2}]},
         query="force=true")
    version = call(api, "GET", "/v2/apps/shop/web/versions")[1]["versions"][-1]
    apps = [call(api, "GET", "/v2/apps/shop/web")[1]["app"],
            *call(api, "GET", "/v2/apps", query="embed=apps.tasks&embed=apps.taskStats")[1]["apps"],
            call(api, "GET", f"/v2/apps/shop/web/versions/{version}")[1],
            *call(api, "GET", "/v2/groups/shop")[1]["apps"],
            *call(api, "GET", "/v2/groups", query="embed=group.apps&embed=group.groups")[1]["groups"][0]["apps"],
            *[q["app"] for q in call(api, "GET", "/v2/queue")[1]["queue"]]]
    events = [e for d in backend.published for e in marathon_events(d)] + hub.published
    definitions = [e["appDefinition"] for e in events if "appDefinition" in e]
    plans = [g for e in events if "plan" in e for g in (e["plan"]["original"], e["plan"]["target"])]
    planned = [a for g in plans for a in g["apps"] + [a for sub in g["groups"] for a in sub["apps"]]]
    assert len(definitions) >= 2 and len(planned) >= 2
    for app in [*apps, *definitions, *planned]:
        assert set(app) <= MARATHON_APP_INFO, set(app) - MARATHON_APP_INFO


def test_halyard_fields_are_read_with_the_halyard_embed(world):
    api, *_ = world
    app = call(api, "GET", "/v2/apps/shop/web", query="embed=app.halyard")[1]["app"]
    assert {k: app[k] for k in HALYARD_FIELDS} == EXTENSIONS and app["tasks"] == []
    listed = call(api, "GET", "/v2/apps", query="embed=apps.halyard")[1]["apps"][0]
    assert {k: listed[k] for k in HALYARD_FIELDS} == EXTENSIONS
    assert not set(HALYARD_FIELDS) & set(call(api, "GET", "/v2/apps/shop/web")[1]["app"])


def test_a_replace_keeps_the_halyard_fields_it_does_not_name(world):
    """``?partialUpdate=false`` (and a group's apps, a list of apps) replace the definition, but a
    Marathon client cannot name Halyard's fields: those it does not name are kept; ``null`` removes one."""
    api, backend, *_ = world
    shown = call(api, "GET", "/v2/apps/shop/web")[1]["app"]
    status, body = call(api, "PUT", "/v2/apps/shop/web", {**shown, "instances": 2},
                        query="partialUpdate=false&force=true")
    assert status == 200, body
    assert {k: v for k, v in stored(backend).to_json().items() if k in HALYARD_FIELDS} == EXTENSIONS
    group = call(api, "GET", "/v2/groups/shop")[1]
    status, body = call(api, "PUT", "/v2/groups/shop", {"id": "/shop", "apps": [{**group["apps"][0], "instances": 3}]},
                        query="force=true")
    assert status == 200, body
    assert stored(backend).instances == 3 and stored(backend).strategy is not None
    shown = call(api, "GET", "/v2/apps/shop/web")[1]["app"]
    status, body = call(api, "PUT", "/v2/apps", [{**shown, "instances": 1}], query="partialUpdate=false&force=true")
    assert status == 200, body
    assert stored(backend).min_ready_seconds == 5
    shown = call(api, "GET", "/v2/apps/shop/web")[1]["app"]
    status, body = call(api, "PUT", "/v2/apps/shop/web", {**shown, "strategy": None, "drainSeconds": None},
                        query="partialUpdate=false&force=true")
    assert status == 200, body
    spec = stored(backend)
    assert spec.strategy is None and spec.drain_seconds is None and spec.min_ready_seconds == 5


def test_halyard_apps_update_replaces_halyard_fields_too(world, monkeypatch, tmp_path):
    """The CLI's ``apps update`` replaces the definition with its file's: a Halyard field the file
    does not set is removed (the CLI names it with null), unlike a Marathon client's replace."""
    from halyard.cli.main import main

    api, backend, *_ = world
    url = route_cli_to(monkeypatch, api)
    path = tmp_path / "web.yaml"
    path.write_text("id: /shop/web\ncmd: serve\ncpus: 0.1\nmem: 16\nminReadySeconds: 7\n")
    assert main(["apps", "update", str(path), "--no-wait", "--force", "--api", url]) == 0
    spec = stored(backend)
    assert (spec.min_ready_seconds, spec.strategy, spec.drain_seconds, spec.pin_digest, spec.environments) == (
        7, None, None, None, {})
