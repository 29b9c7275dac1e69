"""The leader's inbox (issue 25): offers go ahead of the status updates queued before them, never
ahead of anything else; updates queued together are taken together."""
from __future__ import annotations

from halyard.engine.messages import Offers, Paused, StatusUpdate, Subscribed, Tick
from halyard.runtime.signals import Inbox

from .test_engine import offer, status


def update(i):
    return StatusUpdate(status(f"t{i}", "TASK_RUNNING", uuid=f"u{i}"))


def taken(inbox):
    out = []
    while True:
        _, item = inbox.next(timeout=0)
        if item is None:
            return out
        out.append(item)
        if isinstance(item, StatusUpdate):
            out += inbox.take_updates(100)


def names(items):
    return [type(i).__name__ if not isinstance(i, StatusUpdate) else i.status.task_id for i in items]


def test_an_offer_goes_ahead_of_the_status_updates_queued_before_it():
    inbox = Inbox()
    for i in range(300):
        inbox.post(update(i))
    inbox.post(Offers((offer(1),)))
    inbox.post(update(300))
    order = names(taken(inbox))
    assert order[0] == "Offers" and order[1:] == [f"t{i}" for i in range(301)]


def test_an_offer_never_passes_anything_else_that_came_first():
    inbox = Inbox()
    inbox.post(update(0))
    inbox.post(Subscribed("F1"))
    inbox.post(update(1))
    inbox.post(Offers((offer(1),)))
    inbox.post(Paused(True))
    assert names(taken(inbox)) == ["t0", "Subscribed", "t1", "Offers", "Paused"]


def test_updates_queued_together_are_taken_together_but_not_past_an_offer_or_another_event():
    inbox = Inbox()
    for i in range(5):
        inbox.post(update(i))
    inbox.post(Tick())
    inbox.post(update(5))
    _, first = inbox.next(timeout=0)
    assert names([first, *inbox.take_updates(100)]) == ["t0", "t1", "t2", "t3", "t4"]
    assert names([inbox.next(timeout=0)[1]]) == ["Tick"]
    inbox.post(Offers((offer(1),)))
    assert inbox.take_updates(100) == []  # an offer waits: it is next
    assert names([inbox.next(timeout=0)[1], inbox.next(timeout=0)[1]]) == ["Offers", "t5"]


def test_a_resent_update_still_queued_is_not_queued_twice():
    """Mesos resends an unacknowledged update every 10 s: behind a backlog, each resend would grow
    the backlog that delays the acknowledgement. The copy queued first is the one acknowledged."""
    inbox = Inbox()
    for resend in range(3):
        for i in range(100):
            inbox.post(update(i))
    inbox.post(StatusUpdate(status("t0", "TASK_RUNNING", uuid="another")))  # a new update of t0: queued
    inbox.post(StatusUpdate(status("t1", "TASK_RUNNING", uuid=None)))  # the master's (no uuid): always queued
    order = names(taken(inbox))
    assert order == [f"t{i}" for i in range(100)] + ["t0", "t1"]
    inbox.post(update(5))  # taken already: a resend now is news for the loop (acknowledged again)
    assert names(taken(inbox)) == ["t5"]
