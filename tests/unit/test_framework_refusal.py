"""A master that refuses this framework (credentials, ACLs) ends the scheduler with a message naming
the principal; any other failure is retried. Table-driven on the texts pymesos produces, then the
adapter's callbacks, the service's and the CLI's side, without a master."""
from __future__ import annotations

import logging
import threading

import pytest
from click.testing import CliRunner

from halyard.errors import FrameworkRefusedError, HalyardError
from halyard.mesos.refusal import refusal_from_error_event, refusal_from_failure
from halyard.placement import StrategyRegistry
from halyard.runtime.config import ServiceConfig
from halyard.runtime.service import SchedulerService

from .test_service import FakeDriver, FakeElection, FakeSession, FakeStore, until

UNAUTHORIZED = RuntimeError("Failed with HTTP 401: b'401 Unauthorized.'")  # pymesos' words, from a real master


@pytest.mark.parametrize("exc, principal, message, status", [
    (UNAUTHORIZED, "halyard",
     "the master refused framework principal 'halyard': wrong secret or unknown principal (401)", 401),
    (UNAUTHORIZED, None,
     "the master refused a framework without a principal: the master requires framework authentication; start "
     "the scheduler with --principal and --secret-file (401)", 401),
    (RuntimeError("Failed with HTTP 403: b'The request\\'s authenticated principal contains claims' ..."), "p",
     "the master refused framework principal 'p': not allowed: The request's authenticated principal contains "
     "claims (403)", 403),
    (RuntimeError("Failed with HTTP 400: b\"Failed to validate scheduler::Call: Authenticated principal 'halyard' "
                  "does not match principal 'other' set in `FrameworkInfo`\""), "halyard",
     "the master refused framework principal 'halyard': Failed to validate scheduler::Call: Authenticated principal "
     "'halyard' does not match principal 'other' set in `FrameworkInfo` (400)", 400),
])
def test_a_refusing_status_on_subscribe_is_a_refusal_naming_the_principal(exc, principal, message, status):
    refused = refusal_from_failure(exc, principal)
    assert isinstance(refused, FrameworkRefusedError) and isinstance(refused, HalyardError)
    assert str(refused) == message and refused.status == status and refused.principal == principal


@pytest.mark.parametrize("exc", [
    RuntimeError("Failed with HTTP 500: b'Internal Server Error'"),   # the master's trouble, not ours
    RuntimeError("Failed with HTTP 404: b''"),
    RuntimeError("Response is not chunked"),
    RuntimeError("connect reach deadline"),
    ConnectionRefusedError(111, "Connection refused"),
    TypeError("can't concat str to bytes"),
])
def test_other_driver_failures_are_not_refusals(exc):
    assert refusal_from_failure(exc, "halyard") is None


def test_an_acl_refusal_on_the_stream_is_a_refusal_and_other_errors_are_not():
    refused = refusal_from_error_event("Not authorized to register framework  with roles { web }", "halyard")
    assert str(refused) == ("the master refused framework principal 'halyard': not allowed by its ACLs "
                            "(Not authorized to register framework  with roles { web })")
    assert refused.status is None
    for other in ("Framework failed over", "Framework has been removed", "Authorization failure: timeout"):
        assert refusal_from_error_event(other, "halyard") is None


def test_the_adapter_reports_an_acl_refusal_once_and_not_as_a_fail_over():
    from halyard.mesos.driver import _PymesosScheduler

    events, refusals, failovers = [], [], []
    callbacks = _PymesosScheduler(events.append, lambda m: failovers.append(m) or True, "halyard", refusals.append)
    callbacks.error(None, "Not authorized to register framework  with roles { web }")
    callbacks.error(None, "Framework failed over")
    assert [r.principal for r in refusals] == ["halyard"] and failovers == ["Framework failed over"]
    assert len(events) == 2  # each error is also a disconnection for the engine


def test_an_unreachable_master_is_logged_with_the_wait_pymesos_is_about_to_sleep(caplog):
    from halyard.mesos.driver import MesosDriver

    driver = MesosDriver("http://127.0.0.1:1", {"name": "t", "user": "u"}, lambda e: None, "halyard", "s")
    driver._driver._master = "127.0.0.1:1"
    with caplog.at_level(logging.WARNING, logger="halyard.mesos.driver"):
        waits = [driver._driver._backoff(n) for n in range(3)]
    assert 1.5 <= waits[0] <= 2.5 and waits[0] < waits[1] < waits[2]  # pymesos: 2 s, doubling, with jitter
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == f"master 127.0.0.1:1 unreachable; retrying in {waits[0]:.1f} s (attempt 1)"
    assert len(lines) == 3


def test_a_service_that_fails_stops_leading_and_keeps_the_first_reason():
    store, election, drivers = FakeStore(), FakeElection(), []
    s = SchedulerService(ServiceConfig(master="m:5050", zk="zk://z/x", listen="me:8080", zk_session_timeout=0.1),
                         store=store, session=FakeSession(), election=election,
                         drivers=lambda *a: drivers.append(FakeDriver(*a)) or drivers[-1], master=None,
                         publish=lambda e: None, notify=lambda notice: None, registry=StrategyRegistry())
    thread = threading.Thread(target=s.run, daemon=True)
    thread.start()
    until(lambda: s.engine is not None)
    first = FrameworkRefusedError("refused (401)", "halyard", 401)
    s.fail(first)
    s.fail(FrameworkRefusedError("again", "halyard", 401))
    thread.join(5)
    assert not thread.is_alive() and drivers[0].stopped and s.fatal is first
    assert election.runs == 1  # did not contend again


def test_a_refused_driver_failure_ends_the_app_and_another_one_restarts_the_driver():
    from halyard.runtime.wiring import SchedulerApp

    calls = []

    class Service:
        def fail(self, error):
            calls.append(("fail", str(error)))

        def restart_driver(self):
            calls.append(("restart", None))

    app = SchedulerApp.__new__(SchedulerApp)
    app.config, app.service = ServiceConfig(master="m", zk="zk://z/x", principal="halyard", secret="s"), Service()
    app.driver_failed(UNAUTHORIZED)
    app.driver_failed(RuntimeError("Failed with HTTP 500: b''"))
    assert calls == [("fail", "the master refused framework principal 'halyard': wrong secret or unknown principal "
                              "(401)"), ("restart", None)]


@pytest.mark.parametrize("args, secret, expected", [
    (["--principal", "halyard"], None, "--principal needs --secret-file"),
    (["--secret-file", "{secret}"], "s3cret\n", "--secret-file needs --principal"),
    (["--principal", "halyard", "--secret-file", "{secret}"], "  \n", "is empty"),
])
def test_credentials_flags_are_checked_before_anything_starts(tmp_path, args, secret, expected):
    from halyard.cli.main import cli

    path = tmp_path / "secret"
    if secret is not None:
        path.write_text(secret)
    argv = ["scheduler", "--master", "http://m:5050", "--zk", "zk://z:2181/h",
            *[a.format(secret=path) for a in args]]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2 and expected in result.output, result.output
