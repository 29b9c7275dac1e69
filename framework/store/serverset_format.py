"""Service discovery's wire format: where the member nodes go and what their bodies hold, in the
two formats the scheduler writes (``--discovery-format``). The one owner of the format: the writer
(:mod:`.serversets`), the watcher (:mod:`.serverset_watch`), ``halyard lb`` and the tests import it.
Pure: no I/O, no kazoo.

Layouts under the discovery path (``--discovery-path``)::

    serverset  <path>/<app id path>/member_0000000012   (Finagle's and Aurora's ServerSets)
    curator    <path>/<service name>/<task id>          (Apache Curator's service discovery; the
                                                         service name is the app id as a DNS label)

A ServerSet member is one persistent sequential node per announced instance, whose body is JSON::

    {"serviceEndpoint": {"host": H, "port": P0},
     "additionalEndpoints": {"<port name>": {"host": H, "port": P}, ...},
     "status": "ALIVE", "shard": <instance index>}

A Curator member is Curator's ServiceInstance JSON (name, id, address, port, sslPort, payload,
registrationTimeUTC, serviceType, uriSpec), the payload in Spring Cloud Zookeeper's shape.

Bodies are written as canonical JSON (:func:`encode`: keys sorted, no spaces), so that a writer
finds a member it did not write itself (another leader's) by comparing bodies.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engine.members import Member as Announced
from ..engine.members import dns_label

FORMATS = ("serverset", "curator")
MEMBER_PREFIX = "member_"
ALIVE = "ALIVE"
SPRING_INSTANCE = "org.springframework.cloud.zookeeper.discovery.ZookeeperInstance"


# --- where ------------------------------------------------------------------------------------

def member_path(base: str, app_id: str) -> str:
    """An app's ServerSet: ``/halyard/discovery`` + ``/examples/hello`` -> ``/halyard/discovery/examples/hello``."""
    return base.rstrip("/") + "/" + app_id.strip("/")


def directory(root: str, app_id: str, fmt: str) -> str:
    """The node under ``root`` that holds an app's members in ``fmt``."""
    if fmt == "curator":
        return f"{root.rstrip('/')}/{dns_label(app_id)}"
    return member_path(root, app_id)


# --- what: the bodies written -----------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Endpoint:
    """Where one port of a member listens."""

    host: str
    port: int


def serverset_json(service: Endpoint, additional: Mapping[str, Endpoint], shard: int | None,
                   status: str = ALIVE) -> dict[str, Any]:
    """A ServerSet member body: the first port's endpoint, the named others, its status and shard."""
    return {"serviceEndpoint": {"host": service.host, "port": service.port},
            "additionalEndpoints": {name: {"host": e.host, "port": e.port} for name, e in additional.items()},
            "status": status, "shard": shard}


def serverset_body(member: Announced) -> dict[str, Any]:
    """Aurora's member JSON for an announced task."""
    host = member.host
    return serverset_json(Endpoint(host, member.ports[0]),
                          {name: Endpoint(host, port) for name, port in member.named_ports.items()}, member.shard)


def curator_body(member: Announced) -> dict[str, Any]:
    """Curator's ServiceInstance JSON (a PERMANENT instance: written and removed by the leader)."""
    name = dns_label(member.app_id)
    metadata = {"appId": member.app_id, "taskId": member.task_id, "shard": str(member.shard),
                **{f"port.{n}": str(p) for n, p in member.named_ports.items()}}
    return {"name": name, "id": member.task_id, "address": member.host, "port": member.ports[0], "sslPort": None,
            "payload": {"@class": SPRING_INSTANCE, "id": member.task_id, "name": name, "metadata": metadata},
            "registrationTimeUTC": int(member.since * 1000), "serviceType": "PERMANENT",
            "uriSpec": {"parts": [{"value": "scheme", "variable": True}, {"value": "://", "variable": False},
                                  {"value": "address", "variable": True}, {"value": ":", "variable": False},
                                  {"value": "port", "variable": True}]},
            "enabled": True}


def body(member: Announced, fmt: str) -> dict[str, Any]:
    """An announced task's member body in ``fmt``."""
    return curator_body(member) if fmt == "curator" else serverset_body(member)


def encode(data: Mapping[str, Any]) -> bytes:
    """A body as the node holds it: canonical JSON."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def canonical(data: bytes) -> bytes:
    """A node's body re-encoded canonically (to compare with :func:`encode`'s); ValueError if not JSON."""
    return encode(json.loads(data))


def member_body(host: str, port: int, shard: int, additional: Mapping[str, tuple[str, int]] | None = None,
                status: str = ALIVE) -> bytes:
    """A ServerSet member body, encoded (for tests and tools that announce by hand)."""
    return encode(serverset_json(Endpoint(host, port), {k: Endpoint(h, p) for k, (h, p) in (additional or {}).items()},
                                 shard, status))


# --- what: the bodies read --------------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    """One ServerSet member node as read: its name (``member_0000000012``) and what its body announces."""

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
    """A ServerSet member node's name and body -> :class:`Member`; ValueError saying what is wrong."""
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
