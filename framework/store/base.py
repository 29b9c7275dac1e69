"""What the scheduler service needs of its state store and its coordination session.

``store/zk.py`` and ``store/election.py`` implement these over ZooKeeper (kazoo); nothing outside
``store/`` imports kazoo, and what kazoo raises leaves ``store/`` as a :class:`~halyard.errors.StoreError`.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Protocol

from ..engine.app_records import AppVersion, Snapshot
from ..engine.messages import Persist
from ..releases.records import Release


class SessionState(enum.Enum):
    """The coordination session, as the leader loop sees it."""

    CONNECTED = "CONNECTED"    # connected (again): go on
    SUSPENDED = "SUSPENDED"    # connection lost, the session may still be alive: launch nothing meanwhile
    LOST = "LOST"              # the session expired: leadership and its ephemeral nodes are gone


class StateStore(Protocol):
    """The scheduler's persisted state, written only by the leader of the current epoch."""

    @property
    def election_path(self) -> str:
        """Where the contenders for leadership register."""

    def ensure_layout(self) -> None:
        """Create the store's nodes if they do not exist."""

    def become_leader(self) -> int:
        """Claim the next leader epoch; writes of earlier leaders fail (FencedError) from now on."""

    def current_epoch(self) -> int:
        """The epoch the store holds now (the newest leader's)."""

    def load(self) -> Snapshot:
        """Everything stored, for a new leader."""

    def commit(self, persist: Persist) -> None:
        """Write one Persist, fenced by this leader's epoch (FencedError, StoreUnavailableError)."""

    def app_version(self, app_id: str, version: float) -> AppVersion | None:
        """An app's definition as stored at ``version`` (None if that version is not kept)."""

    def mark_master_reach(self, identifier: str, reaches: bool) -> None:
        """Say whether the scheduler ``identifier`` reaches the Mesos master now (forgotten with its session)."""

    def master_reachers(self) -> list[str]:
        """The schedulers that last said they reach the Mesos master."""


class Election(Protocol):
    """Leader election among the schedulers sharing one store."""

    def run(self, lead: Callable[[], None]) -> None:
        """Wait until elected, call ``lead`` and give the lead up when it returns (or :meth:`cancel`)."""

    def cancel(self) -> None:
        """Stop waiting to be elected."""

    def contenders(self) -> list[str]:
        """The identifiers of every contender, the leader first."""


class Session(Protocol):
    """The connection to the coordination service that holds the store and the election."""

    @property
    def connected(self) -> bool: ...

    def add_listener(self, listener: Callable[[SessionState], None]) -> None:
        """Call ``listener`` (on the session's own thread: it must not block) when the state changes."""


class ReleaseStore(Protocol):
    """The releases of every service and environment, written by the current leader only."""

    def history(self, service: str, environment: str) -> list[Release]:
        """The releases of ``service`` in ``environment``, oldest first."""

    def histories(self) -> dict[tuple[str, str], list[Release]]:
        """Every (service, environment)'s releases, oldest first."""

    def update(self, service: str, environment: str,
               change: Callable[[list[Release]], Sequence[Release] | None]) -> list[Release]:
        """Replace the history by ``change(history)`` (None: leave it), fenced by the leader epoch
        (FencedError) and retried on a concurrent write; the history as written."""
