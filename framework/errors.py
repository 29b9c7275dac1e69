"""Halyard's exception tree. Everything Halyard raises on purpose derives from HalyardError.

    HalyardError
    ├── ValidationError          input (an app definition, a cluster file, CLI args) is invalid;
    │                            carries every Problem with its field path
    ├── PluginError              a placement plugin cannot be found, loaded or configured
    │   └── DuplicatePluginError two plugins claim the same name
    ├── ClusterSourceError       a cluster description could not be read (file, master URL)
    ├── NotFoundError            a command names an app or task that does not exist
    │   └── UnknownAgentError    ... or an agent; carries the known hosts
    ├── ConflictError            a command conflicts with the current state (app being deleted, exists);
    │                            carries the id of the deployment in the way, if one is
    ├── ForbiddenError           the request's API token may not do this (outside its prefixes);
    │                            carries the token's prefixes (the API answers 403)
    ├── NotLeaderError           this scheduler is a standby; carries where the leader listens
    ├── LeaderSuspendedError     the leader cannot reach ZooKeeper now: it accepts no change (503)
    ├── UpstreamError            a Mesos master or agent did not answer (the API answers 502)
    ├── FrameworkRefusedError    the Mesos master refused this framework's subscription (credentials,
    │                            ACLs): retrying cannot help, the scheduler exits
    ├── LoadBalancerError        ``halyard lb``: HAProxy refused a configuration, or did not start or reload
    └── StoreError               the state store (ZooKeeper) refused or failed an operation
        ├── StoreUnavailableError  no ZooKeeper connection right now: retry when it is back
        └── FencedError          a newer leader holds the store: this scheduler must step down

"Does not fit" is never an exception: placement returns reasons as values.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a path like ``constraints[1][1]``) and what."""

    path: str
    message: str
    #: the same location as a tuple of keys and indexes (kept so paths are never re-parsed)
    loc: tuple = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class HalyardError(Exception):
    """Root of all errors Halyard raises deliberately."""


class ValidationError(HalyardError):
    """Input was refused; ``problems`` lists every problem found, each with its path."""

    def __init__(self, problems: Iterable[Problem], source: str | None = None):
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{head}{len(self.problems)} problem(s)\n{lines}")


class PluginError(HalyardError):
    """A placement plugin could not be found, loaded or configured."""


class DuplicatePluginError(PluginError):
    """Two plugins were registered under the same name."""


class ClusterSourceError(HalyardError):
    """A cluster description (file or master URL) could not be read or understood."""


class NotFoundError(HalyardError):
    """A command names an app or task that does not exist."""


class UnknownAgentError(NotFoundError):
    """A command names an agent (hostname or id) the cluster does not have; ``known_hosts`` are
    the ones it has (the API's 404 lists them)."""

    def __init__(self, message: str, known_hosts: tuple[str, ...] = ()):
        super().__init__(message)
        self.known_hosts = known_hosts


class ConflictError(HalyardError):
    """A command conflicts with the current state; ``deployment_id`` names the deployment that
    holds the app (Marathon's 409 lists it), if that is the conflict."""

    def __init__(self, message: str, deployment_id: str | None = None):
        super().__init__(message)
        self.deployment_id = deployment_id


class ForbiddenError(HalyardError):
    """The request's API token may not do this: it changes (or, with ``--auth-reads``, reads)
    something outside the token's ``prefixes``."""

    def __init__(self, message: str, prefixes: tuple[str, ...] = ()):
        super().__init__(message)
        self.prefixes = prefixes


class NotLeaderError(HalyardError):
    """This scheduler is a standby; ``leader`` is where the leader's API listens (if known);
    ``reason``: why it is not known, when this scheduler can tell (ZooKeeper unreachable)."""

    def __init__(self, leader: str | None, reason: str | None = None):
        self.leader, self.reason = leader, reason
        super().__init__(f"not the leader (leader: {leader or 'unknown'})")


class LeaderSuspendedError(HalyardError):
    """This scheduler leads, but its ZooKeeper session is suspended (the connection is lost, the
    session may live on): it writes nothing, so it accepts no change until ZooKeeper is back.
    ``since`` is how long ago (seconds) the connection was lost."""

    def __init__(self, since: float):
        self.since = since
        super().__init__(f"ZooKeeper unreachable for {since:.1f} s: no change is accepted until it is back")


class UpstreamError(HalyardError):
    """A Mesos master or agent did not answer (or could not be found)."""


class FrameworkRefusedError(HalyardError):
    """The Mesos master refused to subscribe this framework: its principal is unknown or its secret
    wrong (HTTP 401), or the master's ACLs do not allow it (an ERROR event, or 403). The master
    would answer every retry the same way. ``principal`` is the one sent (None: none was),
    ``status`` the HTTP status (None: refused by an ERROR event on the subscription stream)."""

    def __init__(self, message: str, principal: str | None, status: int | None = None):
        super().__init__(message)
        self.principal = principal
        self.status = status


class LoadBalancerError(HalyardError):
    """``halyard lb``: HAProxy refused a configuration, or did not start or reload in time."""


class StoreError(HalyardError):
    """The state store (ZooKeeper) refused or failed an operation."""


class FencedError(StoreError):
    """A newer leader holds the store; this scheduler must stop writing and step down."""


class StoreUnavailableError(StoreError):
    """No ZooKeeper connection right now; the same write may be retried once it is back."""
