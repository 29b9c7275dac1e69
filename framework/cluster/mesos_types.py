"""Mesos messages as the core sees them: frozen, typed values, parsed once at the edge.

``halyard.mesos.codec`` turns the v1 JSON that pymesos hands over into these (offers, status
updates) and renders launches back into TaskInfos. Nothing here knows JSON or pymesos.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .agents import UNRESERVED, AttributeValue, Resources

# Mesos task states that are final: the task is gone.
TERMINAL = frozenset({"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
                      "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"})
# Halyard's own state for a task persisted before its ACCEPT was sent.
LAUNCHING = "TASK_LAUNCHING"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class OfferedResource:
    """One resource of an offer: ``scalar`` for cpus/mem/disk/gpus, ``ranges`` for ports.

    ``source`` is the resource exactly as offered (reservations, allocation info, ...): the
    codec echoes it back when a task takes part of it. The core never looks inside.
    """

    name: str
    role: str = UNRESERVED
    scalar: float = 0.0
    ranges: tuple[tuple[int, int], ...] = ()
    source: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False, repr=False)

    @property
    def is_scalar(self) -> bool:
        return not self.ranges and self.name != "ports"


@dataclass(frozen=True)
class Offer:
    """One offer from one agent."""

    id: str
    agent_id: str
    hostname: str
    resources: tuple[OfferedResource, ...] = ()
    attributes: Mapping[str, AttributeValue] = field(default_factory=lambda: _EMPTY)
    region: str | None = None
    zone: str | None = None
    #: when the agent's maintenance window starts (the offer's ``unavailability``), if one is scheduled
    unavailable_at: float | None = None


@dataclass(frozen=True)
class InverseOffer:
    """The master asks for an agent back (its maintenance window came): accept once it is drained."""

    id: str
    agent_id: str


@dataclass(frozen=True)
class CheckResult:
    """The result of a task's Mesos check (a ``CheckStatusInfo``): ``kind`` is COMMAND, HTTP or TCP;
    the field of that kind is None while the check has no result (not run yet, timed out)."""

    kind: str
    exit_code: int | None = None      # COMMAND
    status_code: int | None = None    # HTTP
    succeeded: bool | None = None     # TCP

    @property
    def answered(self) -> bool:
        """The check delivered a result (Marathon shows only such results)."""
        return self.exit_code is not None or self.status_code is not None or self.succeeded is not None


@dataclass(frozen=True)
class IpAddress:
    """One of a task's IP addresses, as Mesos reports it in the status' container network infos."""

    address: str
    protocol: str = "IPv4"   # IPv4 | IPv6


@dataclass(frozen=True)
class TaskStatus:
    """A status update (or a reconciliation answer) about one task.

    ``uuid`` is set when the update must be acknowledged; ``data`` is the executor's payload,
    decoded from base64; ``healthy`` is None when the update carries no health check result;
    ``check`` is None when it carries no Mesos check status; ``ip_addresses`` are the container's
    (empty when Mesos reports none).
    """

    task_id: str
    state: str
    agent_id: str | None = None
    reason: str | None = None
    message: str | None = None   # None: the update carries no message (keep the last one)
    healthy: bool | None = None
    data: bytes = b""
    uuid: str | None = None
    check: CheckResult | None = None
    ip_addresses: tuple[IpAddress, ...] = ()

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


@dataclass(frozen=True)
class Allocated:
    """Part of an offered resource that a task takes: ``amount`` of a scalar, or ``ports``."""

    resource: OfferedResource
    amount: float = 0.0
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class AgentSeen:
    """What an agent is, as an offer or the master's agent list describes it."""

    agent_id: str
    hostname: str
    attributes: Mapping[str, AttributeValue] = field(default_factory=lambda: _EMPTY)
    region: str | None = None
    zone: str | None = None
    #: what the agent has unused (the master's list: its resources less used and offered ones);
    #: None when not known (an offer says only what is offered)
    free: Resources | None = None
    #: what the master says of the agent as a whole (its list and the operator stream; an offer
    #: does not say): every scalar it has (None: not known), whether it is connected and taking
    #: offers (``active``), deactivated by an operator, and its drain state (DRAINING, DRAINED)
    total: Resources | None = None
    active: bool = True
    deactivated: bool = False
    drain: str | None = None


@dataclass(frozen=True)
class ClusterTask:
    """A task of any framework as the master's operator stream tells it (other frameworks' use of
    the agents): where it runs, what it holds, its latest state."""

    task_id: str
    framework_id: str
    agent_id: str
    state: str
    resources: Resources | None = None   # None: not told (a TASK_UPDATED): as it was

    @property
    def live(self) -> bool:
        return self.state not in TERMINAL
