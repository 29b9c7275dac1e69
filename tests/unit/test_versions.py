"""App versions: which changes make one, the bound per app, what the store writes, and the API's
versions, version and rollback answers (in-process, over a real engine)."""
from __future__ import annotations

from typing import Optional

import pytest

from halyard.api.server import create_app
from halyard.engine.app_records import Snapshot
from halyard.engine.messages import DeleteApp, KillTasks, Persist, PutApp, RestartApp
from halyard.spec.app import AppSpec
from halyard.store.zk import ZkStore
from halyard.timestamps import iso

from .test_api import FakeBackend, call
from .test_engine import app, make_engine


def persisted(out) -> Persist:
    return next(i for i in out if isinstance(i, Persist))


def test_every_change_of_definition_or_instances_is_a_version_and_a_noop_is_not():
    engine, clock = make_engine()
    first = persisted(engine.handle(PutApp(app(instances=1))))
    assert [(v.app_id, v.version, v.spec.instances) for v in first.versions] == [("/web", clock.now, 1)]
    clock.now += 10
    scaled = persisted(engine.handle(PutApp(app(instances=2), force=True)))  # a scale: a version too
    assert [v.spec.instances for v in scaled.versions] == [2]
    clock.now += 10
    assert not persisted(engine.handle(PutApp(app(instances=2), force=True))).versions  # nothing changed
    clock.now += 10
    assert len(persisted(engine.handle(RestartApp("/web", force=True))).versions) == 1
    assert engine.versions.of(engine.apps["/web"]) == [1_000_030.0, 1_000_010.0, 1_000_000.0]
    assert engine.apps["/web"].config_version == 1_000_030.0


def test_versions_are_bounded_per_app_and_go_with_the_app():
    engine, clock = make_engine(max_versions=3)
    for n in range(1, 6):
        out = persisted(engine.handle(PutApp(app(instances=n), force=True)))
        clock.now += 1
    assert out.delete_versions == [("/web", 1_000_001.0)]
    assert engine.versions.of(engine.apps["/web"]) == [1_000_004.0, 1_000_003.0, 1_000_002.0]
    out = persisted(engine.handle(DeleteApp("/web", force=True)))  # no tasks: removed at once, with its versions
    assert "/web" not in engine.apps and out.delete_apps == ["/web"]
    assert sorted(out.delete_versions) == [("/web", 1_000_002.0), ("/web", 1_000_003.0), ("/web", 1_000_004.0)]
    assert engine.versions.of(_record("/web", 9.0)) == [9.0]  # a new app of that id starts afresh


def test_a_kill_with_scale_makes_a_version():
    engine, clock = make_engine()
    engine.handle(PutApp(app(instances=0)))
    clock.now += 5
    out = persisted(engine.handle(KillTasks("/web", (), scale=True)))
    assert [v.version for v in out.versions] == [1_000_005.0]


def test_a_new_leader_knows_the_stored_versions():
    engine, _ = make_engine()
    engine.handle(PutApp(app(instances=1)))
    snapshot = Snapshot(apps=dict(engine.apps), app_versions={"/web": [5.0, 1_000_000.0]})
    successor, _ = make_engine()
    successor.load(snapshot)
    assert successor.versions.of(successor.apps["/web"]) == [1_000_000.0, 5.0]


def _record(app_id: str, version: float):
    from halyard.engine.app_records import AppRecord
    return AppRecord(spec=AppSpec.model_validate({"id": app_id, "cmd": "x"}), version=version, config_version=version)


class FakeClient:
    """Enough of kazoo's client for ZkStore.load and write_units: znodes in a dict."""

    def __init__(self, nodes: Optional[dict[str, bytes]] = None):
        self.nodes = dict(nodes or {})

    def ensure_path(self, path, acl=None):
        self.nodes.setdefault(path, b"")

    def get(self, path):
        from kazoo.exceptions import NoNodeError
        from kazoo.protocol.states import ZnodeStat
        if path not in self.nodes:
            raise NoNodeError(path)
        return self.nodes[path], ZnodeStat(0, 0, 0, 0, 3, 0, 0, 0, len(self.nodes[path]), 0, 0)

    def get_async(self, path):
        """kazoo's IAsyncResult, answered already (its ``get`` raises what ``get`` would)."""
        client = self

        class Answered:
            def get(self):
                return client.get(path)

        return Answered()

    def get_children(self, path, include_data=False):
        children = sorted({p[len(path) + 1:].split("/")[0] for p in self.nodes if p.startswith(path + "/")})
        return (children, self.get(path)[1]) if include_data else children

    def transaction(self):  # pragma: no cover - not committed here
        raise AssertionError


def test_a_new_leader_loads_each_apps_version_timestamps_and_reads_a_definition_when_asked():
    from halyard.store import codec
    spec = AppSpec.model_validate({"id": "/g/web", "cmd": "serve"})
    record = {"spec": spec.to_json(), "version": 7.5, "config_version": 7.5}
    nodes = {"/h/apps/%2Fg%2Fweb": codec.encode(record), "/h/versions/%2Fg%2Fweb": b"",
             "/h/versions/%2Fg%2Fweb/5.0": codec.encode({"app_id": "/g/web", "version": 5.0, "spec": spec.to_json()}),
             "/h/versions/%2Fg%2Fweb/7.5": b"{}", "/h/versions/%2Fgone": b""}
    store = ZkStore(FakeClient(nodes), root="/h")
    snapshot = store.load()
    assert set(snapshot.apps) == {"/g/web"}
    assert {a: sorted(v) for a, v in snapshot.app_versions.items()} == {"/g/web": [5.0, 7.5], "/gone": []}
    assert store.app_version("/g/web", 5.0).spec == spec and store.app_version("/g/web", 6.0) is None
    assert store._versions["/h/versions/%2Fg%2Fweb/5.0"] == 0  # known: an old one can be deleted


def test_the_store_writes_each_version_under_its_app_once_and_deletes_old_ones():
    store = ZkStore(FakeClient(), root="/h")
    engine, clock = make_engine(max_versions=1)
    first = persisted(engine.handle(PutApp(app(instances=1))))
    ops = [(kind, path) for unit in store.write_units(first) for kind, path, _ in unit]
    assert ("put", "/h/versions/%2Fweb") in ops and ("put", f"/h/versions/%2Fweb/{1_000_000.0!r}") in ops
    assert ops.index(("put", "/h/versions/%2Fweb")) < ops.index(("put", f"/h/versions/%2Fweb/{1_000_000.0!r}"))
    store._versions["/h/versions/%2Fweb"] = 0  # as after the first commit
    clock.now += 1
    second = persisted(engine.handle(PutApp(app(instances=2), force=True)))
    ops = [(kind, path) for unit in store.write_units(second) for kind, path, _ in unit]
    assert ("put", "/h/versions/%2Fweb") not in ops
    assert ("delete", f"/h/versions/%2Fweb/{1_000_000.0!r}") in ops


class VersionedBackend(FakeBackend):
    """The fake backend, with a store of versions (what the engine persisted)."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: dict[tuple[str, float], AppSpec] = {}
        self.now = 1_700_000_000.0
        self.engine.clock = lambda: self.now
        self.engine.commands.clock = self.engine.clock
        self.engine.deployment_book.clock = self.engine.clock

    def submit(self, command) -> None:
        for ins in self.engine.handle(command):
            if isinstance(ins, Persist):
                self.stored.update({(v.app_id, v.version): v.spec for v in ins.versions})

    def app_version(self, app_id: str, version: float) -> Optional[AppSpec]:
        return self.stored.get((app_id, version))


@pytest.fixture
def versioned():
    backend = VersionedBackend()
    return backend, create_app(backend)


def test_versions_are_listed_newest_first_shown_and_rolled_back_to(versioned):
    backend, api = versioned
    assert call(api, "POST", "/v2/apps", {"id": "/g/web", "cmd": "serve", "instances": 1, "env": {"A": "1"}})[0] == 201
    first = iso(backend.now)
    backend.now += 60
    assert call(api, "PUT", "/v2/apps/g/web", {"env": {"A": "2"}}, query="force=true")[0] == 200
    second = iso(backend.now)
    assert call(api, "GET", "/v2/apps/g/web/versions") == (200, {"versions": [second, first]})
    status, old = call(api, "GET", f"/v2/apps/g/web/versions/{first}")
    assert status == 200 and old["env"] == {"A": "1"} and old["version"] == first and old["id"] == "/g/web"
    backend.now += 60
    status, body = call(api, "PUT", "/v2/apps/g/web", {"version": first}, query="force=true")
    assert status == 200 and body["deploymentId"] and body["version"] == iso(backend.now)
    assert call(api, "GET", "/v2/apps/g/web")[1]["app"]["env"] == {"A": "1"}
    assert len(call(api, "GET", "/v2/apps/g/web/versions")[1]["versions"]) == 3


def test_a_version_with_other_fields_is_a_422_unless_it_is_the_current_one(versioned):
    backend, api = versioned
    call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve", "instances": 1})
    first = iso(backend.now)
    backend.now += 60
    call(api, "PUT", "/v2/apps/web", {"instances": 2}, query="force=true")
    status, body = call(api, "PUT", "/v2/apps/web", {"version": first, "instances": 3}, query="force=true")
    assert status == 422 and body["problems"][0].startswith("version: may only be combined with 'id'")
    assert call(api, "GET", "/v2/apps/web")[1]["app"]["instances"] == 2  # nothing changed
    current = call(api, "GET", "/v2/apps/web")[1]["app"]
    backend.now += 60
    edited = {k: current[k] for k in ("id", "cmd", "cpus", "mem", "version")} | {"instances": 4}
    assert call(api, "PUT", "/v2/apps/web", edited, query="force=true")[0] == 200  # GET, edit, PUT
    assert call(api, "GET", "/v2/apps/web")[1]["app"]["instances"] == 4


def test_unknown_versions_and_apps_are_404(versioned):
    _, api = versioned
    assert call(api, "GET", "/v2/apps/nope/versions") == (404, {"message": "App '/nope' does not exist"})
    call(api, "POST", "/v2/apps", {"id": "/web", "cmd": "serve"})
    assert call(api, "GET", "/v2/apps/web/versions/2001-01-01T00:00:00.000Z") == (
        404, {"message": "App '/web' does not exist in version 2001-01-01T00:00:00.000Z"})
    assert call(api, "PUT", "/v2/apps/web", {"version": "yesterday"})[0] == 404
    assert call(api, "PUT", "/v2/apps/web", {"version": 5})[0] == 422
