"""Reading a cluster: Halyard's cluster file and a Mesos master's state document."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from halyard.cluster.agents import Resources, cluster_to_json, load_cluster
from halyard.cluster.ranges import PortSet, normalize, parse_mesos, subtract
from halyard.errors import ValidationError

STATE = json.loads((Path(__file__).parent / "data" / "master_state.json").read_text())


def test_master_state_gives_available_resources_roles_ports_attributes_and_tasks():
    agents = {a.id: a for a in load_cluster(STATE)}
    assert set(agents) == {"S0", "S1"}  # inactive agents are left out
    s0, s1 = agents["S0"], agents["S1"]
    assert s0.available["*"] == Resources(cpus=1.5, mem=1920, disk=4096)
    assert s0.ports["*"] == ((31001, 31099),)
    assert (s0.region, s0.zone, s0.attributes) == ("local", "zone-a", {"rack_id": "rack-1", "level": 2.0})
    assert s0.app_tasks == {"/examples/hello": 1}  # finished tasks and unlabelled ones do not count
    assert s1.available["prod"] == Resources(cpus=2, mem=2048) and s1.ports["prod"] == ((32000, 32000),)
    assert s1.capacity == Resources(cpus=4, mem=4096, disk=4096)


CLUSTER = {"agents": [
    {"id": "a", "hostname": "h1", "resources": {"cpus": 2, "mem": 1024, "ports": [[31000, 31009]]},
     "used": {"cpus": 0.5, "ports": [[31000, 31001]]}, "attributes": {"rack": "r1", "level": 3},
     "domain": {"region": "eu", "zone": "z1"}, "tasks": [{"app": "web"}, {"app": "/web"}],
     "reserved": {"prod": {"cpus": 1, "mem": 512}}},
]}


def test_cluster_file_round_trips():
    [a] = load_cluster(CLUSTER)
    assert a.available == {"*": Resources(cpus=1.5, mem=1024), "prod": Resources(cpus=1, mem=512)}
    assert a.ports["*"] == ((31002, 31009),) and a.app_tasks == {"/web": 2}
    assert a.capacity == Resources(cpus=3, mem=1536)
    again = load_cluster(cluster_to_json([a]))[0]
    assert (again.available, again.ports, again.attributes, again.zone, again.app_tasks) == \
           (a.available, a.ports, a.attributes, a.zone, a.app_tasks)


@pytest.mark.parametrize("doc, path, message", [
    ({"agents": [{"id": "a"}]}, "agents[0].hostname", "required"),
    ({"agents": [{"id": "a", "hostname": "h", "resources": {"cpus": "x"}}]}, "agents[0].resources.cpus", "expected a number"),
    ({"agents": [{"id": "a", "hostname": "h", "resources": {"ports": [[5, 1]]}}]}, "agents[0].resources.ports", "begin <= end"),
    ({"agents": [{"id": "a", "hostname": "h", "cpu": 1}]}, "agents[0].cpu", "unknown field"),
    ({"agents": [{"id": "a", "hostname": "h"}, {"id": "a", "hostname": "g"}]}, "agents", "duplicate agent id(s): a"),
    ({"nodes": []}, "", "expected a cluster file"),
])
def test_bad_cluster_files_are_named(doc, path, message):
    with pytest.raises(ValidationError) as err:
        load_cluster(doc)
    assert any(p.path == path and message in p.message for p in err.value.problems), err.value.problems


def test_ranges():
    assert parse_mesos("[31000-31005, 31007-31007]") == ((31000, 31005), (31007, 31007))
    assert parse_mesos("[]") == ()
    assert normalize([(5, 6), (1, 3), (4, 4)]) == ((1, 6),)
    assert subtract(((1, 10),), ((3, 4), (10, 10))) == ((1, 2), (5, 9))
    ps = PortSet([(10, 12), (20, 20)])
    assert ps.take(11) and 11 not in ps and not ps.take(11)
    assert [ps.take_lowest(), ps.take_lowest(), ps.take_lowest(), ps.take_lowest()] == [10, 12, 20, None]
    assert len(ps) == 0
