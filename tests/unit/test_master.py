"""Where the Mesos master and ZooKeeper are: addresses as given on the command line."""
from __future__ import annotations

import pytest

from halyard.errors import ClusterSourceError, UpstreamError
from halyard.mesos.master import MesosMaster
from halyard.store.election import parse_zk


@pytest.mark.parametrize("given, url", [
    ("http://10.0.0.1:5050", "http://10.0.0.1:5050"),
    ("http://10.0.0.1:5050/", "http://10.0.0.1:5050"),
    ("10.0.0.1:5050", "http://10.0.0.1:5050"),
    ("https://master.example:5050", "https://master.example:5050"),
])
def test_master_url(given, url):
    assert MesosMaster(given).url() == url


def test_an_unreachable_master_is_a_cluster_source_error_for_its_state_and_upstream_for_its_agents():
    master = MesosMaster("http://127.0.0.1:9", timeout=2)
    with pytest.raises(ClusterSourceError, match="cannot reach the master at http://127.0.0.1:9"):
        master.state()
    with pytest.raises(UpstreamError, match="the Mesos master at http://127.0.0.1:9 did not answer"):
        master.agent_url("S1")


@pytest.mark.parametrize("url, hosts, root", [
    ("zk://z1:2181/halyard-prod", "z1:2181,z1:2181,z1:2181,z1:2181/halyard-prod", ""),
    ("zk://z1:2181,z2:2181/a/b/", "z1:2181,z2:2181/a/b", ""),
    ("zk://z1:2181", "z1:2181,z1:2181,z1:2181,z1:2181", "/halyard"),
    ("z1:2181,z2:2181/", "z1:2181,z2:2181", "/halyard"),
])
def test_parse_zk(url, hosts, root):
    assert parse_zk(url) == (hosts, root)


def test_parse_zk_needs_hosts():
    with pytest.raises(ValueError):
        parse_zk("zk:///chroot")
