"""The ZooKeeper session behind the store, and leader election over it (kazoo's Election recipe).

:class:`ZkSession` owns the one kazoo client a scheduler uses: retries, digest auth, the
``--zk`` chroot created if missing, and kazoo's session states translated to
:class:`~halyard.store.base.SessionState`. :class:`ZkElection` is the recipe behind the
:class:`~halyard.store.base.Election` protocol. What kazoo raises leaves this module as
:class:`~halyard.errors.StoreError`.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry

from ..errors import StoreUnavailableError
from .base import SessionState
from .suspension import SuspensionClock
from .zk import ZkStore, digest_acl
from .zk_tls import ZkTls, kazoo_tls

log = logging.getLogger(__name__)

# kazoo gives each connection attempt session_timeout / len(hosts) to get its answer. With one
# server, one attempt that hangs on a server still starting up (after a restart) would use up the
# whole session: list that server a few times so that each attempt gets a quarter of it.
SINGLE_HOST_ATTEMPTS = 4
START_TIMEOUT = 15.0


def parse_zk(url: str) -> tuple[str, str]:
    """``zk://h1:2181,h2:2181/chroot`` -> (kazoo hosts string with chroot, store root)."""
    rest = url.removeprefix("zk://")
    hosts, slash, chroot = rest.partition("/")
    if not hosts:
        raise ValueError(f"no ZooKeeper hosts in {url!r}")
    if "," not in hosts:
        hosts = ",".join([hosts] * SINGLE_HOST_ATTEMPTS)
    if slash and chroot.strip("/"):
        return f"{hosts}/{chroot.strip('/')}", ""
    return hosts, "/halyard"


def _auth(credentials: str | None) -> list[tuple[str, str]] | None:
    return [("digest", credentials)] if credentials else None


class ZkElection:
    """Leader election: kazoo's recipe (a lock whose holder leads), with Halyard's errors.

    Each :meth:`run` uses a recipe of its own: a lock whose release failed (its session was
    declared lost while ZooKeeper was unreachable) still believes it holds the lead, and kazoo's
    recipe would retry acquiring it forever."""

    def __init__(self, client: KazooClient, path: str, identifier: str):
        self._client, self._path, self._identifier = client, path, identifier
        self._guard = threading.Lock()
        self._cancelled = False
        self._recipe = client.Election(path, identifier)

    def run(self, lead: Callable[[], None]) -> None:
        """Wait until elected, call ``lead``, give the lead up when it returns; raises
        StoreUnavailableError when ZooKeeper fails meanwhile."""
        with self._guard:
            if self._cancelled:
                return
            recipe = self._recipe = self._client.Election(self._path, self._identifier)
        try:
            recipe.run(lead)
        except KazooException as exc:
            raise StoreUnavailableError(f"election interrupted: {exc!r}") from exc

    def cancel(self) -> None:
        """Stop waiting to be elected, for good."""
        with self._guard:
            self._cancelled = True
            self._recipe.cancel()

    def contenders(self) -> list[str]:
        """Every contender's identifier (where its API listens), the leader first."""
        try:
            return list(self._recipe.contenders())
        except KazooException as exc:
            raise StoreUnavailableError(f"cannot read the election's contenders: {exc!r}") from exc


class ZkSession:
    """One scheduler's ZooKeeper connection: the store and the election live on it.

    With ``suspended_is_lost`` (a scheduler's session), a connection SUSPENDED for the session
    timeout counts as a lost session, as in Apache Curator (``suspension.py``): the listeners are
    told LOST at once, without waiting for kazoo to reconnect (it cannot, while cut off), and the
    client is restarted on a new session, so that the old one's ephemeral nodes go and this
    scheduler contends again as a standby once ZooKeeper answers."""

    def __init__(self, url: str, session_timeout: float = 10.0, credentials: str | None = None,
                 tls: ZkTls | None = None, suspended_is_lost: bool = False):
        self.url = url
        self.tls = tls
        self.session_timeout = session_timeout
        self.credentials = credentials
        self.hosts, self.root = parse_zk(url)
        self.acl = digest_acl(credentials)
        self.client = KazooClient(hosts=self.hosts, timeout=session_timeout, auth_data=_auth(credentials),
                                  connection_retry=KazooRetry(max_tries=-1, max_delay=2),
                                  command_retry=KazooRetry(max_tries=3, max_delay=1), **kazoo_tls(tls))
        self._listeners: list[Callable[[SessionState], None]] = []
        self._clock = SuspensionClock(session_timeout)
        self._changed = threading.Condition()
        self._closing = False
        self.client.add_listener(self._kazoo_state)
        if suspended_is_lost:
            threading.Thread(target=self._watch_suspension, name="halyard-zk-suspension", daemon=True).start()

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)

    def add_listener(self, listener: Callable[[SessionState], None]) -> None:
        """Call ``listener`` with each new session state, on kazoo's thread or the suspension
        watch's (it must not block)."""
        self._listeners.append(listener)

    def _kazoo_state(self, state: str) -> None:
        """kazoo's listener (its connection thread): through the suspension clock to ours."""
        translated = SessionState(str(state))
        with self._changed:
            passed = self._clock.observe(translated, time.monotonic())
            self._changed.notify_all()
        if passed:
            self._tell(translated)
        # returns None: kazoo keeps the listener

    def _tell(self, state: SessionState) -> None:
        for listener in list(self._listeners):
            listener(state)

    def _watch_suspension(self) -> None:
        """Declare a suspension that lasted the session timeout a lost session, then restart the
        client on a new session (its own thread: kazoo's stop joins kazoo's connection thread)."""
        while True:
            with self._changed:
                while not self._closing and not self._clock.expired(time.monotonic()):
                    deadline = self._clock.deadline()
                    self._changed.wait(None if deadline is None else max(0.01, deadline - time.monotonic()))
                if self._closing:
                    return
                self._clock.declare_lost()
            log.warning("ZooKeeper connection suspended for the session timeout (%gs): the session counts as "
                        "lost; restarting the client on a new session", self.session_timeout)
            self._tell(SessionState.LOST)
            self._restart()

    def _restart(self) -> None:
        """Stop the client (its session ends; kazoo's LOST is not passed on twice) and start it on a
        new one, retried until it starts or the session is closed."""
        while not self._closing:
            try:
                self.client.stop()
                if not self._closing:
                    self.client.start_async()
                return
            except (KazooException, OSError) as exc:
                log.error("restarting the ZooKeeper client failed (%r); retrying", exc)
                time.sleep(1.0)

    def store(self) -> ZkStore:
        """The state store under this session's root."""
        return ZkStore(self.client, self.root, self.acl)

    def election(self, path: str, identifier: str) -> ZkElection:
        return ZkElection(self.client, path, identifier)

    def start(self, stopping: Callable[[], bool] = lambda: False) -> bool:
        """Connect (creating the chroot if missing), retrying until ZooKeeper answers; False if
        ``stopping`` said so first."""
        while not stopping():
            try:
                self._ensure_chroot()
                self.client.start(timeout=START_TIMEOUT)
                return True
            except (KazooException, KazooTimeoutError, OSError) as exc:
                log.warning("cannot reach ZooKeeper (%r); retrying", exc)
        return False

    def close(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self.client.stop()
        self.client.close()

    def _ensure_chroot(self) -> None:
        base, slash, path = self.hosts.partition("/")
        if not slash:
            return
        client = KazooClient(hosts=base, timeout=self.session_timeout, auth_data=_auth(self.credentials),
                             **kazoo_tls(self.tls))
        client.start(timeout=START_TIMEOUT)
        try:
            client.ensure_path("/" + path, acl=self.acl)
        finally:
            client.stop()
            client.close()
