"""The Mesos master read over HTTP: where it is, its state, where its agents are.

The one client of the master's HTTP endpoints (the subscription itself is ``driver.py``'s): the
service's API, ``halyard plan --master``, the agent listing, the operator API and the sandbox
reader all go through :class:`MesosMaster`, an implementation of
:class:`halyard.runtime.backend.MasterReader`.

Every request goes through :meth:`MesosMaster.request`, which follows a standby's 307 by hand
(``following.next_master``): one hop to the leader, never back to a master already asked. With a
``zk://`` master, a master that redirects in a loop, answers 503 or cannot be reached while the
masters elect a leader makes it ask ZooKeeper's leader again, every
:data:`~.following.ELECTION_PAUSE`, until ``timeout``.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from ..cluster.mesos_types import AgentSeen
from ..errors import ClusterSourceError, HalyardError, NotFoundError, UpstreamError
from .codec import decode_agents
from .following import ELECTION_PAUSE, location_address, next_master

TIMEOUT = 10.0
REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _zookeeper_leader(master: str, timeout: float) -> str:
    from ..store.masters import announced_master  # kazoo: loaded only for zk:// masters (not by the CLI)

    return announced_master(master, timeout)


class MesosMaster:
    """A master given as ``http://host:port``, ``host:port`` or ``zk://host:port/mesos`` (then the
    leading master is looked up in ZooKeeper at every call: it may change)."""

    def __init__(self, master: str, timeout: float = TIMEOUT,
                 zookeeper_leader: Callable[[str, float], str] = _zookeeper_leader):
        self.master = master
        self.timeout = timeout
        self._zookeeper_leader = zookeeper_leader
        self._known: str | None = None  # the address reachable() last used

    @property
    def follows_zookeeper(self) -> bool:
        return self.master.startswith("zk://")

    def url(self) -> str:
        """The master's HTTP address (``http://host:port``; for ``zk://``, the leader announced now)."""
        master = self.master
        if self.follows_zookeeper:
            return self._zookeeper_leader(master, self.timeout)
        return (master if master.startswith(("http://", "https://")) else f"http://{master}").rstrip("/")

    def where(self) -> str:
        """The master as messages name it: its URL, or the ``zk://`` URL it is looked up at."""
        return self.master if self.follows_zookeeper else self.url()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``method path`` at the leading master (``requests.request``'s keywords; ``timeout``
        defaults to the master's). Redirects are followed as the module says; a loop that does not
        end within ``timeout`` raises ``requests.TooManyRedirects`` naming the masters asked, and
        a master that cannot be reached raises what ``requests`` raises."""
        kwargs.setdefault("timeout", self.timeout)
        deadline = time.monotonic() + self.timeout
        base = self.url()
        asked: list[str] = []
        while True:
            try:
                response = requests.request(method, base + path, allow_redirects=False, **kwargs)
            except requests.ConnectionError:
                if not self._election_pause(deadline):
                    raise
                base, asked = self._leader_again(deadline), []   # the leader named may be gone
                continue
            if response.status_code == 503 and self._election_pause(deadline, response):
                base, asked = self._leader_again(deadline), []   # "No leader elected", recovering: soon
                continue
            if response.status_code not in REDIRECTS:
                return response
            location = response.headers.get("Location", "")
            response.close()
            asked.append(location_address(base))
            leader = location_address(self._leader_again(deadline)) if self.follows_zookeeper else None
            target = next_master(location, asked, leader)
            if target is not None:
                base = f"{urlsplit(base).scheme or 'http'}://{target}"
                continue
            if not self._election_pause(deadline):
                raise requests.TooManyRedirects(
                    f"the Mesos masters redirect in a loop ({' -> '.join(asked)} -> {location or '?'}): "
                    "no leader yet")
            base, asked = self._leader_again(deadline), []

    def _election_pause(self, deadline: float, response: requests.Response | None = None) -> bool:
        """Wait :data:`ELECTION_PAUSE` if the masters may be electing a leader (a ``zk://`` master)
        and there is time left before ``deadline``; False (no wait) otherwise."""
        if not self.follows_zookeeper or time.monotonic() + ELECTION_PAUSE > deadline:
            return False
        if response is not None:
            response.close()
        time.sleep(ELECTION_PAUSE)
        return True

    def _leader_again(self, deadline: float) -> str:
        """ZooKeeper's leader now (:meth:`url`), waiting while none is announced until ``deadline``."""
        while True:
            try:
                return self.url()
            except UpstreamError:
                if not self._election_pause(deadline):
                    raise

    def reachable(self, timeout: float = 2.0) -> bool:
        """Whether the leading master answers its ``/health`` now (within ``timeout``). The address
        of a ``zk://`` master is looked up again only when the one known does not answer."""
        for fresh in (False, True):
            if fresh or self._known is None:
                try:
                    self._known = self.url()
                except HalyardError:
                    return False
            try:
                if requests.get(self._known + "/health", timeout=timeout).status_code == 200:
                    return True
            except requests.RequestException:
                pass  # not answering: for zk://, the leader may have changed
            if not self.follows_zookeeper:
                return False
        return False

    def state(self) -> Any:
        """The master's ``/master/state`` (falling back to ``/state``) as parsed JSON; raises
        ClusterSourceError when the master cannot be reached or gives no state."""
        base = self.where()
        last: str | None = None
        for path in ("/master/state", "/state"):
            try:
                response = self.request("GET", path)
            except requests.RequestException as exc:
                raise ClusterSourceError(f"cannot reach the master at {base}: {exc}") from None
            if response.status_code == 200:
                try:
                    return response.json()
                except ValueError:
                    raise ClusterSourceError(f"{base}{path} did not return JSON") from None
            last = f"{base}{path} answered HTTP {response.status_code}"
        raise ClusterSourceError(last or f"no state at {base}")

    def slaves(self) -> Any:
        """The master's ``/master/slaves`` (``{"slaves": [...]}``: each agent's resources, used and
        offered resources, attributes, fault domain, whether active) as parsed JSON; the whole
        ``/master/state`` from a master that does not serve it. With 1,000 agents and 20,000 tasks
        the state is 10 MB, the agents 0.7 MB; raises ClusterSourceError as :meth:`state`."""
        base = self.where()
        try:
            response = self.request("GET", "/master/slaves")
        except requests.RequestException as exc:
            raise ClusterSourceError(f"cannot reach the master at {base}: {exc}") from None
        if response.status_code != 200:
            return self.state()
        try:
            return response.json()
        except ValueError:
            raise ClusterSourceError(f"{base}/master/slaves did not return JSON") from None

    def agents(self) -> tuple[AgentSeen, ...]:
        """Every agent registered with the master: what it is (attributes, fault domain)."""
        return decode_agents(self.slaves())

    def agent_url(self, agent_id: str) -> str:
        """The HTTP address of a registered agent (``http://host:port``); UpstreamError when the
        master does not answer, NotFoundError when it does not know the agent."""
        base = self.where()
        try:
            response = self.request("GET", "/master/slaves")
            agents = response.json().get("slaves", [])
        except (requests.RequestException, ValueError, AttributeError) as exc:
            raise UpstreamError(f"the Mesos master at {base} did not answer: {exc}") from None
        for agent in agents:
            if agent.get("id") == agent_id:
                return "http://" + agent["pid"].rsplit("@", 1)[1]
        raise NotFoundError(f"agent {agent_id} is not registered with the master (its sandboxes are out of reach)")
