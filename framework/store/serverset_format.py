"""ServerSet members as Halyard's scheduler writes them (Aurora's and Finagle's format).

One persistent sequential znode per announced instance, ``<discovery path>/<app id path>/member_N``,
whose body is JSON::

    {"serviceEndpoint": {"host": H, "port": P0},
     "additionalEndpoints": {"<port name>": {"host": H, "port": P}, ...},
     "status": "ALIVE", "shard": <instance index>}

Pure: no I/O.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MEMBER_PREFIX = "member_"
ALIVE = "ALIVE"


@dataclass(frozen=True, order=True)
class Endpoint:
    host: str
    port: int


@dataclass(frozen=True)
class Member:
    """One member node: its name (``member_0000000012``) and what its body announces."""

    name: str
    service: Endpoint
    additional: Mapping[str, Endpoint] = field(default_factory=dict, hash=False)
    status: str = ALIVE
    shard: int | None = None

    @property
    def alive(self) -> bool:
        return self.status == ALIVE

    def endpoint(self, index: int, port_name: str | None) -> Endpoint | None:
        """Where the app's port ``index`` (named ``port_name``) is: the service endpoint for the
        first port, a named additional endpoint for the others (None: not announced)."""
        if index == 0:
            return self.service
        return self.additional.get(port_name) if port_name else None


def _endpoint(raw: Any, where: str) -> Endpoint:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("host"), str) or not raw["host"]:
        raise ValueError(f"{where}: expected {{host, port}}, got {raw!r}")
    port = raw.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"{where}.port: expected a port, got {port!r}")
    return Endpoint(raw["host"], port)


def parse_member(name: str, body: bytes) -> Member:
    """A member node's name and body -> :class:`Member`; ValueError saying what is wrong."""
    try:
        raw = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{name}: not JSON ({exc})") from None
    if not isinstance(raw, Mapping):
        raise ValueError(f"{name}: expected a JSON object")
    extra = raw.get("additionalEndpoints") or {}
    if not isinstance(extra, Mapping):
        raise ValueError(f"{name}: additionalEndpoints: expected an object")
    shard = raw.get("shard")
    return Member(name=name, service=_endpoint(raw.get("serviceEndpoint"), f"{name}: serviceEndpoint"),
                  additional={str(k): _endpoint(v, f"{name}: additionalEndpoints.{k}") for k, v in extra.items()},
                  status=str(raw.get("status", ALIVE)), shard=shard if isinstance(shard, int) else None)


def member_body(host: str, port: int, shard: int, additional: Mapping[str, tuple[str, int]] | None = None,
                status: str = ALIVE) -> bytes:
    """A member body in the format above (for tests and tools that announce by hand)."""
    return json.dumps({"serviceEndpoint": {"host": host, "port": port},
                       "additionalEndpoints": {k: {"host": h, "port": p} for k, (h, p) in (additional or {}).items()},
                       "status": status, "shard": shard}).encode()
