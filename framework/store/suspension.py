"""When a suspended ZooKeeper connection counts as a lost session (pure: no kazoo, no clock of its own).

kazoo reports SUSPENDED when its connection drops and LOST only once it reconnects and the server
says the session expired. A client cut off from every server never reconnects, so it would never
learn that its session (and the leadership held by its ephemeral node) is gone, while the server
expired it one session timeout after it last heard from the client. Apache Curator (3.0 and later,
``ConnectionStateManager`` with its default ``sessionExpirationPercent`` of 100) declares the
session lost itself once the connection has been SUSPENDED for the negotiated session timeout, and
injects an expiration so that its client starts a new session. :class:`SuspensionClock` is that
decision; ``election.py``'s :class:`~halyard.store.election.ZkSession` runs it.

The deadline is safe: kazoo suspends at the earliest one ping interval (a third of the session
timeout) after the server last heard from it, so by the deadline the server has expired the session
(it expires it one session timeout after it last heard, rounded up to its tick) or the client has
reconnected, which cancels the deadline.
"""
from __future__ import annotations

from dataclasses import dataclass

from .base import SessionState


@dataclass
class SuspensionClock:
    """The session's states as they come (with the time each came), and whether a suspension has
    lasted long enough to count as a lost session.

    ``observe`` says whether a state should be passed on to the session's listeners: after
    :meth:`declare_lost`, the LOST that kazoo reports when the client is restarted is not passed on
    twice; anything else is."""

    session_timeout: float
    suspended_since: float | None = None
    declared_lost: bool = False

    def observe(self, state: SessionState, now: float) -> bool:
        """A state kazoo reported at ``now``; True: pass it on to the listeners."""
        if state is SessionState.SUSPENDED:
            if self.suspended_since is None:
                self.suspended_since = now
            return not self.declared_lost
        self.suspended_since = None
        if state is SessionState.CONNECTED:
            self.declared_lost = False
            return True
        already, self.declared_lost = self.declared_lost, False  # LOST: a new session comes next
        return not already

    def deadline(self) -> float | None:
        """When the current suspension counts as a lost session (None: not suspended, or declared)."""
        if self.suspended_since is None or self.declared_lost:
            return None
        return self.suspended_since + self.session_timeout

    def expired(self, now: float) -> bool:
        """Whether the suspension has lasted the session timeout at ``now`` (and is not declared yet)."""
        deadline = self.deadline()
        return deadline is not None and now >= deadline

    def declare_lost(self) -> None:
        """The suspension was declared a lost session: its LOST is passed on once, and the LOST
        that restarting the client brings is not."""
        self.declared_lost = True
