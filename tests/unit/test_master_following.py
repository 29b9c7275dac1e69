"""Following the leading master through ZooKeeper: which redirects are followed (a table), and the
driver against a standby that redirects back to a frozen master (real sockets, no Mesos)."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from halyard.engine.messages import Subscribed
from halyard.mesos.following import (
    Announcement,
    location_address,
    pace_delay,
    parse_announcement,
    redirect_target,
    retry_subscribe_answer,
    subscribe_overdue,
)

LEADER = Announcement("127.0.0.1", 17650, "m2.local")


@pytest.mark.parametrize("location, leader, follows_zookeeper, target", [
    # following ZooKeeper: only to the master ZooKeeper names
    ("//127.0.0.1:17650/master/api/v1/scheduler", LEADER, True, "127.0.0.1:17650"),
    ("//m2.local:17650/master/api/v1/scheduler", LEADER, True, "127.0.0.1:17650"),   # by its hostname
    ("http://127.0.0.1:17650/api/v1/scheduler", LEADER, True, "127.0.0.1:17650"),
    ("//127.0.0.1:17550/master/api/v1/scheduler", LEADER, True, None),   # the old leader: stay
    ("//m2.local:17550/master/api/v1/scheduler", LEADER, True, None),    # right host, other port
    ("//127.0.0.1:17650/master/api/v1/scheduler", None, True, None),     # ZooKeeper names no leader
    # a fixed master: the redirect is all there is
    ("//127.0.0.1:17550/master/api/v1/scheduler", None, False, "127.0.0.1:17550"),
    ("//127.0.0.1:17550/master/api/v1/scheduler", LEADER, False, "127.0.0.1:17550"),
    ("127.0.0.1:17550", None, False, "127.0.0.1:17550"),
])
def test_a_redirect_is_followed_only_to_the_master_zookeeper_names(location, leader, follows_zookeeper, target):
    assert redirect_target(location, leader, follows_zookeeper) == target


def test_a_location_names_host_and_port_as_pymesos_reads_it():
    assert location_address("//127.0.0.1:5050/master/api/v1/scheduler") == "127.0.0.1:5050"
    assert location_address("http://m1:5050/redirect") == "m1:5050"
    assert location_address("127.0.0.1:5050") == "127.0.0.1:5050"


@pytest.mark.parametrize("data, announcement", [
    (b'{"address": {"hostname": "m1", "ip": "127.0.0.1", "port": 17650}, "id": "x"}',
     Announcement("127.0.0.1", 17650, "m1")),
    ('{"address": {"ip": "127.0.0.2", "port": "5050"}}', Announcement("127.0.0.2", 5050, None)),
    (b"not json", None),
    (None, None),
    (b'{"id": "x"}', None),
    (b'{"address": {"ip": "", "port": 1}}', None),
    (b'{"address": {"ip": "127.0.0.1", "port": "x"}}', None),
    (b'["address"]', None),
])
def test_a_masters_announcement_is_read_or_refused(data, announcement):
    assert parse_announcement(data) == announcement


@pytest.mark.parametrize("sent_at, now, overdue", [
    (None, 1000.0, False),   # nothing pending
    (100.0, 104.9, False),
    (100.0, 105.1, True),
])
def test_a_subscribe_unanswered_for_its_timeout_is_overdue(sent_at, now, overdue):
    assert subscribe_overdue(sent_at, now, 5.0) is overdue


@pytest.mark.parametrize("last_sent, now, delay", [(None, 5.0, 0.0), (5.0, 5.1, 0.15), (5.0, 6.0, 0.0)])
def test_two_subscribes_are_paced_apart(last_sent, now, delay):
    assert pace_delay(last_sent, now, 0.25) == pytest.approx(delay)


class _Standby(BaseHTTPRequestHandler):
    """A master elected a moment ago: its first SUBSCRIBEs are redirected to the old leader (it does
    not know yet that it leads), then it answers SUBSCRIBED and keeps the stream open."""

    protocol_version = "HTTP/1.1"
    server: _StandbyServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class' name
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"version": "1.11.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.subscribes += 1
        if self.server.subscribes <= self.server.redirects and self.server.answer != 307:
            body = b"404 Not Found." if self.server.answer == 404 else b"refused"
            self.wfile.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                             % (self.server.answer, len(body), body))  # one write: pymesos reads it whole
            self.close_connection = True
            return
        if self.server.subscribes <= self.server.redirects:
            self.send_response(307)
            self.send_header("Location", f"//127.0.0.1:{self.server.old_port}/master/api/v1/scheduler")
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        event = json.dumps({"type": "SUBSCRIBED", "subscribed": {
            "framework_id": {"value": "F1"}, "heartbeat_interval_seconds": 15}}).encode()
        record = b"%d\n%s" % (len(event), event)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Mesos-Stream-Id", "S1")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(record), record))
        self.wfile.flush()
        self.server.done.wait(30)  # the stream stays open, silent, like a master between heartbeats


class _StandbyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, old_port: int, redirects: int, answer: int = 307):
        super().__init__(("127.0.0.1", 0), _Standby)
        self.old_port, self.redirects, self.subscribes, self.answer = old_port, redirects, 0, answer
        self.done = threading.Event()


@pytest.fixture
def frozen() -> Iterator[socket.socket]:
    """A SIGSTOPped master: its kernel accepts connections (the backlog), nothing ever answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener
    listener.close()


def _zk_driver(events: list):
    """A driver following ZooKeeper, its IO thread running, the detector left out (the test plays it)."""
    import pymesos.process

    from halyard.mesos.driver import _PymesosScheduler, _SchedulerDriver

    driver = _SchedulerDriver(_PymesosScheduler(events.append, lambda message: True), {"name": "t", "user": "u"},
                              "zk://127.0.0.1:1/mesos", use_addict=False, implicit_acknowledgements=False, failover=True)
    pymesos.process.Process.start(driver)
    return driver


def test_a_standby_redirecting_back_to_the_frozen_leader_is_not_followed(frozen):
    """ZooKeeper names the new master; it redirects to the old one (SIGSTOPped) twice, then leads:
    the driver subscribes to it within a second, never asking the frozen master anything (pymesos
    alone probes the frozen master's /version with a timeout of a day, on its IO thread)."""
    standby = _StandbyServer(frozen.getsockname()[1], redirects=2)
    threading.Thread(target=standby.serve_forever, daemon=True).start()
    events: list = []
    driver = _zk_driver(events)
    try:
        announcement = {"address": {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": standby.server_port}}
        started = time.monotonic()
        driver.onNewMasterDetectedMessage(json.dumps(announcement).encode())
        deadline = time.monotonic() + 5
        while Subscribed("F1", f"127.0.0.1:{standby.server_port}") not in events and time.monotonic() < deadline:
            time.sleep(0.01)
        assert Subscribed("F1", f"127.0.0.1:{standby.server_port}") in events, events
        assert time.monotonic() - started < 2.0
        assert standby.subscribes == 3 and driver.master == f"127.0.0.1:{standby.server_port}"
        frozen.settimeout(0.0)
        with pytest.raises(BlockingIOError):   # nothing ever connected to the frozen master
            frozen.accept()
    finally:
        driver.stop(failover=True)
        standby.done.set()
        standby.shutdown()
        standby.server_close()


def test_a_fixed_master_still_follows_its_redirect_and_the_version_probe_is_bounded(frozen):
    """With ``--master HOST:PORT`` the redirect is followed (pymesos' behaviour), to the frozen
    master here: its ``/version`` probe gives up after the driver's probe timeout instead of a day."""
    from halyard.mesos.driver import _SchedulerDriver

    driver = _SchedulerDriver(object(), {"name": "t", "user": "u"}, "127.0.0.1:1", use_addict=False)
    driver.version_probe_timeout = 0.3
    started = time.monotonic()
    assert driver._get_version(f"127.0.0.1:{frozen.getsockname()[1]}") is None
    assert time.monotonic() - started < 2.0


def test_a_subscribe_left_unanswered_is_made_again_after_the_subscribe_timeout(frozen):
    """The master ZooKeeper names accepts the SUBSCRIBE and never answers (stopped between its
    election and its first answer): the watch subscribes again after ``subscribe_timeout``, long
    before two heartbeat intervals."""
    from halyard.mesos.driver import HeartbeatWatch

    events: list = []
    driver = _zk_driver(events)
    driver.version_probe_timeout, driver.subscribe_timeout = 0.3, 0.5
    watch = HeartbeatWatch(driver, every=0.1)
    watch.start()
    accepted = []
    try:
        frozen.settimeout(10)
        port = frozen.getsockname()[1]
        driver.onNewMasterDetectedMessage(json.dumps({"address": {"ip": "127.0.0.1", "port": port}}))
        started = time.monotonic()
        for _ in range(3):  # /version, SUBSCRIBE, SUBSCRIBE again
            accepted.append(frozen.accept()[0])
        assert time.monotonic() - started < 5.0 < 2 * driver.heartbeat_seconds
    finally:
        watch.stop()
        driver.stop(failover=True)
        for conn in accepted:
            conn.close()


# --- the master's HTTP endpoints: redirects followed by hand -------------------------------------

@pytest.mark.parametrize("location, asked, leader, target", [
    ("//127.0.0.1:2/master/slaves", ["127.0.0.1:1"], None, "127.0.0.1:2"),          # a standby names the leader
    ("//127.0.0.1:1/master/slaves", ["127.0.0.1:1"], None, None),                   # to itself (a stale znode)
    ("//127.0.0.1:1/master/slaves", ["127.0.0.1:1", "127.0.0.1:2"], None, None),    # A -> B -> A
    ("//127.0.0.1:4/x", ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"], None, None),  # past the limit
    ("//127.0.0.1:2/master/slaves", ["127.0.0.1:1"], "127.0.0.1:3", "127.0.0.1:3"),  # ZooKeeper knows better
    ("//127.0.0.1:2/master/slaves", ["127.0.0.1:3"], "127.0.0.1:3", None),           # its leader asked already
    ("", ["127.0.0.1:1"], None, None),                                              # no Location
])
def test_the_next_master_to_ask_is_never_one_asked_already(location, asked, leader, target):
    from halyard.mesos.following import next_master

    assert next_master(location, asked, leader, limit=2) == target


class _Redirecting(BaseHTTPRequestHandler):
    """A master that redirects every request to ``server.to`` (a port), counting them, or answers
    ``{"slaves": []}`` when ``server.to`` is None."""

    server: _RedirectingServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.hits += 1
        if self.server.to is None:
            body = b'{"slaves": []}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(307)
        self.send_header("Location", f"//127.0.0.1:{self.server.to()}{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()


class _RedirectingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Redirecting)
        self.hits = 0
        self.to: object = None
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def masters() -> Iterator[list[_RedirectingServer]]:
    servers = [_RedirectingServer() for _ in range(3)]
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_two_masters_naming_each_other_fail_fast_without_30_redirects(masters):
    """During an election two masters may redirect to each other (``requests`` went round 30 times,
    then said "Exceeded 30 redirects"): with a fixed master the loop is seen at the first repeat."""
    import requests

    from halyard.errors import ClusterSourceError
    from halyard.mesos.master import MesosMaster

    a, b, _ = masters
    a.to, b.to = (lambda: b.server_port), (lambda: a.server_port)
    with pytest.raises(ClusterSourceError, match="redirect in a loop"):
        MesosMaster(f"127.0.0.1:{a.server_port}", timeout=2).slaves()
    assert (a.hits, b.hits) == (1, 1)
    with pytest.raises(requests.TooManyRedirects):
        MesosMaster(f"127.0.0.1:{a.server_port}", timeout=2).request("GET", "/master/slaves")


def test_a_standby_is_followed_once_to_the_leader(masters):
    from halyard.mesos.master import MesosMaster

    standby, leader, _ = masters
    standby.to = lambda: leader.server_port
    assert MesosMaster(f"127.0.0.1:{standby.server_port}", timeout=2).slaves() == {"slaves": []}
    assert (standby.hits, leader.hits) == (1, 1)


def test_a_restarted_master_redirecting_to_itself_is_asked_again_until_zookeeper_names_the_leader(masters):
    """A master restarted before its old ZooKeeper session ended sees its old announcement and
    redirects to itself until the session expires and another master is elected: the request waits
    on ZooKeeper's answer (here: the third look names the new leader) instead of looping."""
    from halyard.mesos.master import MesosMaster

    restarted, leader, _ = masters
    restarted.to = lambda: restarted.server_port
    looks: list[str] = []

    def zookeeper_leader(url: str, timeout: float) -> str:
        looks.append(url)
        return f"http://127.0.0.1:{(restarted if len(looks) < 4 else leader).server_port}"

    started = time.monotonic()
    master = MesosMaster("zk://127.0.0.1:1/mesos", timeout=5, zookeeper_leader=zookeeper_leader)
    assert master.slaves() == {"slaves": []}
    assert time.monotonic() - started < 3.0
    assert leader.hits == 1 and 1 <= restarted.hits <= 3


def test_with_no_leader_elected_in_time_the_loop_is_named(masters):
    from halyard.errors import ClusterSourceError
    from halyard.mesos.master import MesosMaster

    restarted = masters[0]
    restarted.to = lambda: restarted.server_port
    master = MesosMaster("zk://127.0.0.1:1/mesos", timeout=1,
                         zookeeper_leader=lambda url, timeout: f"http://127.0.0.1:{restarted.server_port}")
    started = time.monotonic()
    with pytest.raises(ClusterSourceError, match=f"127.0.0.1:{restarted.server_port} -> //127.0.0.1"):
        master.slaves()
    assert time.monotonic() - started < 3.0 and restarted.hits <= 6


@pytest.mark.parametrize("code, since, now, retry", [
    (404, None, 100.0, True),     # a restarted master's routes not there yet
    (404, 100.0, 129.0, True),
    (404, 100.0, 131.0, False),   # 30 s of it: not a master starting
    (500, None, 100.0, True),
    (400, None, 100.0, False),    # refusals end the driver (refusal.py says why)
    (401, None, 100.0, False),
    (403, None, 100.0, False),
])
def test_a_subscribe_answered_404_or_5xx_is_made_again_for_a_while(code, since, now, retry):
    assert retry_subscribe_answer(code, since, now, 30.0) is retry


def _start_standby(answer: int, times: int) -> _StandbyServer:
    server = _StandbyServer(0, redirects=times, answer=answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_master_answering_404_while_it_restarts_is_subscribed_to_again_not_given_up():
    """A master restarted at the same address answers ``404 Not Found.`` until its routes are
    installed: pymesos raised on its IO thread (the scheduler then stepped down: leadership moved);
    the driver subscribes again, 0.25 s apart, and is subscribed once the master answers."""
    import pymesos.process

    master = _start_standby(404, 2)
    events: list = []
    driver = _zk_driver(events)
    try:
        driver.onNewMasterDetectedMessage(json.dumps({"address": {"ip": "127.0.0.1", "port": master.server_port}}))
        deadline = time.monotonic() + 5
        while not events or not isinstance(events[-1], Subscribed):
            assert time.monotonic() < deadline, events
            time.sleep(0.01)
        assert master.subscribes == 3 and not driver.aborted and pymesos.process._exc_info is None
    finally:
        driver.stop(failover=True)
        master.done.set()
        master.shutdown()
        master.server_close()


def test_a_master_refusing_the_subscription_still_ends_the_driver():
    """A 403 (the master's ACLs) is final: pymesos' IO thread ends and reports it, as before."""
    import signal

    from halyard.mesos.driver import install_interrupt_handler

    failures: list[BaseException] = []
    previous = signal.getsignal(signal.SIGINT)
    install_interrupt_handler(failures.append, lambda: None)
    master = _start_standby(403, 100)
    driver = _zk_driver([])
    try:
        driver.onNewMasterDetectedMessage(json.dumps({"address": {"ip": "127.0.0.1", "port": master.server_port}}))
        deadline = time.monotonic() + 5
        while not failures:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert "HTTP 403" in str(failures[0]) and driver.aborted and master.subscribes == 1
    finally:
        signal.signal(signal.SIGINT, previous)
        driver.stop(failover=True)
        master.done.set()
        master.shutdown()
        master.server_close()
