"""The leader loop's instruction handlers: a handler per Instruction type, each instruction to its
place (the store, the driver, the outlets), in the engine's order."""
from __future__ import annotations

import threading
import typing

import pytest

from halyard.engine.members import Announce, Member, SyncMembers, Withdraw
from halyard.engine.messages import (
    CheckReadiness,
    Decline,
    Instruction,
    Kill,
    ListAgents,
    Notify,
    Persist,
    ReadinessChecked,
    Revive,
)
from halyard.errors import FencedError, StoreError
from halyard.jobs.domain_events import CallbackNotice
from halyard.engine.messages import Launch
from halyard.runtime.instructions import ACTS, MESOS_CALLS, InstructionHandlers, Outlets
from halyard.runtime.signals import StepDownChannel, Why
from halyard.runtime.step_down import StepDown, StepDownRules

from .test_service import FakeDriver, FakeSession, FakeStore


class FailingDiscovery:
    def __init__(self):
        self.calls = []

    def announce(self, member):
        self.calls.append(("announce", member))
        raise StoreError("ZooKeeper unavailable")

    def withdraw(self, member):
        self.calls.append(("withdraw", member))

    def sync(self, members, full=True):
        self.calls.append(("sync", full))


def handlers(store=None, session=None, why=None, **outlets):
    """Handlers over fakes; returns them, the driver, what was posted back and what the outlets got."""
    store, driver, posted, got = store or FakeStore(), FakeDriver("F1", None, None), [], []
    outlets.setdefault("publish", got.append)
    outlets.setdefault("notify", got.append)
    rules = StepDownRules(why or StepDownChannel(lambda: None), store, session or FakeSession(), yield_seconds=2.0)
    return InstructionHandlers(Outlets(**outlets), store, rules, driver, posted.append), driver, posted, got


def test_every_instruction_type_has_a_handler():
    assert set(typing.get_args(Instruction)) == set(handlers()[0].handlers)


def test_each_instruction_goes_to_its_place_in_order():
    store = FakeStore()
    checks = []
    h, driver, posted, got = handlers(store, check_readiness=lambda ins, sink: checks.append(ins) or sink(
        ReadinessChecked(ins.task_id, True)))
    check = CheckReadiness("t1", "http://x/ready", 1.0, (200,))
    persist = Persist(delete_apps=["/web"])
    notice = CallbackNotice("http://cb", 1.0, "TASK_FINISHED", "t1", "j", "r", 1, 0, "", False)
    h.carry_out([persist, Kill("t1", "a1"), Notify(notice), check, Decline(("o1",), 5.0),
                 ListAgents(), Revive()])
    assert store.commits == [persist]
    assert driver.executed == [Kill("t1", "a1"), Decline(("o1",), 5.0), Revive()]
    assert got == [notice] and checks == [check]
    assert posted == [ReadinessChecked("t1", True)]  # no list_agents outlet: no listing


def test_mesos_calls_are_the_instructions_the_driver_carries_out():
    h, driver, *_ = handlers()
    assert {t for t, handler in h.handlers.items() if handler == driver.execute} == set(MESOS_CALLS) - set(ACTS)
    assert set(ACTS) <= set(MESOS_CALLS)
    h.carry_out([Kill("t1", "a1")])
    assert driver.executed == [Kill("t1", "a1")]


@pytest.mark.parametrize("act", [Kill("t1", "a1"), Launch("a1", ("o1",), (), 5.0)])
def test_no_launch_or_kill_while_the_session_is_suspended_and_none_once_it_is_lost(act):
    session, why = FakeSession(), StepDownChannel(lambda: None)
    session.connected = False
    why.signal(Why.SESSION_LOST)
    h, driver, *_ = handlers(session=session, why=why)
    with pytest.raises(StepDown, match="session lost"):
        h.carry_out([Decline(("o9",), 5.0), act])
    assert driver.executed == [Decline(("o9",), 5.0)]


def test_a_kill_held_while_suspended_goes_out_once_the_session_is_back():
    session = FakeSession()
    session.connected = False
    h, driver, *_ = handlers(session=session)
    back = threading.Timer(0.2, lambda: setattr(session, "connected", True))
    back.start()
    h.carry_out([Kill("t1", "a1")])
    back.join()
    assert driver.executed == [Kill("t1", "a1")]


def test_a_fenced_write_steps_down():
    store = FakeStore()
    store.fail_with = FencedError("a newer leader claimed the store")
    with pytest.raises(StepDown, match="newer leader"):
        handlers(store)[0].carry_out([Persist(delete_apps=["/web"])])


def test_a_failed_discovery_write_is_logged_and_the_others_go_on(caplog):
    discovery, member = FailingDiscovery(), Member("/web", "t1", "h", (31000,), (None,), 0)
    h, *_ = handlers(discovery=discovery)
    h.carry_out([Announce(member), Withdraw(member), SyncMembers((), full=False)])
    assert [c[0] for c in discovery.calls] == ["announce", "withdraw", "sync"]
    assert any("service discovery: ZooKeeper unavailable" in r.getMessage() for r in caplog.records)
