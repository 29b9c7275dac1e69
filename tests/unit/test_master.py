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


@pytest.fixture
def agents_only_master():
    """A master serving ``/master/slaves`` (its whole state only to count who asks); yields (url, paths asked)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    asked = []
    slaves = {"slaves": [{"id": "S1", "hostname": "a1", "attributes": {"rack_id": "r1"}, "active": True,
                          "resources": {"cpus": 4.0, "mem": 1024.0}, "used_resources": {"cpus": 1.0, "mem": 0.0},
                          "offered_resources": {}}]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            asked.append(self.path)
            body = json.dumps(slaves if self.path == "/master/slaves" else {"slaves": [], "frameworks": []}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", asked
    httpd.shutdown()
    httpd.server_close()


def test_the_agents_are_read_from_the_masters_agent_list_not_its_whole_state(agents_only_master):
    """/master/state holds every task (10 MB at 20,000 tasks); the agent list is all the agent
    listing and the dashboard's /v1/cluster need (issue 25)."""
    url, asked = agents_only_master
    master = MesosMaster(url)
    agents = master.agents()
    assert [(a.agent_id, a.hostname, a.attributes["rack_id"]) for a in agents] == [("S1", "a1", "r1")]
    assert agents[0].free is not None and agents[0].free.cpus == 3.0
    assert master.slaves()["slaves"][0]["id"] == "S1"
    assert asked == ["/master/slaves", "/master/slaves"]
