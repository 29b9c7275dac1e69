"""Issue 24, rule 3: a leader cut off from the Mesos master (``step_down.py``'s MasterCutoff and
StepDownRules.check_master): it yields after the bound to a scheduler that reaches the master, and
only then; with none (every scheduler cut off, or the masters down), it leads on."""
from __future__ import annotations

import logging

import pytest

from halyard.errors import StoreUnavailableError
from halyard.runtime.signals import StepDownChannel
from halyard.runtime.step_down import MasterCutoff, StepDown, StepDownRules, others_reaching

from .test_service import FakeSession, FakeStore


@pytest.mark.parametrize("seen, now, overdue", [
    ([], 100.0, False),                               # never told: nothing to count from
    ([(False, 0.0)], 9.9, False),                     # unsubscribed for less than the bound
    ([(False, 0.0)], 10.0, True),
    ([(False, 0.0), (False, 5.0)], 10.0, True),       # counted from the first tick without one
    ([(False, 0.0), (True, 5.0)], 20.0, False),       # subscribed again: the count ends
    ([(False, 0.0), (True, 5.0), (False, 6.0)], 15.9, False),
    ([(False, 0.0), (True, 5.0), (False, 6.0)], 16.0, True),
])
def test_a_leader_without_a_subscription_is_overdue_after_the_bound(seen, now, overdue):
    cutoff = MasterCutoff(bound=10.0)
    for subscribed, at in seen:
        cutoff.saw(subscribed, at)
    assert cutoff.overdue(now) is overdue


@pytest.mark.parametrize("reachers, me, others", [
    ([], "a:1", []),
    (["a:1"], "a:1", []),                 # only itself (it says so while it reaches, say)
    (["a:1", "b:2"], "a:1", ["b:2"]),
    (["b:2", "c:3"], "a:1", ["b:2", "c:3"]),
])
def test_a_leader_yields_only_to_others_that_reach_the_master(reachers, me, others):
    assert others_reaching(reachers, me) == others


def rules(store, bound=10.0):
    r = StepDownRules(StepDownChannel(lambda: None), store, FakeSession(), yield_seconds=2.0,
                      master_bound=bound, identifier="a:1")
    r.new_term(0.0)
    return r


def test_a_new_term_counts_from_its_start_and_a_subscription_stops_the_count():
    store = FakeStore()
    store.reachers = ["b:2"]
    r = rules(store)
    r.check_master(False, 9.0)
    r.check_master(True, 9.5)
    r.check_master(False, 12.0)
    r.check_master(False, 21.9)     # 9.9 s since the subscription went
    with pytest.raises(StepDown, match="b:2 reaches it") as stepped:
        r.check_master(False, 22.0)
    assert stepped.value.pause == 2.0


def test_with_no_other_scheduler_reaching_the_master_the_leader_leads_on_and_says_so_once(caplog):
    store = FakeStore()
    store.reachers = []  # every scheduler cut off from the master (or the masters down)
    r = rules(store)
    with caplog.at_level(logging.WARNING):
        for now in range(10, 60):
            r.check_master(False, float(now))
    assert sum("leading on" in rec.getMessage() for rec in caplog.records) == 1
    store.reachers = ["b:2"]  # a standby reaches it now: then it yields
    with pytest.raises(StepDown):
        r.check_master(False, 61.0)


def test_when_zookeeper_cannot_say_who_reaches_the_master_the_leader_leads_on():
    class Unreadable(FakeStore):
        def master_reachers(self):
            raise StoreUnavailableError("ZooKeeper unavailable")
    r = rules(Unreadable())
    r.check_master(False, 100.0)  # no StepDown


def test_by_default_a_leader_never_yields_for_the_master():
    store = FakeStore()
    store.reachers = ["b:2"]
    r = StepDownRules(StepDownChannel(lambda: None), store, FakeSession(), yield_seconds=2.0)
    r.new_term(0.0)
    r.check_master(False, 1e9)


def test_a_leader_that_reaches_the_master_itself_leads_on_while_it_subscribes_again():
    """Not subscribed for the bound, but the master answers it (a master failover under way): a
    standby would be no better off."""
    store = FakeStore()
    store.reachers = ["a:1", "b:2"]
    r = rules(store)
    r.check_master(False, 100.0)  # no StepDown
    store.reachers = ["b:2"]      # its probe says the master no longer answers it
    with pytest.raises(StepDown):
        r.check_master(False, 101.0)


def test_a_leader_whose_own_mark_is_stale_asks_the_master_afresh_before_yielding():
    """A new master elected: a standby's probe marked it first; the leader's mark (up to a probe
    interval old) still says no. Asked afresh, the master answers the leader: it leads on, and
    its driver subscribes. Asked afresh with no answer, it yields."""
    store = FakeStore()
    store.reachers = ["b:2"]
    answers = [True]
    r = StepDownRules(StepDownChannel(lambda: None), store, FakeSession(), yield_seconds=2.0,
                      master_bound=10.0, identifier="a:1", reaches_master=lambda: answers[-1])
    r.new_term(0.0)
    r.check_master(False, 10.0)  # no StepDown: the master answers it now
    answers.append(False)
    with pytest.raises(StepDown, match="b:2 reaches it"):
        r.check_master(False, 11.0)


def test_a_leader_superseded_while_its_session_is_suspended_steps_down_without_reading_zookeeper():
    """Another scheduler subscribed as this framework while this leader's ZooKeeper session is
    suspended: it cannot read the epoch without waiting for ZooKeeper (a read queued on a
    suspended kazoo client waits until the session counts as lost), so it neither takes the
    framework back nor waits: it steps down at once."""
    class Unreadable(FakeStore):
        def current_epoch(self):
            raise AssertionError("read while suspended")
    session = FakeSession()
    session.connected = False
    why = StepDownChannel(lambda: None)
    r = StepDownRules(why, Unreadable(), session, yield_seconds=2.0)
    assert r.keep_subscription(1) is False
    with pytest.raises(StepDown, match="superseded while ZooKeeper is unreachable") as stepped:
        r.check(1)
    assert stepped.value.pause == 2.0
