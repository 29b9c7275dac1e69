"""Carrying out the engine's instructions on the leader loop: a handler per :data:`Instruction`
type, as the engine has one per event type (``tests/unit/test_instructions.py`` checks that every
type has one).

Handlers run in the engine's order, one at a time. A ``Persist`` is a fenced store transaction
that waits for ZooKeeper (nothing after it runs meanwhile, so no launch or acknowledgement gets
ahead of its record); the Mesos calls go to the term's driver; readiness checks and agent listings
are handed to workers off the loop, which post their answers back as events; webhooks, the event
stream and service discovery are told and never hold up the loop.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..engine.domain_events import DomainEvent, PlacementFailed, deployment_of
from ..engine.members import Announce, Member, SyncMembers, Withdraw
from ..engine.messages import (
    Acknowledge,
    AnswerInverseOffers,
    CheckReadiness,
    Decline,
    Event,
    Instruction,
    Kill,
    Launch,
    ListAgents,
    MaintenanceCall,
    Notify,
    OperatorCall,
    Persist,
    Publish,
    Reconcile,
    Revive,
    Suppress,
)
from ..errors import FencedError, StoreError, StoreUnavailableError
from ..jobs.domain_events import CallbackNotice
from ..store.base import StateStore
from .step_down import StepDownRules

log = logging.getLogger(__name__)

#: the instructions that are calls to Mesos, carried out by the driver
MESOS_CALLS: tuple[type, ...] = (Launch, Decline, Kill, Acknowledge, Reconcile, Suppress, Revive, AnswerInverseOffers)

#: the Mesos calls that act on tasks: held while the ZooKeeper session is suspended (the leadership
#: is in doubt until the session is back, and ends if it is lost)
ACTS: tuple[type, ...] = (Launch, Kill)

#: where a worker off the leader loop posts its answer
Sink = Callable[[Event], None]
#: hand an instruction to a worker off the leader loop, whose answer goes to the sink; returns at once
ReadinessChecker = Callable[[CheckReadiness, Sink], None]
AgentListing = Callable[[ListAgents, Sink], None]
OperatorCalls = Callable[[OperatorCall | MaintenanceCall, Sink], None]


class Driver(Protocol):
    """One subscription to Mesos (``mesos/driver.py``)."""

    def start(self) -> None: ...

    def stop(self) -> None:
        """Close the subscription; tasks keep running."""

    def execute(self, ins: Instruction) -> None:
        """Carry out one Mesos instruction (launch, decline, kill, acknowledge, ...)."""


class DiscoveryWriter(Protocol):
    """Where announced members go (``store/serversets.py``)."""

    def announce(self, member: Member) -> Any: ...

    def withdraw(self, member: Member) -> None: ...

    def sync(self, members: Any, full: bool = True) -> Any: ...


@dataclass(frozen=True)
class Outlets:
    """Where the instructions that are neither store writes nor Mesos calls go.

    ``check_readiness`` and ``list_agents`` take the instruction and a sink for the answering
    event, and return at once; None: the instruction is not carried out (so is discovery's)."""

    publish: Callable[[DomainEvent], None]
    notify: Callable[[CallbackNotice], None]
    check_readiness: ReadinessChecker | None = None
    list_agents: AgentListing | None = None
    discovery: DiscoveryWriter | None = None
    operator_calls: OperatorCalls | None = None   # calls about agents to the master's operator API


class InstructionHandlers:
    """The handlers of one term of leadership: its driver, the store, the outlets; answers from
    workers off the loop go to ``post``."""

    def __init__(self, outlets: Outlets, store: StateStore, rules: StepDownRules, driver: Driver, post: Sink):
        self.outlets, self.store, self.rules, self.post = outlets, store, rules, post
        self.handlers: dict[type, Callable[[Any], None]] = {
            Persist: self._persist, Publish: self._publish, Notify: self._notify,
            CheckReadiness: self._off_loop(outlets.check_readiness), ListAgents: self._off_loop(outlets.list_agents),
            Announce: self._announce, Withdraw: self._withdraw, SyncMembers: self._sync,
            OperatorCall: self._off_loop(outlets.operator_calls), MaintenanceCall: self._off_loop(outlets.operator_calls),
            **dict.fromkeys(MESOS_CALLS, driver.execute),
            **dict.fromkeys(ACTS, self._act_on(driver)),
        }

    def carry_out(self, instructions: Iterable[Instruction]) -> None:
        """Each instruction in order; a :class:`~halyard.runtime.step_down.StepDown` ends the term."""
        for ins in instructions:
            self.handlers[type(ins)](ins)

    def _act_on(self, driver: Driver) -> Callable[[Any], None]:
        def act(ins: Instruction) -> None:
            self.rules.wait_for_session()
            driver.execute(ins)
        return act

    def _persist(self, persist: Persist) -> None:
        while True:
            try:
                self.store.commit(persist)
                return
            except FencedError as exc:
                raise self.rules.fenced(exc) from exc
            except StoreUnavailableError as exc:
                self.rules.wait_for_store(exc)

    def _publish(self, ins: Publish) -> None:
        _log_event(ins.event)
        self.outlets.publish(ins.event)

    def _notify(self, ins: Notify) -> None:
        self.outlets.notify(ins.notice)

    def _off_loop(self, start: Callable[[Any, Sink], None] | None) -> Callable[[Any], None]:
        """A handler that hands the instruction to ``start`` (a worker answers with an event)."""
        if start is None:
            return lambda ins: None
        return lambda ins: start(ins, self.post)

    def _announce(self, ins: Announce) -> None:
        self._discover(lambda writer: writer.announce(ins.member))

    def _withdraw(self, ins: Withdraw) -> None:
        self._discover(lambda writer: writer.withdraw(ins.member))

    def _sync(self, ins: SyncMembers) -> None:
        self._discover(lambda writer: writer.sync(ins.members, ins.full))

    def _discover(self, write: Callable[[DiscoveryWriter], object]) -> None:
        """Write to service discovery, if any; a failed write is logged and healed by the engine's
        next periodic SyncMembers (discovery never holds up the leader loop's other work)."""
        if self.outlets.discovery is None:
            return
        try:
            write(self.outlets.discovery)
        except StoreError as exc:
            log.warning("service discovery: %s (the next synchronisation repairs it)", exc)


def _log_event(event: DomainEvent) -> None:
    """What the leader loop logs of the events it publishes: ended deployments, failed strategies
    (the engine publishes a PlacementFailed only when the reason changes: logged once per change)."""
    if isinstance(event, PlacementFailed):
        what = f"app {event.id}" if event.kind == "app" else f"job {event.id} run {event.run_id}"
        log.warning("%s cannot be placed: %s", what, event.reason)
        return
    deployment = deployment_of(event)
    if deployment is not None and deployment.status != "running":
        log.info("deployment %s (%s of %s) %s%s", deployment.id, deployment.kind, deployment.app_id,
                 deployment.status, f": {'; '.join(deployment.failures)}" if deployment.failures else "")
