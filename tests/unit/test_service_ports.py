"""Service ports (Marathon's servicePorts): assigned from the scheduler's range when given as 0,
unique among apps, kept across updates and failovers, freed with the app; requirePorts makes them
the host ports."""
from __future__ import annotations

import pytest

from halyard.engine.app_records import AppRecord, Snapshot
from halyard.engine.messages import DeleteApp, Launch, Offers, Persist, PutApp, StatusUpdate, Subscribed
from halyard.engine.service_ports import PortOwner, PortRange, assign_service_ports
from halyard.errors import ValidationError
from halyard.mesos.codec import task_info
from halyard.spec.validation import parse_app

from .test_engine import make_engine, offer, status


def spec(app_id="/web", **extra):
    return parse_app({"id": app_id, "cmd": "serve", "cpus": 0.1, "mem": 32, **extra})


def ports_of(engine, app_id):
    return engine.apps[app_id].service_ports


def persisted_apps(out):
    return [a for i in out if isinstance(i, Persist) for a in i.apps]


# --- the allocator alone -----------------------------------------------------------------------

def test_zeros_get_the_lowest_free_ports_of_the_range_and_explicit_ports_stay():
    others = [PortOwner("/a", (10000, 10002))]
    got = assign_service_ports(spec(portDefinitions=[{"port": 0}, {"port": 8080}, {"port": 0}]), None, others,
                               PortRange(10000, 10010))
    assert got.service_port_requests() == (10001, 8080, 10003)
    assert [d.port for d in got.port_definitions] == [10001, 8080, 10003]


def test_an_app_without_port_definitions_gets_marathons_default_port_named_default():
    got = assign_service_ports(spec(), None, [], PortRange(10000, 10010))
    assert got.to_json()["portDefinitions"] == [{"port": 10000, "protocol": "tcp", "name": "default", "labels": {}}]


def test_an_update_that_gives_zeros_again_gets_the_apps_own_ports_back():
    first = assign_service_ports(spec(portDefinitions=[{"port": 0}, {"port": 0}]), None,
                                 [PortOwner("/a", (10000,))], PortRange(10000, 10010))
    assert first.service_port_requests() == (10001, 10002)
    again = assign_service_ports(spec(portDefinitions=[{"port": 0}, {"port": 0}, {"port": 0}], cmd="serve --v2"),
                                 first, [PortOwner("/a", (10000,))], PortRange(10000, 10010))
    assert again.service_port_requests() == (10001, 10002, 10003)


def test_an_explicit_port_of_another_app_is_refused_naming_both():
    with pytest.raises(ValidationError) as exc:
        assign_service_ports(spec(portDefinitions=[{"port": 0}, {"port": 10005}]), None,
                             [PortOwner("/team/db", (10005,))], PortRange(10000, 10010))
    assert [str(p) for p in exc.value.problems] == [
        "portDefinitions[1].port: service port 10005 is already used by app '/team/db'"]


def test_a_port_given_twice_is_refused():
    with pytest.raises(ValidationError, match=r"portDefinitions\[1\]\.port: service port 9000 is given twice"):
        assign_service_ports(spec(portDefinitions=[{"port": 9000}, {"port": 9000}]), None, [], PortRange())


def test_an_exhausted_range_is_a_clear_problem():
    with pytest.raises(ValidationError) as exc:
        assign_service_ports(spec(portDefinitions=[{"port": 0}, {"port": 0}]), None,
                             [PortOwner("/a", (10000,)), PortOwner("/b", (10002,))], PortRange(10000, 10002))
    assert [str(p) for p in exc.value.problems] == [
        "portDefinitions[1].port: no free service port: all ports in 10000-10002 are in use "
        "(the scheduler's --local-port-min/--local-port-max)"]


def test_ports_of_an_app_being_deleted_are_not_handed_out_but_may_be_asked_for():
    deleting = [PortOwner("/old", (10000,), active=False)]
    assert assign_service_ports(spec(portDefinitions=[{"port": 0}]), None, deleting,
                                PortRange(10000, 10005)).service_port_requests() == (10001,)
    assert assign_service_ports(spec(portDefinitions=[{"port": 10000}]), None, deleting,
                                PortRange(10000, 10005)).service_port_requests() == (10000,)


def test_bridge_port_mappings_get_service_ports_in_their_service_port():
    bridged = spec(cmd=None, container={"type": "DOCKER", "docker": {"image": "busybox", "network": "BRIDGE"},
                                        "portMappings": [{"containerPort": 80}, {"containerPort": 443, "servicePort": 9443}]})
    got = assign_service_ports(bridged, None, [], PortRange(10000, 10010))
    assert [m["servicePort"] for m in got.to_json()["container"]["portMappings"]] == [10000, 9443]
    old_style = spec(cmd=None, container={"type": "DOCKER", "docker": {"image": "busybox", "network": "BRIDGE",
                                                                       "portMappings": [{"containerPort": 80}]}})
    got = assign_service_ports(old_style, None, [], PortRange(10000, 10010))
    assert got.to_json()["container"]["docker"]["portMappings"][0]["servicePort"] == 10000


def test_a_range_must_be_ordered_and_within_valid_ports():
    with pytest.raises(ValueError):
        PortRange(20000, 10000)
    with pytest.raises(ValueError):
        PortRange(0, 10)


# --- in the engine -----------------------------------------------------------------------------

def test_two_apps_get_distinct_ports_and_an_update_keeps_them():
    engine, _ = make_engine()
    engine.handle(PutApp(spec("/a", portDefinitions=[{"port": 0}, {"port": 0}])))
    engine.handle(PutApp(spec("/b")))
    assert ports_of(engine, "/a") == (10000, 10001) and ports_of(engine, "/b") == (10002,)
    # A changed definition that gives 0 again keeps the ports (and a GET -> PUT round trip too).
    engine.handle(PutApp(spec("/a", portDefinitions=[{"port": 0}, {"port": 0}], cmd="serve --v2"), force=True))
    assert ports_of(engine, "/a") == (10000, 10001)
    engine.handle(PutApp(parse_app(engine.apps["/b"].spec.to_json()), force=True))
    assert ports_of(engine, "/b") == (10002,)


def test_the_same_definition_put_again_with_zeros_changes_nothing():
    engine, _ = make_engine()
    engine.handle(PutApp(spec("/a")))
    record = engine.apps["/a"]
    engine.handle(PutApp(spec("/a"), force=True))
    assert engine.apps["/a"].config_version == record.config_version  # no restart: the same app


def test_a_clash_or_an_exhausted_range_changes_nothing():
    engine, _ = make_engine(service_ports=PortRange(10000, 10001))
    engine.handle(PutApp(spec("/a", portDefinitions=[{"port": 0}])))
    with pytest.raises(ValidationError, match="already used by app '/a'"):
        engine.handle(PutApp(spec("/b", portDefinitions=[{"port": 10000}])))
    with pytest.raises(ValidationError, match="no free service port"):
        engine.handle(PutApp(spec("/b", portDefinitions=[{"port": 0}, {"port": 0}])))
    assert set(engine.apps) == {"/a"} and all(d.app_id != "/b" for d in engine.deployments.values())


def test_ports_are_freed_when_the_app_is_gone():
    engine, _ = make_engine(service_ports=PortRange(10000, 10000))
    engine.handle(PutApp(spec("/a", instances=0)))
    assert ports_of(engine, "/a") == (10000,)
    engine.handle(DeleteApp("/a"))
    assert "/a" not in engine.apps
    engine.handle(PutApp(spec("/b")))
    assert ports_of(engine, "/b") == (10000,)


def test_ports_survive_a_failover_and_stored_apps_without_them_get_them_once():
    engine, _ = make_engine()
    engine.handle(PutApp(spec("/a")))
    stored = {"/a": AppRecord.from_json(engine.apps["/a"].to_json())}
    # An app stored by a scheduler that did not assign service ports.
    legacy = AppRecord(spec=spec("/legacy", portDefinitions=[{"port": 0}]), version=1.0, config_version=1.0)
    stored["/legacy"] = AppRecord.from_json(legacy.to_json())
    successor, _ = make_engine()
    successor.load(Snapshot(apps=stored))
    assert ports_of(successor, "/a") == (10000,)
    assert ports_of(successor, "/legacy") == (10001,)
    assert successor.apps["/legacy"].config_version == 1.0  # not a change of the app: its tasks stay
    out = successor.handle(Subscribed("F1"))
    assert [a.app_id for a in persisted_apps(out)] == ["/legacy"]  # saved with the next event, once
    assert persisted_apps(successor.handle(Subscribed("F1"))) == []


def test_require_ports_makes_the_service_ports_the_host_ports():
    engine, _ = make_engine(service_ports=PortRange(31003, 31005))
    engine.handle(PutApp(spec("/a", requirePorts=True, portDefinitions=[{"port": 0}, {"port": 31005}])))
    assert ports_of(engine, "/a") == (31003, 31005)
    engine.handle(Subscribed("F1"))
    out = engine.handle(Offers((offer(1),)))
    [task] = [t for i in out if isinstance(i, Launch) for t in i.tasks]
    assert task.ports == (31003, 31005)
    env = {v["name"]: v["value"] for v in task_info(task)["command"]["environment"]["variables"]}
    assert (env["PORT0"], env["PORT1"]) == ("31003", "31005")


def test_without_require_ports_host_ports_come_from_the_offer():
    engine, _ = make_engine()
    engine.handle(PutApp(spec("/a")))
    engine.handle(Subscribed("F1"))
    out = engine.handle(Offers((offer(1),)))
    [task] = [t for i in out if isinstance(i, Launch) for t in i.tasks]
    assert ports_of(engine, "/a") == (10000,) and 31000 <= task.ports[0] <= 31009
    engine.handle(StatusUpdate(status(task.task_id, "TASK_RUNNING", agent=task.agent_id)))
