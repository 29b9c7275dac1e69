"""The Mesos master read over HTTP: where it is, its state, where its agents are.

The one client of the master's HTTP endpoints (the subscription itself is ``driver.py``'s): the
service's API, ``halyard plan --master`` and the sandbox reader all go through
:class:`MesosMaster`, an implementation of :class:`halyard.runtime.backend.MasterReader`.
"""
from __future__ import annotations

from typing import Any

import requests

from ..cluster.mesos_types import AgentSeen
from ..errors import ClusterSourceError, HalyardError, NotFoundError, UpstreamError
from .codec import decode_agents

TIMEOUT = 10.0


class MesosMaster:
    """A master given as ``http://host:port``, ``host:port`` or ``zk://host:port/mesos`` (then the
    leading master is looked up in ZooKeeper at every call: it may change)."""

    def __init__(self, master: str, timeout: float = TIMEOUT):
        self.master = master
        self.timeout = timeout
        self._known: str | None = None  # the address reachable() last used

    def url(self) -> str:
        """The master's HTTP address (``http://host:port``)."""
        master = self.master
        if master.startswith("zk://"):
            from ..store.masters import announced_master  # kazoo: loaded only for zk:// masters (not by the CLI)

            return announced_master(master, self.timeout)
        return (master if master.startswith(("http://", "https://")) else f"http://{master}").rstrip("/")

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
                pass
            if not self.master.startswith("zk://"):
                return False
        return False

    def state(self) -> Any:
        """The master's ``/master/state`` (falling back to ``/state``) as parsed JSON; raises
        ClusterSourceError when the master cannot be reached or gives no state."""
        base = self.url()
        last: str | None = None
        for path in ("/master/state", "/state"):
            try:
                response = requests.get(base + path, timeout=self.timeout)
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
        base = self.url()
        try:
            response = requests.get(base + "/master/slaves", timeout=self.timeout)
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
        base = self.url()
        try:
            response = requests.get(f"{base}/master/slaves", timeout=self.timeout)
            agents = response.json().get("slaves", [])
        except (requests.RequestException, ValueError, AttributeError) as exc:
            raise UpstreamError(f"the Mesos master at {base} did not answer: {exc}") from None
        for agent in agents:
            if agent.get("id") == agent_id:
                return "http://" + agent["pid"].rsplit("@", 1)[1]
        raise NotFoundError(f"agent {agent_id} is not registered with the master (its sandboxes are out of reach)")
