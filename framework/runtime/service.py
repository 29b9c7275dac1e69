"""The leader loop: contend for leadership; while leading, subscribe to Mesos and apply the
engine's instructions one event at a time; step down. The wiring is ``wiring.py``'s.

Threads:

* the **leader loop** (``run``'s thread) contends for leadership; while it leads it owns the
  engine, the store writes and the Mesos driver, and handles one event at a time from its inbox
  (``signals.py``): Mesos events (from the driver's IO thread), API commands (with a future to
  answer), answers from workers off the loop, and a 1 s tick;
* the **driver's IO thread** only enqueues;
* the **session's thread** (ZooKeeper) only signals and enqueues: SUSPENDED pauses launching,
  CONNECTED resumes, LOST ends the leadership (the subscription is closed; tasks keep running)
  and the loop contends again with a new session. An outage shorter than the session timeout
  changes nothing but a pause;
* the **API's thread** reads under the engine lock and submits commands (``scheduler_backend.py``).

Every reason to step down, from any thread, goes through one channel, read by the loop between
events; ``step_down.py`` decides on them. The instructions are carried out by ``instructions.py``'s
handlers.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..engine.app_records import Snapshot
from ..engine.domain_events import DomainEvent
from ..engine.engine import Engine, EngineConfig
from ..engine.messages import Event, Instruction, Launch, Offers, Paused, StatusUpdate, Tick
from ..errors import FencedError, HalyardError, NotLeaderError, StoreError
from ..jobs.domain_events import CallbackNotice
from ..placement import StrategyRegistry
from ..store.base import Election, Session, SessionState, StateStore
from .backend import MasterReader
from .config import ServiceConfig
from .group_commit import MAX_GROUP, group_commit, pipelined
from .instructions import AgentListing, DiscoveryWriter, Driver, InstructionHandlers, Outlets, ReadinessChecker, Sink
from .scheduler_backend import SchedulerBackend
from .signals import Command, Inbox, Wake, Why
from .step_down import StepDown, StepDownRules, yield_seconds

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0

#: (framework id or None for a new framework, sink for Mesos events, on_failed_over) -> a driver, not started.
DriverFactory = Callable[[str | None, Sink, Callable[[str], bool]], Driver]


class SchedulerService(SchedulerBackend):
    """One Halyard scheduler: a standby, or the leader. Contends, leads and serves; what the API
    calls (:class:`halyard.runtime.backend.Backend`) is its base's.

    ``check_readiness`` and ``list_agents`` hand an instruction to a worker off the leader loop
    (None: not carried out); ``on_leading`` is called with the loaded state before a new leader
    serves; ``discovery`` writes the members the engine announces (None: not written)."""

    def __init__(self, config: ServiceConfig, *, store: StateStore, session: Session, election: Election,
                 drivers: DriverFactory, master: MasterReader, publish: Callable[[DomainEvent], None],
                 notify: Callable[[CallbackNotice], None], engine_config: EngineConfig | None = None,
                 check_readiness: ReadinessChecker | None = None, list_agents: AgentListing | None = None,
                 registry: StrategyRegistry | None = None,
                 on_leading: Callable[[Snapshot], None] | None = None,
                 discovery: DiscoveryWriter | None = None, operator_calls: Callable[..., None] | None = None):
        super().__init__(config, store=store, election=election, master=master)
        self.session, self.drivers = session, drivers
        self.outlets = Outlets(publish=publish, notify=notify, check_readiness=check_readiness, list_agents=list_agents,
                               discovery=discovery, operator_calls=operator_calls)  # agents' calls: agent_calls.py
        self.engine_config = engine_config or config.engine
        self.registry = registry or StrategyRegistry.discover()
        self.on_leading = on_leading
        self.rules = StepDownRules(self.why, store, session, yield_seconds(config.zk_session_timeout),
                                   master_bound=config.master_yield_after, identifier=config.advertised,
                                   reaches_master=lambda: self._master.reachable())
        self._pause_before_contending = 0.0
        self.offer_cycles_before = 0   # offer cycles of this process's earlier terms: the count goes on from there
        self.fatal: HalyardError | None = None  # why this scheduler gave up for good (see fail)

    # --- lifecycle (any thread) ---------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """:meth:`stop` was called (or :meth:`fail`)."""
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
        """The session's thread: signals and events only."""
        log.info("ZooKeeper session %s", state.value)
        # reachable again only once connected: after a LOST the client is on its way to a new
        # session, and a read meanwhile would wait for it
        self.store_reachable(state is SessionState.CONNECTED)
        if state is SessionState.LOST:
            self.why.signal(Why.SESSION_LOST)
        else:
            self.post(Paused(state is SessionState.SUSPENDED))

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
        events = Inbox()
        driver = self.drivers(snapshot.framework_id, events.post, lambda message: self.rules.keep_subscription(self.epoch))
        log.info("leading (epoch %d): %d apps, %d tasks, framework %s", self.epoch, len(engine.apps),
                 len(snapshot.tasks), snapshot.framework_id or "(new)")
        with self.lock:
            self.engine, self.events = engine, events
        self.why.clear(Why.DRIVER_FAILED, Why.ABDICATED, Why.SUPERSEDED)
        self.rules.new_term(time.monotonic())
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="store-writer")  # group commits' writes
        driver.start()
        try:
            self._serve(engine, events, InstructionHandlers(self.outlets, self.store, self.rules, driver, self.post))
        except StepDown as why:
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
            events.fail_pending()
            self._writer.shutdown(wait=True)   # idle: every write is waited for before the loop goes on
            log.info("no longer leading")

    # --- serving ------------------------------------------------------------------------------

    def _serve(self, engine: Engine, events: Inbox, handlers: InstructionHandlers) -> None:
        next_tick = time.monotonic() + TICK_SECONDS
        while True:
            self.rules.check(self.epoch)
            arrived, item = events.next(timeout=max(0.0, next_tick - time.monotonic()))
            if time.monotonic() >= next_tick:
                self._apply(engine, handlers, Tick())
                self.rules.check_master(engine.subscribed, time.monotonic())
                next_tick = time.monotonic() + TICK_SECONDS
            if item is None or isinstance(item, Wake):
                continue
            if isinstance(item, Command):
                self._answer(engine, handlers, item)
                continue
            if isinstance(item, StatusUpdate):
                self._apply_updates(engine, handlers, events, [item, *events.take_updates(MAX_GROUP - 1)])
                continue
            self._apply(engine, handlers, item, arrived)

    def _answer(self, engine: Engine, handlers: InstructionHandlers, command: Command) -> None:
        """Apply an API command and answer its future (a fenced write also ends the term)."""
        try:
            self._apply(engine, handlers, command.event)
        except HalyardError as exc:
            command.future.set_exception(exc)
            if isinstance(exc, FencedError):
                raise self.rules.fenced(exc) from exc
        except StepDown:
            command.future.set_exception(NotLeaderError(None))  # not left to time out
            raise
        else:
            command.future.set_result(None)

    def _apply_updates(self, engine: Engine, handlers: InstructionHandlers, events: Inbox,
                       updates: list[StatusUpdate]) -> None:
        """Status updates queued together: applied in order, written once, then acknowledged
        (``group_commit.py``). While one group's write is in flight, the updates queued behind it
        are applied to the engine (``group_commit.pipelined``): the writes and every instruction
        go out in the same order as one group after another, the loop just does not sit idle
        waiting for ZooKeeper."""
        def apply(group: list[StatusUpdate]) -> list[Instruction]:
            with self.lock:
                return group_commit([engine.handle(update) for update in group])

        def take() -> list[StatusUpdate]:
            return events.take_updates(MAX_GROUP) if time.monotonic() < until else []

        until = time.monotonic() + TICK_SECONDS   # then back to the loop: the tick, step-down checks, offers
        pipelined(apply(updates), apply, take, handlers.carry_out, self._writer)

    def _apply(self, engine: Engine, handlers: InstructionHandlers, event: Event, arrived: float | None = None) -> None:
        with self.lock:
            instructions = engine.handle(event)
        handlers.carry_out(instructions)
        if isinstance(event, Offers) and arrived is not None and any(isinstance(i, Launch) for i in instructions):
            self.offer_latencies.record(time.monotonic() - arrived)
