"""The leader loop with a fake store, election, session and driver: lead, apply, step down."""
from __future__ import annotations

import threading
import time

import pytest

from halyard.engine.app_records import Snapshot
from halyard.engine.messages import Decline, Launch, Offers, Persist, PutApp, Subscribed
from halyard.errors import FencedError, LeaderSuspendedError, NotLeaderError, StoreUnavailableError
from halyard.placement import Scope, Scorer, Strategy, StrategyRegistry
from halyard.placement.registry import BUILTINS
from halyard.runtime.config import ServiceConfig
from halyard.runtime.service import SchedulerService
from halyard.spec.validation import parse_app
from halyard.store.base import SessionState

from .test_engine import offer


def until(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError("timed out")


class FakeStore:
    election_path = "/leader"

    def __init__(self):
        self.epoch = 0
        self.commits: list[Persist] = []
        self.fail_with: Exception | None = None
        self.reachers: list[str] = []

    def ensure_layout(self):
        pass

    def mark_master_reach(self, identifier, reaches):
        self.reachers = sorted({*self.reachers, identifier} if reaches else set(self.reachers) - {identifier})

    def master_reachers(self):
        return list(self.reachers)

    def become_leader(self):
        self.epoch += 1
        return self.epoch

    def current_epoch(self):
        return self.epoch

    def load(self):
        return Snapshot(framework_id="F1")

    def commit(self, persist):
        if self.fail_with is not None:
            raise self.fail_with
        self.commits.append(persist)


class FakeElection:
    """Elects at once; counts how often it did."""

    def __init__(self):
        self.runs = 0
        self.cancelled = threading.Event()

    def run(self, lead):
        if not self.cancelled.is_set():
            self.runs += 1
            lead()

    def cancel(self):
        self.cancelled.set()

    def contenders(self):
        return ["other:8080"]


class FakeSession:
    connected = True

    def add_listener(self, listener):
        self.listener = listener


class FakeDriver:
    def __init__(self, framework_id, sink, on_failed_over):
        self.framework_id, self.sink, self.on_failed_over = framework_id, sink, on_failed_over
        self.executed: list = []
        self.started = self.stopped = False

    def start(self):
        self.started = True

    def stop(self):
        self.stopped = True

    def execute(self, ins):
        self.executed.append(ins)


@pytest.fixture
def service(request):
    """A leading service; ``request.param`` (indirect parametrization), if given, is its strategy registry."""
    store, election, drivers, published = FakeStore(), FakeElection(), [], []

    def make_driver(*args):
        drivers.append(FakeDriver(*args))
        return drivers[-1]

    s = SchedulerService(ServiceConfig(master="m:5050", zk="zk://z/x", listen="me:8080", zk_session_timeout=0.1),
                         store=store, session=FakeSession(), election=election, drivers=make_driver,
                         master=None, publish=published.append, notify=lambda notice: None,
                         registry=getattr(request, "param", None) or StrategyRegistry())
    s.fakes = store, election, drivers, published  # type: ignore[attr-defined]
    thread = threading.Thread(target=s.run, daemon=True)
    thread.start()
    yield s
    s.stop()
    thread.join(5)
    assert not thread.is_alive()


def rendered(published):
    from halyard.api.event_json import marathon_events

    return [r for e in published for r in ([e] if isinstance(e, dict) else marathon_events(e))]


def test_a_command_is_persisted_then_published_and_the_driver_subscribed_with_the_stored_framework(service):
    store, _, drivers, published = service.fakes
    until(lambda: service.leader() == "me:8080")
    assert drivers[0].framework_id == "F1" and drivers[0].started
    service.submit(PutApp(parse_app({"id": "/web", "cmd": "x", "instances": 1}), deployment_id="d1"))
    assert any(p.apps for p in store.commits)
    assert {"deployment_info", "api_post_event"} <= {e["eventType"] for e in rendered(published)}
    with service.reading() as view:
        assert [a.app_id for a in view.apps()] == ["/web"] and view.framework_id == "F1"
    stats = service.stats()
    assert stats.leader is True and stats.epoch == 1 and stats.offer_to_accept.count == 0
    about = service.about()
    assert about.elected and about.framework_id == "F1" and about.leader == "me:8080"


def test_a_fenced_write_ends_the_leadership_and_answers_the_command(service):
    store, election, drivers, _ = service.fakes
    until(lambda: service.engine is not None)
    store.fail_with = FencedError("a newer leader claimed the store")
    with pytest.raises(NotLeaderError):  # answered at once (the API forwards it to the new leader)
        service.submit(PutApp(parse_app({"id": "/web", "cmd": "x"})))
    until(lambda: drivers[0].stopped)
    store.fail_with = None
    until(lambda: len(drivers) == 2 and service.engine is not None)  # contends again, leads with a new epoch
    assert store.epoch == 2 and election.runs >= 2


def test_abdication_and_a_lost_session_step_down_and_a_standby_names_the_leader(service):
    _, _, drivers, _ = service.fakes
    until(lambda: service.engine is not None)
    assert service.abdicate() is True
    until(lambda: drivers[0].stopped)
    with pytest.raises(NotLeaderError) as refused:  # pausing before it contends again
        with service.reading():
            pass
    assert refused.value.leader == "other:8080" and service.abdicate() is False
    until(lambda: len(drivers) == 2 and service.engine is not None, timeout=10)
    service.session_changed(SessionState.LOST)
    until(lambda: drivers[1].stopped)


def test_after_a_lost_session_zookeeper_is_not_read_until_a_new_session_connects(service):
    """A LOST declared while cut off (``store/suspension.py``): the client restarts and connects
    only once ZooKeeper answers; a read meanwhile would wait for it, so the API names no leader."""
    _, _, drivers, _ = service.fakes
    until(lambda: service.engine is not None)
    service.session.connected = False
    service.session_changed(SessionState.SUSPENDED)
    service.session_changed(SessionState.LOST)
    until(lambda: drivers[0].stopped and service.engine is None)
    assert service.leader() is None
    service.session_changed(SessionState.CONNECTED)
    assert service.leader() == "other:8080"
    service.session.connected = True
    until(lambda: len(drivers) == 2 and service.engine is not None)  # and it contends again


def test_a_suspended_session_pauses_launching_until_it_is_back(service):
    until(lambda: service.engine is not None)
    service.session_changed(SessionState.SUSPENDED)
    until(lambda: service.engine.paused)
    service.session_changed(SessionState.CONNECTED)
    until(lambda: not service.engine.paused)


def test_a_write_waits_for_zookeeper_and_a_newer_subscription_meanwhile_ends_the_leadership(service):
    store, _, drivers, _ = service.fakes
    until(lambda: service.engine is not None)
    service.session.connected = False
    store.fail_with = StoreUnavailableError("ZooKeeper unavailable")
    outcome: list[BaseException] = []

    def submit():
        try:
            service.submit(Subscribed("F2"))
        except NotLeaderError as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=submit, daemon=True)
    waiting.start()
    time.sleep(0.3)
    assert not drivers[0].stopped and not outcome  # the write waits for ZooKeeper
    drivers[0].on_failed_over("Framework failed over")
    until(lambda: drivers[0].stopped)
    waiting.join(5)
    assert outcome and not waiting.is_alive()  # the command in flight is answered, not left to time out
    service.session.connected = True
    store.fail_with = None


class Raises(Scorer):
    name = "raises"
    scope = Scope.AGENT

    def score(self, ctx, agent):
        raise RuntimeError("boom")


BROKEN = StrategyRegistry({**BUILTINS, "broken": lambda args: Strategy("broken", scorers=((Raises(), 1.0),))})


@pytest.mark.parametrize("service", [BROKEN], indirect=True)
def test_a_broken_strategy_is_logged_once_and_the_leadership_goes_on(service, caplog):
    store, _, drivers, _ = service.fakes
    until(lambda: service.engine is not None)
    service.submit(Subscribed("F1"))
    service.submit(PutApp(parse_app({"id": "/web", "cmd": "x", "cpus": 0.1, "mem": 8})))
    service.submit(PutApp(parse_app({"id": "/broken", "cmd": "x", "cpus": 0.1, "mem": 8, "strategy": "broken"})))
    caplog.set_level("WARNING", logger="halyard.runtime.service")
    for n in (1, 2, 3):  # each offer is answered: a launch (of /web) or a decline
        drivers[0].sink(Offers((offer(n),)))
        until(lambda: sum(isinstance(i, (Launch, Decline)) for i in drivers[0].executed) == n)
    executed = drivers[0].executed
    assert [t.spec.id for i in executed if isinstance(i, Launch) for t in i.tasks] == ["/web"]
    assert [i.offer_ids for i in executed if isinstance(i, Decline)] == [("O2-S2",), ("O3-S3",)]
    assert [r.getMessage() for r in caplog.records if "cannot be placed" in r.getMessage()] == [
        "app /broken cannot be placed: strategy 'broken' failed: scorer 'raises' raised RuntimeError('boom')"]
    assert len(drivers) == 1 and not drivers[0].stopped and service.stats().epoch == 1  # still leading


def test_a_failed_over_leader_keeps_its_subscription_only_while_its_epoch_is_the_newest(service):
    """Found by the chaos soak (leader SIGSTOPped past its session, then SIGCONT): the deposed
    leader's driver re-subscribed on waking and took the framework from the leader for a moment."""
    store, _, drivers, _ = service.fakes
    until(lambda: service.engine is not None)
    assert drivers[0].on_failed_over("Framework failed over") is True    # a stale one subscribed: take it back
    store.epoch += 1                                                      # a newer leader was elected meanwhile
    assert drivers[0].on_failed_over("Framework failed over") is False   # deposed: never re-subscribe
    until(lambda: drivers[0].stopped)


def test_the_drivers_io_thread_stops_pymesos_before_it_re_subscribes_when_told_not_to_keep_it():
    from halyard.mesos.driver import _PymesosScheduler

    class PymesosDriver:
        stopped_with = None

        def stop(self, failover=False):
            self.stopped_with = failover

    for keep, stopped in ((True, None), (False, True)):
        events, pymesos = [], PymesosDriver()
        _PymesosScheduler(events.append, lambda message: keep).error(pymesos, "Framework failed over")
        assert pymesos.stopped_with is stopped   # stop(failover=True): no teardown, tasks keep running
    pymesos = PymesosDriver()
    _PymesosScheduler(events.append, lambda message: True).error(pymesos, "some other error")
    assert pymesos.stopped_with is None


def test_a_leader_without_zookeeper_refuses_commands_at_once_serves_stale_reads_and_names_its_master(service):
    """SUSPENDED (ZooKeeper's quorum lost): the leader keeps leading, paused; a command is refused
    at once (it could not be persisted), reads go on marked stale; CONNECTED ends both."""
    store, _, drivers, _ = service.fakes
    until(lambda: service.engine is not None)
    drivers[0].sink(Subscribed("F1", master="10.0.0.2:5050"))
    until(lambda: service.about().subscribed_master == "10.0.0.2:5050")
    service.session_changed(SessionState.SUSPENDED)
    assert service.stale_for() is not None and service.stale_for() >= 0
    assert service.stats().suspended and service.stats().leader
    commits = len(store.commits)
    started = time.monotonic()
    with pytest.raises(LeaderSuspendedError):
        service.submit(PutApp(parse_app({"id": "/web", "cmd": "x"})))
    assert time.monotonic() - started < 1.0 and len(store.commits) == commits
    with service.reading() as view:
        assert view.framework_id == "F1" and view.master == "10.0.0.2:5050"
    service.session_changed(SessionState.CONNECTED)
    assert service.stale_for() is None
    service.submit(PutApp(parse_app({"id": "/web", "cmd": "x"})))
    assert len(store.commits) > commits and service.stats().epoch == 1  # the same term all along


@pytest.mark.parametrize("last_heard, interval, now, overdue", [
    (100.0, 15.0, 129.0, False),   # one interval missed: a heartbeat may be late
    (100.0, 15.0, 131.0, True),    # two missed: the master is gone (SIGSTOP, partition)
    (100.0, 1.0, 102.5, True),
])
def test_a_master_silent_for_two_heartbeat_intervals_counts_as_gone(last_heard, interval, now, overdue):
    from halyard.mesos.driver import heartbeat_overdue

    assert heartbeat_overdue(last_heard, interval, now) is overdue


def test_the_subscription_names_its_master_in_the_subscribed_event():
    from halyard.mesos.driver import _PymesosScheduler

    class PymesosDriver:
        framework_id = "F1"

    events: list = []
    scheduler = _PymesosScheduler(events.append, lambda message: True)
    scheduler.registered(PymesosDriver(), {"value": "F1"}, {"hostname": "127.0.0.1", "port": 17550})
    scheduler.reregistered(PymesosDriver(), {"hostname": "127.0.0.1", "port": 17650, "version": "1.11.0"})
    assert events == [Subscribed("F1", "127.0.0.1:17550"), Subscribed("F1", "127.0.0.1:17650")]


def test_a_master_found_through_zookeeper_is_retried_within_a_second():
    """pymesos sleeps its backoff on its IO thread before it looks at the master the detector names:
    capped, a new master is tried within 1 s (pymesos alone: up to 15 s)."""
    from halyard.mesos.driver import ZK_RETRY_CAP, MesosDriver

    fixed = MesosDriver("127.0.0.1:1", {"name": "t", "user": "u"}, lambda e: None)
    followed = MesosDriver("zk://127.0.0.1:2181/mesos", {"name": "t", "user": "u"}, lambda e: None)
    assert fixed._driver._backoff(3) > 10.0
    assert all(followed._driver._backoff(n) <= ZK_RETRY_CAP for n in range(6))


def test_a_silent_master_is_connected_to_again_after_two_heartbeat_intervals():
    """A master that accepts the connection and never answers (SIGSTOP): the watch drops the
    connection and subscribes again; a master that talks is left alone."""
    import socket

    from halyard.mesos.driver import MesosDriver

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(10)
    port = listener.getsockname()[1]
    driver = MesosDriver(f"127.0.0.1:{port}", {"name": "t", "user": "u"}, lambda e: None)
    driver._driver.version_probe_timeout = 0.5  # pymesos asks the master's /version first: the silent master does not answer
    driver._driver.heartbeat_seconds = 0.5
    accepted = []
    try:
        driver.start()
        started = time.monotonic()
        for _ in range(3):  # the /version request, the SUBSCRIBE, the SUBSCRIBE again
            accepted.append(listener.accept()[0])
        assert time.monotonic() - started < 5.0
    finally:
        driver.stop()
        for conn in accepted:
            conn.close()
        listener.close()


def test_the_master_zookeeper_announces_is_read_from_its_json_announcement():
    from halyard.mesos.driver import announced_address

    info = b'{"address": {"hostname": "m1", "ip": "127.0.0.1", "port": 17650}, "id": "x", "pid": "master@127.0.0.1:17650"}'
    assert announced_address(info) == "127.0.0.1:17650"
    assert announced_address(info.decode()) == "127.0.0.1:17650"
    assert announced_address(b"not json") is None and announced_address(None) is None
    assert announced_address(b'{"id": "x"}') is None


def test_before_yielding_for_the_master_the_leader_asks_its_own_master_reader():
    """The rule-3 re-check is wired to the service's master reader (a wrong wiring raised in the
    leader loop, on the HA cluster only)."""
    class Master:
        asked = 0

        def reachable(self):
            Master.asked += 1
            return True

    s = SchedulerService(ServiceConfig(master="m:5050", zk="zk://z/x", listen="me:8080", master_yield_after=1.0),
                         store=FakeStore(), session=FakeSession(), election=FakeElection(), drivers=FakeDriver,
                         master=Master(), publish=lambda event: None, notify=lambda notice: None)
    assert s.rules.reaches_master() is True and Master.asked == 1


def test_a_standby_that_lost_zookeeper_says_so_instead_of_naming_no_leader():
    """It cannot read the election (a read would wait for ZooKeeper): its 503 says why."""
    s = SchedulerService(ServiceConfig(master="m:5050", zk="zk://z/x", listen="me:8080"), store=FakeStore(),
                         session=FakeSession(), election=FakeElection(), drivers=FakeDriver, master=None,
                         publish=lambda event: None, notify=lambda notice: None)
    s.store_reachable(False)
    with pytest.raises(NotLeaderError) as refused:
        s.submit(PutApp(parse_app({"id": "/web", "cmd": "x", "cpus": 0.1, "mem": 8})))
    assert refused.value.leader is None and refused.value.reason.startswith("ZooKeeper unreachable for ")
    s.store_reachable(True)
    with pytest.raises(NotLeaderError) as refused:
        s.submit(PutApp(parse_app({"id": "/web", "cmd": "x", "cpus": 0.1, "mem": 8})))
    assert refused.value.reason is None
