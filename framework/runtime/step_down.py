"""When a leader must give up the lead, and how long it waits before contending again.

The reasons arrive through ``signals.py``'s :class:`~halyard.runtime.signals.StepDownChannel`
(stopping, the ZooKeeper session lost, the Mesos driver failed, an abdication, another scheduler
subscribed as this framework); a write fenced by a newer leader and a write that waits for
ZooKeeper meanwhile are decided here too. A decision to step down is a :class:`StepDown` raised
on the leader loop, which ends the term. A master that refuses this framework ends the scheduler
for good: :meth:`SchedulerService.fail <halyard.runtime.service.SchedulerService.fail>` signals
STOPPING.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import FencedError, StoreError, StoreUnavailableError
from ..store.base import Session, StateStore
from .signals import StepDownChannel, Why

log = logging.getLogger(__name__)


class StepDown(Exception):
    """Leave the leader loop; ``pause``: seconds to wait before contending again (to let another
    scheduler take the lead, or a master come back)."""

    def __init__(self, reason: str, pause: float = 0.0):
        super().__init__(reason)
        self.pause = pause


def yield_seconds(zk_session_timeout: float) -> float:
    """How long a scheduler that gave up the lead waits, so that another one takes it."""
    return max(2.0, zk_session_timeout / 2)


@dataclass
class MasterCutoff:
    """How long the leader has gone without a subscription to the Mesos master (pure).

    A term starts unsubscribed; ``saw`` is told at each tick whether the subscription is up. After
    ``bound`` seconds without one the leader yields to a standby that reaches the master (if any:
    :meth:`StepDownRules.check_master`)."""

    bound: float
    since: float | None = None

    def saw(self, subscribed: bool, now: float) -> None:
        if subscribed:
            self.since = None
        elif self.since is None:
            self.since = now

    def overdue(self, now: float) -> bool:
        return self.since is not None and now - self.since >= self.bound


def others_reaching(reachers: list[str], me: str) -> list[str]:
    """The schedulers other than ``me`` that say they reach the master: those a leader cut off
    from it may yield to. None: no one would do better, so it leads on (and never flaps)."""
    return [r for r in reachers if r != me]


class StepDownRules:
    """The leader's decisions on the reasons signalled through ``why``, for the term whose epoch
    it is asked with (a newer epoch in the store means a newer leader).

    ``master_bound``: seconds a leader may go without a subscription to the Mesos master before
    it yields to a standby that reaches it (``identifier``: this scheduler's, to tell it from the
    others); infinite: never. ``reaches_master``: asks the master afresh, just before yielding
    (the marks in the store are up to a probe interval old)."""

    def __init__(self, why: StepDownChannel, store: StateStore, session: Session, yield_seconds: float,
                 master_bound: float = float("inf"), identifier: str = "",
                 reaches_master: Callable[[], bool] = lambda: False):
        self.why, self.store, self.session = why, store, session
        self.yield_seconds = yield_seconds
        self.identifier = identifier
        self.reaches_master = reaches_master
        self.cutoff = MasterCutoff(master_bound)
        self._leading_on_said = False

    def new_term(self, now: float) -> None:
        """A term begins, not yet subscribed."""
        self.cutoff = MasterCutoff(self.cutoff.bound, since=now)
        self._leading_on_said = False

    def check_master(self, subscribed: bool, now: float) -> None:
        """At each tick: raise :class:`StepDown` when this leader has had no subscription to the
        master for the bound, does not reach the master itself, and another scheduler does; with
        none, lead on (the driver retries with backoff), saying so once. A leader that reaches
        the master but is not subscribed (a master failover under way) leads on: another would
        be no better off. Its own mark may predate a new master's election by a probe interval
        while a standby's is newer, so before yielding it asks the master itself once more."""
        self.cutoff.saw(subscribed, now)
        if not self.cutoff.overdue(now):
            self._leading_on_said = False
            return
        try:
            reachers = self.store.master_reachers()
        except StoreError:
            return  # cannot tell now; the session's rules decide about ZooKeeper itself
        if self.identifier in reachers:
            return  # it reaches the master itself (one being elected, say): its driver subscribes again
        others = others_reaching(reachers, self.identifier)
        since = now - (self.cutoff.since or now)
        if others:
            if self.reaches_master():
                log.info("the Mesos master answers this leader again (%s marked it first): leading on", others[0])
                return
            raise StepDown(f"no subscription to the Mesos master for {since:.0f}s, and {others[0]} reaches it",
                           pause=self.yield_seconds)
        if not self._leading_on_said:
            log.warning("no subscription to the Mesos master for %.0fs, and no standby reaches it: leading on, "
                        "retrying", since)
            self._leading_on_said = True

    def check(self, epoch: int | None) -> None:
        """Between events: raise :class:`StepDown` if a signalled reason says so."""
        why = self.why.take()
        pauses = {Why.STOPPING: 0.0, Why.SESSION_LOST: 0.0, Why.DRIVER_FAILED: 1.0,  # the master may be restarting
                  Why.ABDICATED: self.yield_seconds}
        for reason, pause in pauses.items():
            if reason in why:
                raise StepDown(reason.value, pause)
        if Why.SUPERSEDED in why:
            if not self.session.connected:
                # Its session suspended, it cannot read the epoch without waiting for ZooKeeper
                # (the loop would hang until the session counts as lost)
                raise self._superseded_unreachable()
            # Fence the Mesos subscription as the store is fenced: only a newer epoch wins.
            if self._newer_than(epoch):
                raise StepDown("a newer leader subscribed as this framework", pause=self.yield_seconds)
            log.warning("a stale scheduler subscribed as this framework; this leader (epoch %s) takes it back", epoch)

    def keep_subscription(self, epoch: int | None) -> bool:
        """The driver's IO thread: Mesos says another scheduler took this framework over. Whether
        to keep the subscription (re-subscribe): only while this scheduler's epoch is the newest
        (a deposed leader that wakes up must not take the framework back), and never while its
        session is suspended (it cannot tell without waiting for ZooKeeper). The loop checks too."""
        self.why.signal(Why.SUPERSEDED)
        return self.session.connected and not self._newer_than(epoch)

    def _superseded_unreachable(self) -> StepDown:
        """Another scheduler took the framework and this one cannot check the epoch now: the safe
        side is to let the other one lead."""
        return StepDown("superseded while ZooKeeper is unreachable", pause=self.yield_seconds)

    def _newer_than(self, epoch: int | None) -> bool:
        try:
            return self.store.current_epoch() > (epoch or 0)
        except StoreError:
            return True  # cannot tell: the safe side is to let the other one lead

    @staticmethod
    def fenced(exc: FencedError) -> StepDown:
        """A write fenced by a newer leader ends the leadership at once."""
        return StepDown(str(exc))

    def wait_for_session(self) -> None:
        """Before a launch or a kill: while the session is suspended this scheduler cannot be sure
        it still leads (a standby may lead once the session expires), so the call waits until the
        session is back, or raises :class:`StepDown` if the leadership ends meanwhile."""
        if not self.session.connected:
            self._wait_connected(None)

    def wait_for_store(self, exc: StoreUnavailableError) -> None:
        """A write cannot reach ZooKeeper: wait until the session is back (nothing after the write
        runs meanwhile), or raise :class:`StepDown` if the leadership ends while waiting."""
        log.warning("%s; waiting for ZooKeeper", exc)
        self._wait_connected(exc)

    def _wait_connected(self, exc: StoreUnavailableError | None) -> None:
        while not self.session.connected:
            if Why.SESSION_LOST in self.why or Why.STOPPING in self.why:
                raise StepDown("ZooKeeper session lost while waiting for it") from exc
            if Why.SUPERSEDED in self.why:
                raise self._superseded_unreachable() from exc
            time.sleep(0.05)
