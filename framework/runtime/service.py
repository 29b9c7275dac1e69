"""The leader loop: contend for leadership; while leading, subscribe to Mesos and apply the
engine's instructions one event at a time; step down. The wiring is ``app.py``'s.

Threads:

* the **leader loop** (``run``'s thread) contends for leadership; while it leads it owns the
  engine, the store writes and the Mesos driver, and handles one event at a time: Mesos events
  (from the driver's IO thread, via a queue), API commands (with a future to answer), a 1 s tick;
* the **driver's IO thread** only enqueues;
* the **session's thread** (ZooKeeper) only sets flags and enqueues: SUSPENDED pauses launching,
  CONNECTED resumes, LOST ends the leadership (the subscription is closed; tasks keep running)
  and the loop contends again with a new session. An outage shorter than the session timeout
  changes nothing but a pause;
* the **API's thread** reads under the engine lock (:meth:`reading`); writes become commands.

Every reason to step down, from any thread, goes through one channel (:class:`StepDownChannel`),
read by the loop between events. A write that cannot reach ZooKeeper waits for it (nothing after it runs
meanwhile, so no launch or acknowledgement gets ahead of its record); a write fenced by a newer
leader ends the leadership at once.
"""
from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Protocol

from .. import __version__
from ..engine.app_records import Snapshot
from ..engine.domain_events import PlacementFailed, deployment_of
from ..engine.engine import Engine, EngineConfig
from ..engine.members import Announce, Member, SyncMembers, Withdraw
from ..engine.messages import (
    AgentsListed,
    CheckReadiness,
    Event,
    Instruction,
    Launch,
    ListAgents,
    Notify,
    Offers,
    Paused,
    Persist,
    Publish,
    Tick,
)
from ..engine.view import EngineView
from ..errors import FencedError, HalyardError, NotLeaderError, StoreError, StoreUnavailableError
from ..placement import StrategyRegistry
from ..spec.app import AppSpec
from ..store.base import Election, Session, SessionState, StateStore
from .backend import Latency, MasterReader, SchedulerInfo, SchedulerStats
from .config import ServiceConfig

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0


class DiscoveryWriter(Protocol):
    """Where announced members go (``store/serversets.py``)."""

    def announce(self, member: Member) -> Any: ...

    def withdraw(self, member: Member) -> None: ...

    def sync(self, members: Any, full: bool = True) -> Any: ...


class Driver(Protocol):
    """One subscription to Mesos (``mesos/driver.py``)."""

    def start(self) -> None: ...

    def stop(self) -> None:
        """Close the subscription; tasks keep running."""

    def execute(self, ins: Instruction) -> None:
        """Carry out one Mesos instruction (launch, decline, kill, acknowledge, ...)."""


#: (framework id or None for a new framework, sink for Mesos events, on_failed_over) -> a driver, not started.
DriverFactory = Callable[[str | None, Callable[[Event], None], Callable[[str], bool]], Driver]


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
        with self._lock:
            self._why.add(why)
        self._wake()

    def __contains__(self, why: Why) -> bool:
        with self._lock:
            return why in self._why

    def clear(self, *whys: Why) -> None:
        with self._lock:
            self._why.difference_update(whys)

    def take(self) -> set[Why]:
        """The reasons signalled; SUPERSEDED is handed out once per signal (it asks for a check)."""
        with self._lock:
            why = set(self._why)
            self._why.discard(Why.SUPERSEDED)
            return why


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


class _Command:
    def __init__(self, event: Event):
        self.event = event
        self.future: Future = Future()


class _Wake:
    """Wakes the leader loop to read the step-down reasons."""


class _StepDown(Exception):
    """Leave the leader loop; ``pause``: seconds to wait before contending again (to let another
    scheduler take the lead, or a master come back)."""

    def __init__(self, reason: str, pause: float = 0.0):
        super().__init__(reason)
        self.pause = pause


class SchedulerService:
    """One Halyard scheduler: a standby, or the leader. Implements :class:`halyard.runtime.backend.Backend`."""

    def __init__(self, config: ServiceConfig, *, store: StateStore, session: Session, election: Election,
                 drivers: DriverFactory, master: MasterReader, publish: Callable[[Any], None],
                 notify: Callable[[str, dict], None], engine_config: EngineConfig | None = None,
                 check_readiness: Callable[[CheckReadiness, Callable[[Event], None]], None] | None = None,
                 registry: StrategyRegistry | None = None,
                 on_leading: Callable[[Snapshot], None] | None = None,
                 discovery: DiscoveryWriter | None = None):
        self.config = config
        self.store, self.session, self.election = store, session, election
        self.drivers, self._master = drivers, master
        self.publish, self.notify, self.check_readiness = publish, notify, check_readiness
        self.engine_config = engine_config or config.engine
        self.registry = registry or StrategyRegistry.discover()
        self.on_leading = on_leading  # called with the loaded state before a new leader serves
        self.discovery = discovery    # writes the members the engine announces (None: not written)
        self.lock = threading.RLock()
        self.engine: Engine | None = None
        self.events: queue.Queue | None = None
        self.epoch: int | None = None
        self.why = StepDownChannel(self._wake)
        self._pause_before_contending = 0.0
        self.offer_latencies = OfferLatencies()
        self.offer_cycles_before = 0   # offer cycles of this process's earlier terms: the count goes on from there
        self.fatal: HalyardError | None = None  # why this scheduler gave up for good (see fail)

    # --- Backend (for the API) ----------------------------------------------------------------

    def leader(self) -> str | None:
        if self.engine is not None:
            return self.config.advertised
        try:
            contenders = self.election.contenders()
        except StoreError:
            return None
        return contenders[0] if contenders else None

    def address(self) -> str:
        """Where others reach this scheduler's API (its election identifier)."""
        return self.config.advertised

    @contextmanager
    def reading(self) -> Iterator[EngineView]:
        with self.lock:
            engine = self.engine
            if engine is not None:
                yield EngineView(engine)
                return
        raise NotLeaderError(self.leader())

    def submit(self, command: Event, timeout: float = 60.0) -> None:
        with self.lock:
            events = self.events
        if events is None:
            raise NotLeaderError(self.leader())
        pending = _Command(command)
        events.put((time.monotonic(), pending))
        pending.future.result(timeout=timeout)

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
        return self._master

    def about(self) -> SchedulerInfo:
        with self.lock:
            engine = self.engine
            framework_id = engine.framework_id if engine else None
        c = self.config
        return SchedulerInfo(name=c.name, version=__version__, leader=self.leader(), elected=engine is not None,
                             framework_id=framework_id, master=c.master, role=c.role,
                             failover_timeout=c.failover_timeout, zk=c.zk, zk_session_timeout=c.zk_session_timeout,
                             listen=c.listen)

    def stats(self) -> SchedulerStats:
        """Figures for benchmarks and operators."""
        with self.lock:
            engine = self.engine
            return SchedulerStats(leader=engine is not None, epoch=self.epoch,
                                  offer_cycles=engine.offer_cycles if engine else None,
                                  reconciling=EngineView(engine).reconciling() if engine else None,
                                  offer_to_accept=self.offer_latencies.summary())

    # --- lifecycle (any thread) ---------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return Why.STOPPING in self.why

    def stop(self) -> None:
        """End the leadership, if any, and :meth:`run`."""
        self.why.signal(Why.STOPPING)
        self.election.cancel()

    def restart_driver(self) -> None:
        """The driver's IO thread died: give up this leadership and contend again with a new driver."""
        self.why.signal(Why.DRIVER_FAILED)

    def fail(self, error: HalyardError) -> None:
        """Give up for good: a failure no retry mends (the master refused this framework's
        credentials). The leadership ends as on :meth:`stop` and :attr:`fatal` says why."""
        if self.fatal is None:
            log.error("giving up: %s", error)
            self.fatal = error
        self.stop()

    def session_changed(self, state: SessionState) -> None:
        """The session's thread: flags and events only."""
        log.info("ZooKeeper session %s", state.value)
        if state is SessionState.LOST:
            self.why.signal(Why.SESSION_LOST)
        else:
            self._post(Paused(state is SessionState.SUSPENDED))

    def _failed_over(self, message: str) -> bool:
        """The driver's IO thread: Mesos says another scheduler took this framework over. Whether
        to keep the subscription (re-subscribe): only while this scheduler's epoch is the newest
        (a deposed leader that wakes up must not take the framework back)."""
        self.why.signal(Why.SUPERSEDED)
        try:
            return self.store.current_epoch() <= (self.epoch or 0)
        except StoreError:
            return False  # cannot tell: the safe side is to let the other one lead

    def _wake(self) -> None:
        """Have the leader loop read the step-down reasons now."""
        self._post(_Wake())

    def _post(self, item: Event | _Wake) -> None:
        with self.lock:
            if self.events is not None:
                self.events.put((time.monotonic(), item))

    # --- contending ---------------------------------------------------------------------------

    def run(self) -> None:
        """Contend for leadership and lead when elected, until :meth:`stop`. The session is started."""
        while not self.stopping:
            self.why.clear(Why.SESSION_LOST)
            try:
                self.election.run(self._lead)
                pause, self._pause_before_contending = self._pause_before_contending, 0.0
                time.sleep(pause)
            except StoreError as exc:
                log.warning("leadership interrupted: %s", exc)
            except BaseException:  # noqa: BLE001 - stay a contender whatever happened
                log.exception("leadership ended by an unexpected error; contending again")
                time.sleep(1)
            while not self.stopping and not self.session.connected:
                time.sleep(0.1)

    def _yield_seconds(self) -> float:
        """How long a scheduler that gave up the lead waits, so that another one takes it."""
        return max(2.0, self.config.zk_session_timeout / 2)

    # --- leading ------------------------------------------------------------------------------

    def _lead(self) -> None:
        if self.stopping or Why.SESSION_LOST in self.why:
            return
        self.epoch = self.store.become_leader()
        snapshot = self.store.load()
        engine = Engine(self.registry, self.engine_config)
        engine.load(snapshot)
        engine.offer_cycles = self.offer_cycles_before
        if self.on_leading is not None:
            try:
                self.on_leading(snapshot)
            except StoreError as exc:
                log.warning("settling the state left by the previous leader failed: %s", exc)
        events: queue.Queue = queue.Queue()
        driver = self.drivers(snapshot.framework_id, lambda e: events.put((time.monotonic(), e)), self._failed_over)
        log.info("leading (epoch %d): %d apps, %d tasks, framework %s", self.epoch, len(engine.apps),
                 len(snapshot.tasks), snapshot.framework_id or "(new)")
        with self.lock:
            self.engine, self.events = engine, events
        self.why.clear(Why.DRIVER_FAILED, Why.ABDICATED, Why.SUPERSEDED)
        driver.start()
        try:
            self._serve(engine, events, driver)
        except _StepDown as why:
            log.warning("stepping down: %s", why)
            self._pause_before_contending = why.pause
        finally:
            with self.lock:
                self.engine, self.events = None, None
                self.offer_cycles_before = engine.offer_cycles
            try:
                driver.stop()
            except BaseException:  # noqa: BLE001 - a failed driver must not take the scheduler down
                log.exception("stopping the Mesos driver failed")
            _fail_pending(events)
            log.info("no longer leading")

    def _check_step_down(self) -> None:
        """Raise _StepDown if a signalled reason says so."""
        why = self.why.take()
        pauses = {Why.STOPPING: 0.0, Why.SESSION_LOST: 0.0, Why.DRIVER_FAILED: 1.0,  # the master may be restarting
                  Why.ABDICATED: self._yield_seconds()}
        for reason, pause in pauses.items():
            if reason in why:
                raise _StepDown(reason.value, pause)
        if Why.SUPERSEDED in why:
            # Fence the Mesos subscription as the store is fenced: only a newer epoch wins.
            try:
                newer = self.store.current_epoch() > (self.epoch or 0)
            except StoreError:
                newer = True  # cannot tell: the safe side is to let the other one lead
            if newer:
                raise _StepDown("a newer leader subscribed as this framework", pause=self._yield_seconds())
            log.warning("a stale scheduler subscribed as this framework; this leader (epoch %s) takes it back",
                        self.epoch)

    def _serve(self, engine: Engine, events: queue.Queue, driver: Driver) -> None:
        next_tick = time.monotonic() + TICK_SECONDS
        while True:
            self._check_step_down()
            try:
                arrived, item = events.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                arrived, item = None, None
            if time.monotonic() >= next_tick:
                self._apply(engine, driver, Tick())
                next_tick = time.monotonic() + TICK_SECONDS
            if item is None or isinstance(item, _Wake):
                continue
            if isinstance(item, _Command):
                try:
                    self._apply(engine, driver, item.event)
                except HalyardError as exc:
                    item.future.set_exception(exc)
                    if isinstance(exc, FencedError):
                        raise _StepDown(str(exc)) from exc
                except _StepDown:
                    item.future.set_exception(NotLeaderError(None))  # not left to time out
                    raise
                else:
                    item.future.set_result(None)
                continue
            self._apply(engine, driver, item, arrived)

    def _apply(self, engine: Engine, driver: Driver, event: Event, arrived: float | None = None) -> None:
        with self.lock:
            instructions = engine.handle(event)
        for ins in instructions:
            if isinstance(ins, Persist):
                self._persist(ins)
            elif isinstance(ins, Publish):
                _log_event(ins.event)
                self.publish(ins.event)
            elif isinstance(ins, Notify):
                self.notify(ins.url, ins.body)
            elif isinstance(ins, CheckReadiness):
                if self.check_readiness is not None:
                    self.check_readiness(ins, self._post)
            elif isinstance(ins, (Announce, Withdraw, SyncMembers)):
                self._discover(ins)
            elif isinstance(ins, ListAgents):
                if self._master is not None:
                    threading.Thread(target=_list_agents, args=(self._master, self._post), name="halyard-agents",
                                     daemon=True).start()
            else:
                driver.execute(ins)
        if isinstance(event, Offers) and arrived is not None and any(isinstance(i, Launch) for i in instructions):
            self.offer_latencies.record(time.monotonic() - arrived)

    def _discover(self, ins: Announce | Withdraw | SyncMembers) -> None:
        """Carry out a discovery instruction; a failed write is logged and healed by the engine's
        next periodic SyncMembers (discovery never holds up the leader loop's other work)."""
        if self.discovery is None:
            return
        try:
            if isinstance(ins, Announce):
                self.discovery.announce(ins.member)
            elif isinstance(ins, Withdraw):
                self.discovery.withdraw(ins.member)
            else:
                self.discovery.sync(ins.members, ins.full)
        except StoreError as exc:
            log.warning("service discovery: %s (the next synchronisation repairs it)", exc)

    def _persist(self, persist: Persist) -> None:
        while True:
            try:
                self.store.commit(persist)
                return
            except FencedError as exc:
                raise _StepDown(str(exc)) from exc
            except StoreUnavailableError as exc:
                log.warning("%s; waiting for ZooKeeper", exc)
                while not self.session.connected:
                    if Why.SESSION_LOST in self.why or self.stopping:
                        raise _StepDown("ZooKeeper session lost while writing") from exc
                    if Why.SUPERSEDED in self.why:
                        # Another scheduler took the framework and this one cannot check the
                        # epoch now: the safe side is to let the other one lead.
                        raise _StepDown("superseded while ZooKeeper is unreachable", pause=self._yield_seconds())
                    time.sleep(0.05)


def _fail_pending(events: queue.Queue) -> None:
    """Answer the commands still queued when leadership ends: this scheduler no longer leads."""
    while True:
        try:
            _, item = events.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, _Command):
            item.future.set_exception(NotLeaderError(None))


def _log_event(event: object) -> None:
    """What the leader loop logs of the events it publishes: ended deployments, failed strategies
    (the engine publishes a PlacementFailed only when the reason changes: logged once per change)."""
    if isinstance(event, PlacementFailed):
        what = f"app {event.id}" if event.kind == "app" else f"job {event.id} run {event.run_id}"
        log.warning("%s cannot be placed: %s", what, event.reason)
        return
    deployment = deployment_of(event)  # type: ignore[arg-type]
    if deployment is not None and deployment.status != "running":
        log.info("deployment %s (%s of %s) %s%s", deployment.id, deployment.kind, deployment.app_id,
                 deployment.status, f": {'; '.join(deployment.failures)}" if deployment.failures else "")


def _list_agents(master: MasterReader, post: Callable[[Event], None]) -> None:
    """The master's agents, for the constraints and the waiting reasons (read off the leader loop:
    the master may be slow)."""
    try:
        agents = master.agents()
    except HalyardError as exc:
        log.warning("cannot list the master's agents (%s); the constraints learn them from offers", exc)
        return
    post(AgentsListed(agents))
