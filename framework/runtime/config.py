"""How one scheduler process is configured (``halyard scheduler``'s flags, as data)."""
from __future__ import annotations

import socket
from dataclasses import dataclass, field

from ..engine.engine import EngineConfig
from ..store.zk_tls import ZkTls
from .tls_server import ServerTls


@dataclass
class ServiceConfig:
    master: str                  # http://host:port, host:port or zk://host:port/mesos
    zk: str                      # zk://host:port[,host:port][/chroot]
    listen: str = "127.0.0.1:8080"
    advertise: str | None = None  # HOST:PORT others reach this scheduler at (default: from listen)
    name: str = "halyard"
    role: str = "*"
    principal: str | None = None
    secret: str | None = None
    failover_timeout: float = 7 * 24 * 3600.0
    zk_auth: str | None = None   # user:password for digest ACLs on Halyard's znodes
    zk_session_timeout: float = 10.0
    master_yield_after: float = 60.0  # a leader without a Mesos subscription this long yields to a standby that reaches the master
    engine: EngineConfig = field(default_factory=EngineConfig)
    tokens_file: str | None = None       # API bearer tokens (tokens.py: TOKEN rw|ro [/PREFIX ...] [name=NAME]); re-read on SIGHUP
    auth_reads: bool = False                # reads need a token too (and scoped tokens read only their part)
    audit_log: str | None = None         # every mutating API request as a JSON line, appended
    executor_uri: str | None = None      # where agents fetch Halyard's executor (default: this scheduler)
    executor_command: str | None = None  # how agents run it (default: python3 <fetched file>)
    event_keepalive: float = 10.0           # seconds without a byte before a /v2/events stream gets a keep-alive
                                            # comment (Marathon's Jetty EventSource: 10 s)
    secrets_file: str | None = None      # the secret store: source -> value (YAML/JSON), for apps' secret references
    registry_credentials: str | None = None   # Docker config.json-style credentials for digest resolution
    discovery: bool = True                  # announce healthy tasks in ZooKeeper (--no-discovery: off)
    discovery_path: str = "discovery"       # relative to the state root (the --zk chroot), or absolute in it
    discovery_format: str = "serverset"     # serverset (Finagle, Aurora) | curator (Curator, Spring Cloud)
    rebalance_on_agent_join: bool = False   # rebalance every app by itself when agents join (auto_rebalance.py)
    rebalance_cooldown: float = 60.0        # ...this long after the first join, and after the last run
    tls: ServerTls | None = None            # the API over HTTPS (--tls-cert/--tls-key[/--tls-client-ca]); None: plain
    tls_ca: str | None = None               # verifies the leader a standby forwards to (default: --tls-client-ca)
    zk_tls: ZkTls | None = None             # --zk over TLS (--zk-tls-ca/--zk-tls-cert/--zk-tls-key)

    @property
    def scheme(self) -> str:
        """``https`` when the API serves TLS, else ``http``."""
        return "https" if self.tls is not None else "http"

    @property
    def advertised(self) -> str:
        """The address a leader publishes (its election identifier) and standbys forward and
        redirect to: ``advertise``, else ``listen`` with a wildcard host replaced by this machine's name."""
        if self.advertise:
            return self.advertise
        host, _, port = self.listen.rpartition(":")
        if host in ("", "0.0.0.0", "::", "[::]"):
            host = socket.getfqdn()
        return f"{host}:{port}"

    @property
    def port(self) -> int:
        """The API's TCP port."""
        return int(self.listen.rpartition(":")[2])
