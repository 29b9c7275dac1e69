"""The signals between the scheduler's threads and its leader loop.

* :class:`StepDownChannel`: the reasons to step down (:class:`Why`), signalled by any thread (the
  API's, the session's, the driver's IO thread, a signal handler) and read by the leader loop
  between events; signalling wakes the loop.
* :class:`Inbox`: the leader loop's queue for one term of leadership: Mesos events (from the
  driver's IO thread), API commands (with a future the loop answers), events posted back by the
  workers off the loop (readiness checks, agent listings) and wake-ups, each stamped with its arrival.

What the loop decides on these signals is ``step_down.py``'s.
"""
from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

from ..engine.messages import Event, Offers, StatusUpdate
from ..errors import NotLeaderError


class Why(enum.Enum):
    """Why the leader loop should step down (or, for SUPERSEDED, check whether it must)."""

    STOPPING = "stopping"
    SESSION_LOST = "ZooKeeper session lost"
    DRIVER_FAILED = "Mesos driver failed"
    ABDICATED = "abdicated"
    SUPERSEDED = "another scheduler subscribed as this framework"


class StepDownChannel:
    """The one channel for reasons to step down: any thread signals one (and wakes the leader
    loop), the loop reads them between events."""

    def __init__(self, wake: Callable[[], None]):
        self._lock = threading.Lock()
        self._why: set[Why] = set()
        self._wake = wake

    def signal(self, why: Why) -> None:
        """Add a reason and wake the leader loop."""
        with self._lock:
            self._why.add(why)
        self._wake()

    def __contains__(self, why: Why) -> bool:
        with self._lock:
            return why in self._why

    def clear(self, *whys: Why) -> None:
        """Forget these reasons (a new term or a new session begins)."""
        with self._lock:
            self._why.difference_update(whys)

    def take(self) -> set[Why]:
        """The reasons signalled; SUPERSEDED is handed out once per signal (it asks for a check)."""
        with self._lock:
            why = set(self._why)
            self._why.discard(Why.SUPERSEDED)
            return why


class Command:
    """An API command for the leader loop, with the future the loop answers."""

    def __init__(self, event: Event):
        self.event = event
        self.future: Future[None] = Future()


class Wake:
    """Wakes the leader loop to read the step-down reasons."""


#: what the leader loop takes from its inbox
Item = Event | Command | Wake


class Inbox:
    """The leader loop's queue for one term of leadership; every thread may put, the loop takes.

    Two lanes: offers go ahead of the status updates queued before them (an offer waits for no
    acknowledgement, and behind thousands of updates it is stale, and declined late), but never
    ahead of anything else that came first (a subscription, a pause, an API command): an offer
    posted while such an item waits keeps its place in arrival order. Status updates queued
    together can be taken together (:meth:`take_updates`) and written in one transaction. An update
    that is already queued (the same task and uuid: Mesos resends an update every 10 s until it is
    acknowledged) is not queued twice: behind a backlog, each resend would add to the backlog that
    delayed the acknowledgement, and the copy queued first is acknowledged all the same."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._items: deque[tuple[float, Item]] = deque()
        self._offers: deque[tuple[float, Item, bool]] = deque()  # (arrived, offers, may pass updates)
        self._others = 0  # items in ``_items`` that are not status updates
        self._queued_updates: set[tuple[str, str]] = set()  # (task id, uuid) of the updates in ``_items``

    def post(self, item: Event | Wake) -> None:
        """Queue an event (or a wake-up) for the loop; returns at once."""
        self._put((time.monotonic(), item))

    def _put(self, entry: tuple[float, Item]) -> None:
        with self._ready:
            if isinstance(entry[1], Offers):
                self._offers.append((*entry, self._others == 0))
            elif (key := _update_key(entry[1])) is not None:
                if key in self._queued_updates:
                    return  # a resend of an update still queued
                self._queued_updates.add(key)
                self._items.append(entry)
            else:
                self._items.append(entry)
                self._others += not isinstance(entry[1], StatusUpdate)
            self._ready.notify()

    def ask(self, event: Event, timeout: float) -> None:
        """Queue a command and wait until the loop has applied it (raises what it raised)."""
        command = Command(event)
        self._put((time.monotonic(), command))
        command.future.result(timeout=timeout)

    def next(self, timeout: float) -> tuple[float | None, Item | None]:
        """The next item and when it arrived; ``(None, None)`` if none came within ``timeout``."""
        with self._ready:
            if not self._items and not self._offers:
                self._ready.wait(timeout)
            if self._offers:
                arrived, offers, passes = self._offers[0]
                if not self._items or self._items[0][0] > arrived or (
                        passes and isinstance(self._items[0][1], StatusUpdate)):
                    self._offers.popleft()
                    return arrived, offers
            if self._items:
                entry = self._items.popleft()
                self._others -= not isinstance(entry[1], StatusUpdate)
                self._queued_updates.discard(_update_key(entry[1]))
                return entry
            return None, None

    def take_updates(self, limit: int) -> list[StatusUpdate]:
        """The status updates at the head of the queue, up to ``limit`` (none while an offer waits)."""
        taken: list[StatusUpdate] = []
        with self._ready:
            while len(taken) < limit and not self._offers and self._items and isinstance(self._items[0][1], StatusUpdate):
                update = self._items.popleft()[1]
                self._queued_updates.discard(_update_key(update))
                taken.append(update)  # type: ignore[arg-type]  # checked just above
        return taken

    def fail_pending(self) -> None:
        """Answer the commands still queued when the term ends: this scheduler no longer leads."""
        with self._ready:
            items = list(self._items) + [(arrived, item) for arrived, item, _ in self._offers]
            self._items.clear()
            self._offers.clear()
            self._others = 0
            self._queued_updates.clear()
        for _, item in items:
            if isinstance(item, Command):
                item.future.set_exception(NotLeaderError(None))


def _update_key(item: Item) -> tuple[str, str] | None:
    """(task id, uuid) of a status update an agent sent (one to acknowledge); None for anything else."""
    if isinstance(item, StatusUpdate) and item.status.uuid is not None:
        return item.status.task_id, item.status.uuid
    return None

