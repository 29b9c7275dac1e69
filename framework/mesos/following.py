"""Which master the scheduler subscription talks to when it follows ZooKeeper: pure decisions.

With ``--master zk://.../mesos`` ZooKeeper is the one source of truth about the leading master.
A master that is not the leader answers a SUBSCRIBE with ``307`` and a ``Location`` naming the
leader *it* knows of. Just after an election that is often the old leader: a standby elected a
moment ago may not know yet that it leads, and names the master that went away. When that master
was SIGSTOPped (or is cut off) its kernel still accepts connections, so following the redirect
there hangs on a master that will never answer. :func:`redirect_target` therefore follows a
redirect only to the master ZooKeeper names; otherwise the driver stays with ZooKeeper's leader
and asks it again (paced by :data:`SUBSCRIBE_PACE`) until it knows that it leads.

The master's HTTP endpoints (``master.py``) follow redirects the same way, by hand: at most
:data:`MAX_REDIRECTS`, never back to a master already asked (:func:`next_master`), and with a
``zk://`` master ZooKeeper's leader is asked again while an election is under way.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

#: the shortest time between two SUBSCRIBE attempts (a master answering 307 or 503 at once would
#: otherwise be asked again in a tight loop: the flood of Marathon #3535)
SUBSCRIBE_PACE = 0.25
#: how long a SUBSCRIBE may wait for its SUBSCRIBED event before it is made again (seconds)
SUBSCRIBE_TIMEOUT = 5.0
#: how long pymesos' ``GET /version`` probe of a master may take (pymesos: a day)
VERSION_PROBE_TIMEOUT = 2.0
#: how long one scheduler call to the master may take (pymesos: a day)
CALL_TIMEOUT = 10.0


@dataclass(frozen=True)
class Announcement:
    """A master as ZooKeeper announces it (its ``MasterInfo``): ``ip:port`` and ``hostname:port``."""

    ip: str
    port: int
    hostname: str | None = None

    @property
    def address(self) -> str:
        """``ip:port``, where pymesos connects."""
        return f"{self.ip}:{self.port}"

    def names(self, address: str) -> bool:
        """Whether ``host:port`` is this master (by its IP or by its hostname)."""
        return address in {self.address} | ({f"{self.hostname}:{self.port}"} if self.hostname else set())


def parse_announcement(data: bytes | str | None) -> Announcement | None:
    """A master's ZooKeeper announcement (its ``MasterInfo`` as JSON); None if unreadable."""
    try:
        address = json.loads(data.decode() if isinstance(data, bytes) else data or "")["address"]
        ip, port = address["ip"], int(address["port"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(ip, str) or not ip:
        return None
    hostname = address.get("hostname")
    return Announcement(ip, port, hostname if isinstance(hostname, str) and hostname else None)


def location_address(location: str) -> str:
    """A ``Location`` (``//host:port/path``, ``http://host:port/path``) or a bare ``host:port`` ->
    ``host:port``, as pymesos reads it."""
    return urlsplit(location).netloc or location


def redirect_target(location: str, leader: Announcement | None, follows_zookeeper: bool) -> str | None:
    """Where a master's 307 (to ``location``) should move the subscription; None: stay where it is.

    With a fixed master (no ZooKeeper) the redirect is all there is to go by: follow it. Following
    ZooKeeper, go only to the master ZooKeeper names the leader: a redirect elsewhere names a master
    that lost (or never won) the election, and with no leader named there is nowhere safe to go.
    """
    address = location_address(location)
    if not follows_zookeeper:
        return address
    if leader is None or not leader.names(address):
        return None
    return leader.address


def subscribe_overdue(sent_at: float | None, now: float, timeout: float = SUBSCRIBE_TIMEOUT) -> bool:
    """A SUBSCRIBE sent at ``sent_at`` has had no SUBSCRIBED for ``timeout`` seconds (None: none pending)."""
    return sent_at is not None and now - sent_at > timeout


def pace_delay(last_sent: float | None, now: float, pace: float = SUBSCRIBE_PACE) -> float:
    """How long to wait before the next SUBSCRIBE so that two are at least ``pace`` apart."""
    return 0.0 if last_sent is None else max(0.0, last_sent + pace - now)


#: redirects one request to a master follows: a standby names the leader, which answers (one hop)
MAX_REDIRECTS = 2
#: the pause before ZooKeeper's leader is asked again while the masters elect one
ELECTION_PAUSE = 0.25


def next_master(location: str, asked: list[str], leader: str | None, limit: int = MAX_REDIRECTS) -> str | None:
    """After the masters in ``asked`` (``host:port``; the last one answered 307 to ``location``), the
    master to ask next, or None when there is none to ask now.

    Never one already asked: a master restarted before its old ZooKeeper session ended redirects to
    its own stale announcement, that is to itself, and two masters may name each other during an
    election (``requests`` followed such loops 30 times, then failed). Never more than ``limit`` hops.
    With ZooKeeper's ``leader`` known, only it (a redirect elsewhere names a lost or stale leader).
    """
    if len(asked) > limit:
        return None
    target = leader if leader is not None else location_address(location)
    return None if not target or target in asked else target


#: how long a master may answer a SUBSCRIBE with 404 or a 5xx before the driver gives up on it
NOT_READY_LIMIT = 30.0


def retry_subscribe_answer(code: int, not_ready_since: float | None, now: float,
                           limit: float = NOT_READY_LIMIT) -> bool:
    """Whether a SUBSCRIBE answered ``code`` (not 200, 307 or 503, which pymesos handles) is asked
    again rather than ending the driver (pymesos raises on its IO thread: the scheduler then stepped
    down). A master being restarted answers ``404 Not Found.`` while its routes are not installed
    yet (or no longer are), and a 5xx while it cannot serve: both pass, for ``limit`` seconds from
    ``not_ready_since``. Any other answer (a refusal: 400, 401, 403) is final."""
    if code != 404 and not 500 <= code < 600:
        return False
    return not_ready_since is None or now - not_ready_since <= limit
