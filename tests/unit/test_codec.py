"""The Mesos codec: v1 JSON in, typed values out; launches rendered back exactly as offered."""
from __future__ import annotations

import base64
import json

from halyard.engine.messages import Acknowledge, AppTaskLaunch, Launch
from halyard.engine.offers import allocate, group_offers
from halyard.mesos.codec import acknowledgement, decode_offer, decode_status, task_infos
from halyard.spec.validation import parse_app

RESERVED_CPUS = {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.5},
                 "reservations": [{"type": "STATIC", "role": "web"}], "allocation_info": {"role": "web"}}
OFFER = {"id": {"value": "O1"}, "agent_id": {"value": "S1"}, "hostname": "127.0.0.1",
         "domain": {"fault_domain": {"region": {"name": "eu"}, "zone": {"name": "eu-1"}}},
         "attributes": [{"name": "rack_id", "type": "TEXT", "text": {"value": "r1"}},
                        {"name": "size", "type": "SCALAR", "scalar": {"value": 2.5}}],
         "resources": [RESERVED_CPUS,
                       {"name": "mem", "type": "SCALAR", "scalar": {"value": 512}, "role": "*"},
                       {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31005}]}}]}


def test_an_offer_becomes_typed_values_with_roles_attributes_and_fault_domain():
    offer = decode_offer(OFFER)
    assert (offer.id, offer.agent_id, offer.hostname, offer.region, offer.zone) == ("O1", "S1", "127.0.0.1", "eu", "eu-1")
    assert dict(offer.attributes) == {"rack_id": "r1", "size": 2.5}
    cpus, mem, ports = offer.resources
    assert (cpus.name, cpus.role, cpus.scalar) == ("cpus", "web", 1.5)
    assert (mem.role, mem.scalar) == ("*", 512.0)
    assert ports.ranges == ((31000, 31005),) and ports.role == "*"


def test_a_launch_takes_resources_exactly_as_offered():
    offered = group_offers([decode_offer(OFFER)])["S1"]
    taken = allocate(offered, [("cpus", "web", 0.5), ("mem", "*", 64.0)], (31002,))
    spec = parse_app({"id": "/web", "cmd": "serve", "cpus": 0.5, "mem": 64})
    launch = Launch("S1", ("O1",), (AppTaskLaunch("web.1", "S1", "127.0.0.1", spec, 0.0, taken, (31002,)),), 5.0)
    (info,) = task_infos(launch)
    cpus, mem, ports = info["resources"]
    assert cpus == {**RESERVED_CPUS, "scalar": {"value": 0.5}}  # reservations and allocation info kept
    assert mem["scalar"] == {"value": 64.0} and mem["role"] == "*"
    assert ports["ranges"] == {"range": [{"begin": 31002, "end": 31002}]}
    assert info["task_id"] == {"value": "web.1"} and info["agent_id"] == {"value": "S1"}
    assert OFFER["resources"][0]["scalar"] == {"value": 1.5}  # the offer itself is not changed


def test_a_status_update_is_parsed_once_with_its_data_decoded():
    payload = {"exitCode": 3}
    status = decode_status({"task_id": {"value": "t1"}, "state": "TASK_FAILED", "agent_id": {"value": "S1"},
                            "reason": "REASON_COMMAND_EXECUTOR_FAILED", "message": "exit 3", "healthy": False,
                            "uuid": "dXVpZA==", "data": base64.b64encode(json.dumps(payload).encode()).decode()})
    assert (status.task_id, status.state, status.agent_id, status.reason) == (
        "t1", "TASK_FAILED", "S1", "REASON_COMMAND_EXECUTOR_FAILED")
    assert status.healthy is False and status.terminal and json.loads(status.data) == payload
    bare = decode_status({"task_id": {"value": "t2"}, "state": "TASK_RUNNING", "data": "not base64!"})
    assert bare.uuid is None and bare.healthy is None and bare.agent_id is None and bare.data == b""
    assert acknowledgement(Acknowledge("t1", "S1", "dXVpZA==")) == {
        "task_id": {"value": "t1"}, "agent_id": {"value": "S1"}, "uuid": "dXVpZA=="}


def test_an_unreadable_offer_is_declined_and_the_readable_ones_reach_the_engine():
    from halyard.mesos.driver import _PymesosScheduler

    events, declined = [], []

    class Driver:
        def declineOffer(self, offer_ids, filters=None):  # noqa: N802 - pymesos' name
            declined.append((offer_ids, filters))

    broken = {"id": {"value": "O2"}, "agent_id": {"value": "S2"}}  # no hostname
    _PymesosScheduler(events.append, lambda message: None).resourceOffers(Driver(), [OFFER, broken])
    (offers,) = events
    assert [o.id for o in offers.offers] == ["O1"]
    assert declined == [([{"value": "O2"}], {"refuse_seconds": 5.0})]


def test_explicit_reconciliation_names_each_tasks_agent():
    from halyard.engine.messages import Reconcile
    from halyard.mesos.driver import MesosDriver

    calls = []

    class Pymesos:
        def reconcileTasks(self, tasks):  # noqa: N802 - pymesos' name
            calls.append(tasks)

    driver = MesosDriver.__new__(MesosDriver)
    driver._driver = Pymesos()
    driver.execute(Reconcile((("web.1", "S1"), ("web.2", None))))
    driver.execute(Reconcile(()))
    assert calls == [[{"task_id": {"value": "web.1"}, "agent_id": {"value": "S1"}}, {"task_id": {"value": "web.2"}}],
                     []]


def test_the_masters_agent_list_becomes_what_the_constraints_read():
    from halyard.mesos.codec import decode_agents

    state = {"slaves": [{"id": "S1", "hostname": "127.0.0.1", "attributes": {"rack_id": "rack-1", "size": 2},
                         "domain": {"fault_domain": {"region": {"name": "local"}, "zone": {"name": "zone-a"}}}},
                        {"id": "S2", "hostname": "127.0.0.2"}]}
    first, second = decode_agents(state)
    assert (first.agent_id, first.hostname, dict(first.attributes), first.region, first.zone) == (
        "S1", "127.0.0.1", {"rack_id": "rack-1", "size": 2.0}, "local", "zone-a")
    assert (second.agent_id, dict(second.attributes), second.zone) == ("S2", {}, None)
    assert first.free is None  # no resources listed: not known


def test_an_agents_free_resources_are_its_resources_less_the_used_and_offered_ones():
    from halyard.cluster.agents import Resources
    from halyard.mesos.codec import decode_agents

    (agent,) = decode_agents({"slaves": [{
        "id": "S1", "hostname": "127.0.0.1",
        "resources": {"cpus": 2.0, "mem": 2048.0, "disk": 1000.0, "gpus": 0.0, "ports": "[31000-32000]"},
        "used_resources": {"cpus": 1.5, "mem": 1024.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-31000]"},
        "offered_resources": {"cpus": 0.25, "mem": 0.0, "disk": 0.0, "gpus": 0.0}}]})
    assert agent.free == Resources(cpus=0.25, mem=1024.0, disk=1000.0)
