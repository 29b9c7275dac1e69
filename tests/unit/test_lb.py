"""``halyard lb``'s pure parts: marathon-lb's labels (and their validation), which services an LB
serves, ServerSet member bodies, the HAProxy configuration and when it is reloaded."""
from __future__ import annotations

import shutil
import subprocess
import threading

import pytest

from halyard.lb.haproxy import MasterView, parse_show_proc
from halyard.lb.render import Settings, needs_reload, render
from halyard.lb.runner import LoadBalancer
from halyard.lb.services import Service, services_of
from halyard.spec.lb_labels import PortLabels, app_groups, in_group, label_problems, port_labels
from halyard.spec.validation import app_problems
from halyard.store.serverset_format import Endpoint, Member, member_body, member_path, parse_member
from halyard.store.serversets import discovery_root

# --- labels --------------------------------------------------------------------------------------

@pytest.mark.parametrize("served, groups, expected", [
    ({"external"}, {"external"}, True),
    ({"external"}, {"internal", "external"}, True),
    ({"external"}, {"internal"}, False),
    ({"external"}, set(), False),
    ({"*"}, set(), True),
    ({"internal", "external"}, {"internal"}, True),
])
def test_an_lb_serves_the_apps_of_its_groups(served, groups, expected):
    assert in_group(frozenset(served), frozenset(groups)) is expected


def test_groups_and_port_labels_are_read_as_marathon_lb_reads_them():
    labels = {"HAPROXY_GROUP": "external, internal", "HAPROXY_0_PORT": "8080", "HAPROXY_0_MODE": "HTTP",
              "HAPROXY_1_GROUP": "internal", "HAPROXY_0_VHOST": "x.example.com", "OTHER": "1"}
    assert app_groups(labels) == {"external", "internal"}
    assert port_labels(labels) == {0: PortLabels(0, port=8080, mode="http"),
                                   1: PortLabels(1, groups=frozenset({"internal"}))}
    assert port_labels({"HAPROXY_0_PORT": "nope"}) == {0: PortLabels(0)}


@pytest.mark.parametrize("labels, ports, problems", [
    ({"HAPROXY_0_PORT": "8080", "HAPROXY_0_MODE": "tcp"}, 1, []),
    ({"HAPROXY_1_PORT": "8081"}, 2, []),
    ({"HAPROXY_0_PORT": "http"}, 1, [("labels", "HAPROXY_0_PORT")]),
    ({"HAPROXY_0_PORT": "0"}, 1, [("labels", "HAPROXY_0_PORT")]),
    ({"HAPROXY_0_PORT": "65536"}, 1, [("labels", "HAPROXY_0_PORT")]),
    ({"HAPROXY_0_PORT": "-1"}, 1, [("labels", "HAPROXY_0_PORT")]),
    ({"HAPROXY_1_PORT": "8081"}, 1, [("labels", "HAPROXY_1_PORT")]),
    ({"HAPROXY_0_PORT": "8081"}, 0, [("labels", "HAPROXY_0_PORT")]),
    ({"HAPROXY_0_MODE": "udp"}, 1, [("labels", "HAPROXY_0_MODE")]),
    ({"HAPROXY_3_GROUP": "x", "HAPROXY_GROUP": "", "HAPROXY_0_VHOST": "v"}, 1, []),
])
def test_label_problems_name_the_label(labels, ports, problems):
    assert [p for p, _ in label_problems(labels, ports)] == problems


def test_validation_refuses_a_bad_frontend_port_with_its_path_and_reason():
    _, problems = app_problems({"id": "/web", "cmd": "serve", "labels": {"HAPROXY_0_PORT": "80x"}})
    assert [(p.path, p.message) for p in problems] == [("labels.HAPROXY_0_PORT", "'80x' is not a valid port (1-65535)")]


def test_validation_refuses_a_label_for_a_port_the_app_does_not_have():
    app = {"id": "/web", "cmd": "serve", "portDefinitions": [{"port": 0}, {"port": 0, "name": "admin"}],
           "labels": {"HAPROXY_1_PORT": "9001", "HAPROXY_2_PORT": "9002", "HAPROXY_2_MODE": "http"}}
    _, problems = app_problems(app)
    assert [(p.path, p.message) for p in problems] == [
        ("labels.HAPROXY_2_MODE", "names port 2, but the app has 2 ports (0-1)"),
        ("labels.HAPROXY_2_PORT", "names port 2, but the app has 2 ports (0-1)")]
    bridge = {"id": "/web", "container": {"type": "DOCKER", "docker": {"image": "nginx", "network": "BRIDGE"},
                                          "portMappings": [{"containerPort": 80}]},
              "labels": {"HAPROXY_0_PORT": "8080", "HAPROXY_1_PORT": "8081"}}
    _, problems = app_problems(bridge)
    assert [(p.path, p.message) for p in problems] == [
        ("labels.HAPROXY_1_PORT", "names port 1, but the app has 1 port (index 0)")]
    spec, problems = app_problems({**bridge, "labels": {"HAPROXY_0_PORT": "8080"}})
    assert problems == [] and spec is not None


# --- services --------------------------------------------------------------------------------------

def app(app_id: str, labels: dict, ports=((10000, "http"),), checks=()):
    return {"id": app_id, "labels": labels, "healthChecks": list(checks),
            "portDefinitions": [{"port": p, "name": n} for p, n in ports]}


def test_services_are_the_served_ports_of_the_apps_of_the_group():
    apps = [app("/b/web", {"HAPROXY_GROUP": "external"},
                checks=[{"protocol": "MESOS_HTTP", "path": "/health", "portIndex": 0}]),
            app("/a/db", {"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "15432"}, ports=((10001, None),)),
            app("/internal", {"HAPROXY_GROUP": "internal"}, ports=((10002, None),)),
            app("/none", {}, ports=((10003, None),)),
            app("/two", {"HAPROXY_GROUP": "internal", "HAPROXY_1_GROUP": "external", "HAPROXY_1_MODE": "http"},
                ports=((10004, None), (10005, "admin")))]
    services, notes = services_of(apps, frozenset({"external"}))
    assert services == [Service("/a/db", 0, 15432, "tcp"),
                        Service("/b/web", 0, 10000, "http", "http", "/health"),
                        Service("/two", 1, 10005, "http", "admin")]
    assert notes == []
    assert services[1].name == "b_web_10000"
    everything, _ = services_of(apps, frozenset({"*"}))
    assert {s.app_id for s in everything} == {"/a/db", "/b/web", "/internal", "/none", "/two"}


def test_a_bridge_apps_service_ports_come_from_its_port_mappings():
    bridge = {"id": "/br", "labels": {"HAPROXY_GROUP": "external"}, "portDefinitions": [],
              "container": {"portMappings": [{"containerPort": 80, "servicePort": 10010, "name": "web"}]}}
    assert services_of([bridge], frozenset({"external"}))[0] == [Service("/br", 0, 10010, "tcp", "web")]


def test_ports_that_cannot_be_served_are_left_out_with_a_reason():
    apps = [app("/a", {"HAPROXY_GROUP": "external"}, ports=((10000, None), (10001, None))),
            app("/b", {"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "10000"}, ports=((10002, None),)),
            app("/c", {"HAPROXY_GROUP": "external"}, ports=((0, None),))]
    services, notes = services_of(apps, frozenset({"external"}))
    assert services == [Service("/a", 0, 10000, "tcp")]
    assert notes == ["/a port 1: unnamed, so its members do not announce it (ServerSets name additional endpoints "
                     "by port name)",
                     "/b port 0: frontend port 10000 is taken by /a port 0",
                     "/c port 0: no service port and no HAPROXY_0_PORT"]


# --- members ---------------------------------------------------------------------------------------

def test_a_member_body_in_aurora_s_format_is_read():
    body = member_body("127.0.0.2", 31000, 3, {"admin": ("127.0.0.2", 31001)})
    member = parse_member("member_0000000012", body)
    assert member == Member("member_0000000012", Endpoint("127.0.0.2", 31000),
                            {"admin": Endpoint("127.0.0.2", 31001)}, "ALIVE", 3)
    assert member.alive
    assert member.endpoint(0, "http") == Endpoint("127.0.0.2", 31000)
    assert member.endpoint(1, "admin") == Endpoint("127.0.0.2", 31001)
    assert member.endpoint(1, None) is None and member.endpoint(2, "nope") is None
    assert not parse_member("member_1", member_body("h", 1, 0, status="STOPPING")).alive


@pytest.mark.parametrize("body, problem", [
    (b"{", "not JSON"),
    (b"[]", "expected a JSON object"),
    (b'{"serviceEndpoint": {"host": "h"}}', "serviceEndpoint.port"),
    (b'{"serviceEndpoint": {"host": "h", "port": 70000}}', "serviceEndpoint.port"),
    (b'{"serviceEndpoint": {"port": 1}}', "serviceEndpoint"),
    (b'{"serviceEndpoint": {"host": "h", "port": 1}, "additionalEndpoints": {"a": {"host": "h"}}}',
     "additionalEndpoints.a.port"),
])
def test_a_bad_member_body_says_what_is_wrong(body, problem):
    with pytest.raises(ValueError, match=problem.replace(".", r"\.")):
        parse_member("member_0000000001", body)


def test_the_discovery_path_is_under_the_chroot_unless_absolute():
    assert discovery_root("", "discovery") == "/discovery"
    assert discovery_root("/halyard", "discovery") == "/halyard/discovery"
    assert discovery_root("/halyard", "/services/") == "/services"
    assert member_path("/halyard/discovery", "/examples/hello") == "/halyard/discovery/examples/hello"


# --- the configuration -----------------------------------------------------------------------------

def members(*specs):
    return tuple(parse_member(name, member_body(host, port, i, status=status))
                 for i, (name, host, port, status) in enumerate(specs))


WEB = Service("/web", 0, 10000, "http", "http", "/health")
DB = Service("/db", 0, 15432, "tcp")


def test_one_frontend_per_service_on_loopback_and_one_backend_of_its_alive_members():
    text = render([WEB, DB], {"/web": members(("member_0000000002", "127.0.0.3", 31002, "ALIVE"),
                                              ("member_0000000001", "127.0.0.2", 31001, "ALIVE"),
                                              ("member_0000000003", "127.0.0.1", 31003, "STOPPING"))},
                  Settings(run_dir="/run/lb"))
    web = text[text.index("frontend web_10000"):text.index("frontend db_15432")]
    assert web.splitlines() == [
        "frontend web_10000", "    bind 127.0.0.1:10000", "    mode http", "    default_backend web_10000", "",
        "backend web_10000", "    mode http", "    balance roundrobin", "    retry-on conn-failure empty-response",
        "    option httpchk GET /health",
        "    server member_0000000001 127.0.0.2:31001 check",
        "    server member_0000000002 127.0.0.3:31002 check", ""]
    db = text[text.index("frontend db_15432"):]
    assert "    bind 127.0.0.1:15432" in db and "    mode tcp" in db and "    server" not in db and "httpchk" not in db
    assert "    default-server inter 1000ms fall 2 rise 2" in text
    assert "    option redispatch 1" in text
    assert "stats socket /run/lb/haproxy.sock mode 600 level admin expose-fd listeners" in text
    assert "    load-server-state-from-file global" in text


def test_the_rendering_is_deterministic_so_the_same_members_need_no_reload():
    one = render([WEB, DB], {"/web": members(("member_2", "h", 2, "ALIVE"), ("member_1", "h", 1, "ALIVE"))},
                 Settings())
    two = render([DB, WEB], {"/web": members(("member_1", "h", 1, "ALIVE"), ("member_2", "h", 2, "ALIVE"))},
                 Settings())
    assert one == two
    assert not needs_reload(one, two)
    assert needs_reload(None, one)
    assert needs_reload(one, render([WEB, DB], {"/web": members(("member_1", "h", 1, "ALIVE"))}, Settings()))


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed (apt-get install haproxy)")
def test_haproxy_accepts_the_configuration(tmp_path):
    text = render([WEB, DB], {"/web": members(("member_1", "127.0.0.1", 31001, "ALIVE"))},
                  Settings(run_dir=str(tmp_path)))
    (tmp_path / "haproxy.cfg").write_text(text)
    done = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_master_cli_s_show_proc_is_read():
    text = ("#<PID>          <type>          <reloads>       <uptime>        <version>\n"
            "18253           master          2 [failed: 0]   0d00h00m22s     2.6.12-1+deb12u4\n"
            "# workers\n"
            "18300           worker          0               0d00h00m01s     2.6.12-1+deb12u4\n"
            "# old workers\n"
            "18255           worker          2               0d00h00m22s     2.6.12-1+deb12u4\n"
            "# programs\n")
    assert parse_show_proc(text) == MasterView(2, 0, (18300,))
    assert parse_show_proc(text.replace("[failed: 0]", "[failed: 1]")).failed == 1
    assert parse_show_proc("") == MasterView(None, 0, ())


# --- the loop --------------------------------------------------------------------------------------

class FakeProxy:
    def __init__(self):
        self.running = None
        self.applied: list[str] = []

    def apply(self, text: str) -> bool:
        if text == self.running:
            return False
        self.running = text
        self.applied.append(text)
        return True


def test_the_loop_watches_the_served_apps_and_reloads_only_when_the_configuration_changes():
    proxy = FakeProxy()
    watched: list[set[str]] = []
    balancer = LoadBalancer(frozenset({"external"}), Settings(), proxy, watch=watched.append)
    balancer.on_apps([app("/web", {"HAPROXY_GROUP": "external"}), app("/other", {}, ports=((10001, None),))])
    assert watched == [{"/web"}]
    assert balancer.step() is True
    balancer.on_members("/web", members(("member_1", "127.0.0.2", 31001, "ALIVE")))
    assert balancer.step() is True and "server member_1 127.0.0.2:31001 check" in proxy.running
    balancer.on_members("/web", members(("member_1", "127.0.0.2", 31001, "ALIVE")))
    assert balancer.step() is False
    balancer.on_members("/web", ())
    assert balancer.step() is True and "    server " not in proxy.running
    assert len(proxy.applied) == 3 and balancer.reloads == 3


def test_the_loop_applies_a_burst_of_changes_once():
    proxy = FakeProxy()
    balancer = LoadBalancer(frozenset({"external"}), Settings(), proxy, watch=lambda ids: None, debounce=0.3)
    stop = threading.Event()
    loop = threading.Thread(target=balancer.run, args=(stop,))
    loop.start()
    try:
        balancer.on_apps([app("/web", {"HAPROXY_GROUP": "external"})])
        for n in range(1, 6):
            balancer.on_members("/web", members(*[(f"member_{i}", "h", 31000 + i, "ALIVE") for i in range(n)]))
        deadline = threading.Event()
        for _ in range(50):
            if proxy.running and "member_4" in proxy.running:
                break
            deadline.wait(0.1)
        assert proxy.running and "member_4" in proxy.running
        assert len(proxy.applied) == 1
    finally:
        stop.set()
        loop.join(5)
    assert not loop.is_alive()


def test_the_command_names_its_options_and_refuses_a_missing_haproxy():
    from click.testing import CliRunner

    from halyard.cli.main import cli

    shown = CliRunner().invoke(cli, ["lb", "--help"])
    assert shown.exit_code == 0
    for option in ("--api", "--zk", "--discovery-path", "--group", "--bind", "--check-interval", "--debounce"):
        assert option in shown.output
    refused = CliRunner().invoke(cli, ["lb", "--zk", "zk://127.0.0.1:1/x", "--haproxy", "no-such-haproxy"])
    assert refused.exit_code == 2 and "no-such-haproxy not found" in refused.output


def test_the_apps_feed_reads_again_after_an_event_of_a_stream_that_names_no_content_type():
    """An event stream is UTF-8 whatever its headers say: one without a Content-Type (which
    requests would hand over as bytes) still makes the feed read the apps again."""
    import queue
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from halyard.lb.apps_feed import AppsFeed

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.startswith("/v2/apps"):
                body = b'{"apps": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)   # the stream: no Content-Type
            self.end_headers()
            self.wfile.write(b'event: api_post_event\ndata: {"eventType": "api_post_event"}\n\n')  # then closed

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    reads: queue.Queue[list] = queue.Queue()
    feed = AppsFeed(f"http://127.0.0.1:{httpd.server_address[1]}", reads.put, retry_seconds=30)
    feed.start()
    try:
        reads.get(timeout=10)   # once attached
        reads.get(timeout=10)   # after the event
    finally:
        feed.stop()
        httpd.shutdown()
        httpd.server_close()
