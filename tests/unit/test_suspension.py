"""The suspended-session deadline (``store/suspension.py``): when a ZooKeeper connection that
stays SUSPENDED counts as a lost session (Curator's rule), and which states reach the listeners."""
from __future__ import annotations

import pytest

from halyard.store.base import SessionState
from halyard.store.suspension import SuspensionClock

S, C, L = SessionState.SUSPENDED, SessionState.CONNECTED, SessionState.LOST


@pytest.mark.parametrize("events, now, expired", [
    ([], 100.0, False),                           # never suspended
    ([(S, 10.0)], 13.9, False),                   # suspended for less than the timeout
    ([(S, 10.0)], 14.0, True),                    # exactly the timeout: lost
    ([(S, 10.0), (S, 12.0)], 14.0, True),         # a second SUSPENDED does not restart the clock
    ([(S, 10.0), (C, 12.0)], 20.0, False),        # reconnected in time: the deadline is gone
    ([(S, 10.0), (C, 12.0), (S, 13.0)], 16.9, False),  # a new suspension counts from its own start
    ([(S, 10.0), (C, 12.0), (S, 13.0)], 17.0, True),
    ([(S, 10.0), (L, 11.0)], 20.0, False),        # kazoo said LOST itself: nothing to declare
])
def test_a_suspension_counts_as_lost_after_the_session_timeout(events, now, expired):
    clock = SuspensionClock(session_timeout=4.0)
    for state, at in events:
        clock.observe(state, at)
    assert clock.expired(now) is expired


def test_a_declared_loss_is_passed_on_once_and_a_new_session_starts_afresh():
    clock = SuspensionClock(session_timeout=4.0)
    assert clock.observe(C, 0.0) and clock.observe(S, 1.0)
    assert clock.deadline() == 5.0 and clock.expired(5.0)
    clock.declare_lost()
    assert clock.deadline() is None and not clock.expired(50.0)  # declared once, not again
    assert clock.observe(S, 6.0) is False      # still suspended: the listeners know it is lost
    assert clock.observe(L, 7.0) is False      # the client's restart: its LOST is the one declared
    assert clock.observe(C, 30.0) is True      # a new session
    assert clock.observe(S, 31.0) is True and clock.deadline() == 35.0


def test_kazoos_own_lost_is_passed_on():
    clock = SuspensionClock(session_timeout=4.0)
    clock.observe(S, 1.0)
    assert clock.observe(L, 3.0) is True and clock.deadline() is None
    assert clock.observe(C, 3.5) is True
