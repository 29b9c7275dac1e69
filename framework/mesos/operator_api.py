"""The master's operator API (``POST /api/v1``, JSON): the calls Halyard makes about agents, and
the SUBSCRIBE stream's connection (read by ``operator_stream.py``).

It reaches the leading master through ``MesosMaster.request`` (for ``zk://`` masters the one
announced in ZooKeeper now; a standby's 307 to the leader is followed with the body, once, and a
redirect loop during an election makes it ask ZooKeeper again rather than follow the loop).
With a principal and secret every call carries HTTP basic credentials, as the scheduler's own
subscription does (a master with ``--authenticate_http_readwrite`` needs them).
"""
from __future__ import annotations

from typing import Any

import requests

from ..errors import UpstreamError
from .master import MesosMaster

TIMEOUT = 10.0
AGENT_CALLS = {"DRAIN_AGENT": "drain_agent", "DEACTIVATE_AGENT": "deactivate_agent",
               "REACTIVATE_AGENT": "reactivate_agent"}


def agent_call_body(call: str, agent_id: str, max_grace: float | None = None, mark_gone: bool = False) -> dict[str, Any]:
    """The JSON of an agent call (``master.proto``'s ``DrainAgent``, ``DeactivateAgent``,
    ``ReactivateAgent``); ``max_grace`` is DrainAgent's ``max_grace_period`` (a protobuf Duration:
    ``"30s"`` in JSON)."""
    if call not in AGENT_CALLS:
        raise ValueError(f"not an agent call: {call}")
    inner: dict[str, Any] = {"agent_id": {"value": agent_id}}
    if call == "DRAIN_AGENT":
        if max_grace is not None:
            inner["max_grace_period"] = f"{max_grace:g}s"
        if mark_gone:
            inner["mark_gone"] = True
    return {"type": call, AGENT_CALLS[call]: inner}


class OperatorApi:
    """Calls to the leading master's ``/api/v1``."""

    def __init__(self, master: MesosMaster, principal: str | None = None, secret: str | None = None,
                 timeout: float = TIMEOUT):
        self.master, self.timeout = master, timeout
        self.auth = (principal, secret) if principal and secret else None

    def post(self, body: dict[str, Any], stream: bool = False, read_timeout: float | None = None) -> requests.Response:
        """POST ``body``; UpstreamError when the master cannot be reached or refuses it."""
        url = self.master.where() + ("" if self.master.follows_zookeeper else "/api/v1")  # zk://...: the masters
        try:
            response = self.master.request("POST", "/api/v1", json=body, headers={"Accept": "application/json"},
                                           auth=self.auth, stream=stream,
                                           timeout=(self.timeout, read_timeout or self.timeout))
        except requests.RequestException as exc:
            raise UpstreamError(f"the Mesos master at {url} did not answer {body.get('type')}: {exc}") from None
        if response.status_code not in (200, 202):
            text = response.text.strip()[:300]
            response.close()
            raise UpstreamError(f"the Mesos master refused {body.get('type')} (HTTP {response.status_code}): {text}")
        return response

    def agent_call(self, call: str, agent_id: str, max_grace: float | None = None) -> None:
        """DRAIN_AGENT, DEACTIVATE_AGENT or REACTIVATE_AGENT; UpstreamError if refused."""
        self.post(agent_call_body(call, agent_id, max_grace)).close()

    def subscribe(self, read_timeout: float) -> requests.Response:
        """The SUBSCRIBE stream's open response (RecordIO); a read waits at most ``read_timeout``."""
        return self.post({"type": "SUBSCRIBE"}, stream=True, read_timeout=read_timeout)
