"""The scheduler as the HTTP API sees it: :class:`SchedulerBackend` implements
:class:`~halyard.runtime.backend.Backend` over the current term of leadership (its engine, its
inbox, its epoch), which the leader loop (``service.py``'s :class:`SchedulerService`, a subclass)
sets when it leads and clears when it steps down.

Reads take the lock the loop applies events under; commands go to the loop's inbox and wait for its
answer; a standby answers :class:`~halyard.errors.NotLeaderError` naming the leader. While the
ZooKeeper session is suspended (:meth:`SchedulerBackend.store_reachable`), a leader refuses
commands at once (:class:`~halyard.errors.LeaderSuspendedError`: it could not persist them) and
serves reads, stale (:meth:`SchedulerBackend.stale_for`).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager

from .. import __version__
from ..engine.engine import Engine
from ..engine.messages import Event
from ..engine.view import EngineView
from ..errors import LeaderSuspendedError, NotLeaderError, StoreError
from ..spec.app import AppSpec
from ..store.base import Election, StateStore
from .backend import Latency, MasterReader, SchedulerInfo, SchedulerStats
from .config import ServiceConfig
from .signals import Inbox, StepDownChannel, Wake, Why


class OfferLatencies:
    """Offer arrival -> ACCEPT sent, over the last launches."""

    def __init__(self, keep: int = 1000):
        self._seconds: deque[float] = deque(maxlen=keep)

    def record(self, seconds: float) -> None:
        self._seconds.append(seconds)

    def summary(self) -> Latency:
        """Median and 99th percentile in milliseconds (None before the first launch)."""
        lat = sorted(self._seconds)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else None

        return Latency(p50=pct(0.5), p99=pct(0.99), count=len(lat))


class SchedulerBackend:
    """What the API calls, on a standby or the leader. Implements :class:`halyard.runtime.backend.Backend`."""

    def __init__(self, config: ServiceConfig, *, store: StateStore, election: Election, master: MasterReader):
        self.config = config
        self.store, self.election, self._master = store, election, master
        self.lock = threading.RLock()
        # The current term, set and cleared by the leader loop under the lock (None: not leading).
        self.engine: Engine | None = None
        self.events: Inbox | None = None
        self.epoch: int | None = None
        self.why = StepDownChannel(lambda: self.post(Wake()))
        self.offer_latencies = OfferLatencies()
        self._unreachable_since: float | None = None  # monotonic time ZooKeeper was lost (None: connected)

    def store_reachable(self, reachable: bool) -> None:
        """The session's thread: ZooKeeper connected (again), or suspended."""
        with self.lock:
            if reachable:
                self._unreachable_since = None
            elif self._unreachable_since is None:
                self._unreachable_since = time.monotonic()

    def stale_for(self) -> float | None:
        """Seconds since this leader lost ZooKeeper; None when connected or not leading."""
        return self._unreachable_for(leading=True)

    def _unreachable_for(self, leading: bool) -> float | None:
        """Seconds since this scheduler lost ZooKeeper, if it did and leads (or not) as asked."""
        with self.lock:
            since = self._unreachable_since
            if since is None or (self.engine is not None) != leading:
                return None
        return time.monotonic() - since

    def post(self, item: Event | Wake) -> None:
        """Queue an event for the leader loop, if this scheduler leads (else it is dropped)."""
        with self.lock:
            if self.events is not None:
                self.events.post(item)

    def leader(self) -> str | None:
        """Where the leader's API listens (this scheduler's address if it leads), if known."""
        if self.engine is not None:
            return self.config.advertised
        if self._unreachable_since is not None:
            return None  # ZooKeeper cannot be read now (and a read would wait for it)
        try:
            contenders = self.election.contenders()
        except StoreError:
            return None
        return contenders[0] if contenders else None

    def not_leader(self) -> NotLeaderError:
        """The error a standby answers with: the leader's address, or why it cannot be named
        (this scheduler's own ZooKeeper connection is lost: it cannot read the election)."""
        away = self._unreachable_for(leading=False)
        if away is not None:
            return NotLeaderError(None, f"ZooKeeper unreachable for {away:.1f} s: this scheduler cannot tell which "
                                        "one leads; ask another, or again once it is back")
        return NotLeaderError(self.leader())

    def address(self) -> str:
        """Where others reach this scheduler's API (its election identifier)."""
        return self.config.advertised

    @contextmanager
    def reading(self) -> Iterator[EngineView]:
        """The engine's state, locked for reading; raises NotLeaderError on a standby."""
        with self.lock:
            engine = self.engine
            if engine is not None:
                yield EngineView(engine)
                return
        raise self.not_leader()

    def submit(self, command: Event, timeout: float = 60.0) -> None:
        """Apply a command on the leader and wait until it is persisted (raises what it raised)."""
        with self.lock:
            events = self.events
        if events is None:
            raise self.not_leader()
        stale = self.stale_for()
        if stale is not None:
            raise LeaderSuspendedError(stale)
        try:
            events.ask(command, timeout)
        except FutureTimeout:
            stale = self.stale_for()
            if stale is None:
                raise
            raise LeaderSuspendedError(stale) from None  # applied once ZooKeeper is back, or never

    def app_version(self, app_id: str, version: float) -> AppSpec | None:
        """A stored version of an app, read from the store (not held by the engine)."""
        found = self.store.app_version(app_id, version)
        return found.spec if found is not None else None

    def abdicate(self) -> bool:
        """Step down (the next contender leads); this scheduler contends again after a pause."""
        if self.engine is None:
            return False
        self.why.signal(Why.ABDICATED)
        return True

    def master(self) -> MasterReader:
        """The current Mesos master, read over HTTP."""
        return self._master

    def about(self) -> SchedulerInfo:
        """What this scheduler is and how it is configured."""
        with self.lock:
            engine = self.engine
            framework_id = engine.framework_id if engine else None
            subscribed_master = engine.master if engine else None
        c = self.config
        return SchedulerInfo(name=c.name, version=__version__, leader=self.leader(), elected=engine is not None,
                             framework_id=framework_id, master=c.master, role=c.role,
                             failover_timeout=c.failover_timeout, zk=c.zk, zk_session_timeout=c.zk_session_timeout,
                             listen=c.listen, subscribed_master=subscribed_master,
                             master_scheme="https" if c.mesos_tls is not None else "http")

    def stats(self) -> SchedulerStats:
        """Figures for benchmarks and operators."""
        with self.lock:
            engine = self.engine
            return SchedulerStats(leader=engine is not None, epoch=self.epoch,
                                  offer_cycles=engine.offer_cycles if engine else None,
                                  reconciling=EngineView(engine).reconciling() if engine else None,
                                  offer_to_accept=self.offer_latencies.summary(),
                                  suspended=engine is not None and self._unreachable_since is not None)
