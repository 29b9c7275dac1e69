"""What the HTTP API needs from the scheduler process, as a protocol with typed answers.

The scheduler (``scheduler_backend.py``, wired in ``wiring.py``) implements it; ``api/`` renders
its answers as JSON. Neither imports the other: both import this module.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from ..cluster.mesos_types import AgentSeen
from ..engine.messages import Event
from ..engine.view import EngineView
from ..spec.app import AppSpec


@dataclass(frozen=True)
class SchedulerInfo:
    """What this scheduler is and how it is configured (``GET /v2/info``)."""

    name: str
    version: str
    leader: str | None
    elected: bool
    framework_id: str | None
    master: str
    role: str
    failover_timeout: float
    zk: str
    zk_session_timeout: float
    listen: str
    #: the Mesos master the leader is subscribed to now (``host:port``; None: not subscribed, or a standby)
    subscribed_master: str | None = None


@dataclass(frozen=True)
class Latency:
    """Offer arrival -> ACCEPT sent, in milliseconds, over the last launches (None: no launch yet)."""

    p50: float | None
    p99: float | None
    count: int


@dataclass(frozen=True)
class SchedulerStats:
    """Operational figures (``GET /v1/stats``, ``/metrics``); engine figures are None on a standby."""

    leader: bool
    epoch: int | None
    offer_cycles: int | None
    reconciling: int | None
    offer_to_accept: Latency
    suspended: bool = False   # a leader whose ZooKeeper session is suspended: it launches, kills and writes nothing


class MasterReader(Protocol):
    """The current Mesos master, read over HTTP (``mesos/master.py``)."""

    def url(self) -> str:
        """The master's HTTP address (``http://host:port``), found through ZooKeeper for ``zk://`` masters."""

    def reachable(self) -> bool:
        """Whether the leading master answers now."""

    def state(self) -> Any:
        """The master's ``/master/state`` document."""

    def slaves(self) -> Any:
        """The master's ``/master/slaves`` document (its agents only)."""

    def agent_url(self, agent_id: str) -> str:
        """The HTTP address of a registered agent."""

    def agents(self) -> tuple[AgentSeen, ...]:
        """Every registered agent: what it is (attributes, fault domain)."""


class Backend(Protocol):
    """The scheduler as the API sees it."""

    def leader(self) -> str | None:
        """Where the leader's API listens (this scheduler's address if it leads), if known."""

    def address(self) -> str:
        """Where this scheduler's API listens."""

    def reading(self) -> AbstractContextManager[EngineView]:
        """The engine's state, locked for reading; raises NotLeaderError on a standby."""

    def submit(self, command: Event) -> None:
        """Apply a command on the leader and wait until it is persisted (raises what it raised)."""

    def app_version(self, app_id: str, version: float) -> AppSpec | None:
        """An app's definition as stored at ``version`` (None if that version is not kept)."""

    def stats(self) -> SchedulerStats: ...

    def about(self) -> SchedulerInfo: ...

    def abdicate(self) -> bool:
        """Give up leadership (``DELETE /v2/leader``); False on a standby."""

    def stale_for(self) -> float | None:
        """Seconds since this leader lost ZooKeeper (its session suspended: reads are served,
        stale, and changes refused), None when it is connected or does not lead."""

    def master(self) -> MasterReader: ...
