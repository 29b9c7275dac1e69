"""The members of an HA cluster (``up --masters N --zookeepers N``): their ports, ZooKeeper's
configuration, what ZooKeeper says of itself, and which member a command names. Pure functions
(no process is started here), so that they are unit-tested. Standard library only.

Ports, from ``--port P`` and ``--zk-port Z``:

* master K listens on ``127.0.0.1:P + 100(K-1)`` (5050, 5150, 5250): agents take ``P+1`` .. ``P+20``
  and the registry ``P-50``, so a master never meets them;
* ZooKeeper server I serves clients on ``Z + I-1`` (2181, 2182, 2183), its followers talk to the
  leader on ``Z + 1000 + I-1`` (3181, ...) and the servers elect on ``Z + 2000 + I-1`` (4181, ...);
  with ``--tls`` it also serves TLS clients on ``Z + 3000 + I-1`` (5181, ...).
"""
from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
MASTER_PORT_STEP = 100
ZK_PEER_OFFSET = 1000
ZK_ELECTION_OFFSET = 2000
ZK_SECURE_OFFSET = 3000
FOUR_LETTER_WORDS = "ruok,stat,srvr,mntr,cons"


def master_ports(port: int, count: int) -> list[int]:
    """Master K's port: ``port + 100(K-1)``."""
    return [port + MASTER_PORT_STEP * (k - 1) for k in range(1, count + 1)]


def quorum(count: int) -> int:
    """The replicated log's quorum for ``count`` masters: a majority."""
    return count // 2 + 1


@dataclass(frozen=True)
class ZkServer:
    index: int
    client_port: int
    peer_port: int
    election_port: int
    host: str = HOST  # loopback, or with ``up --hosts`` the server's own host's address

    @property
    def address(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def secure_port(self) -> int:
        """The TLS client port (``up --tls``)."""
        return self.client_port + ZK_SECURE_OFFSET

    @property
    def secure_address(self) -> str:
        return f"{self.host}:{self.secure_port}"

    def ports(self, ensemble: bool) -> set[int]:
        return {self.client_port, self.peer_port, self.election_port} if ensemble else {self.client_port}


def zk_servers(zk_port: int, count: int, hosts: list[str] | None = None) -> list[ZkServer]:
    """Server I's ports (and address: ``hosts[I-1]``, loopback by default)."""
    return [ZkServer(i, zk_port + i - 1, zk_port + ZK_PEER_OFFSET + i - 1, zk_port + ZK_ELECTION_OFFSET + i - 1,
                     hosts[i - 1] if hosts else HOST)
            for i in range(1, count + 1)]


def zk_hosts(servers: Iterable[ZkServer]) -> str:
    """``H1:P1,H2:P2,...``: what a zk:// URL names."""
    return ",".join(s.address for s in servers)


def zk_secure_hosts(servers: Iterable[ZkServer]) -> str:
    """``H1:S1,H2:S2,...``: the TLS client ports (``up --tls``)."""
    return ",".join(s.secure_address for s in servers)


def zoo_tls_cfg(server: ZkServer, keystore: Path, ca: Path) -> list[str]:
    """The lines that add TLS clients on the server's secure port (ZooKeeper 3.5+: the Netty
    connection factory, PEM key and trust stores since 3.6), requiring a client certificate
    signed by ``ca``; the X.509 provider authenticates such a client as its certificate's
    subject (``x509:CN=...``), for ACLs. The plain port stays (Mesos' ZooKeeper client has no TLS)."""
    return [f"secureClientPort={server.secure_port}", f"secureClientPortAddress={HOST}",
            "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
            f"ssl.keyStore.location={keystore}", "ssl.keyStore.type=PEM",
            f"ssl.trustStore.location={ca}", "ssl.trustStore.type=PEM", "ssl.clientAuth=need",
            "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider"]


def zoo_cfg(server: ZkServer, servers: list[ZkServer], data_dir: Path, tls: list[str] | None = None) -> str:
    """One server's zoo.cfg. A single server is standalone (as before HA); in an ensemble each
    server also lists every member (``server.I=host:peer:election``) and has its ``myid`` file.
    ``srvr`` (and ``stat``, ``mntr``) are whitelisted: they tell a server's mode (leader, follower,
    standalone), which is how ``zk leader`` and ``status`` find the leader."""
    lines = ["tickTime=1000", "initLimit=10", "syncLimit=5", f"dataDir={data_dir}",
             f"clientPort={server.client_port}", f"clientPortAddress={server.host}",
             "admin.enableServer=false", f"4lw.commands.whitelist={FOUR_LETTER_WORDS}",
             "maxClientCnxns=0", "minSessionTimeout=2000", "maxSessionTimeout=60000"]
    if len(servers) > 1:
        lines += [f"server.{s.index}={s.host}:{s.peer_port}:{s.election_port}" for s in servers]
    lines += tls or []
    return "\n".join(lines) + "\n"


def srvr_mode(answer: str) -> str | None:
    """The ``Mode:`` line of a ``srvr`` answer (leader, follower, standalone, observer), or None
    when the server does not serve (no quorum: "This ZooKeeper instance is not currently serving
    requests")."""
    for line in answer.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def four_letter_word(host: str, port: int, word: str, timeout: float = 1.0) -> str:
    """Send a four-letter word to a ZooKeeper server; its whole answer ("" if it does not answer)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def zk_modes(servers: Iterable[ZkServer], ask: Callable[[str, int, str], str] = four_letter_word) -> dict[int, str | None]:
    """Each server's mode by its number (None: not serving)."""
    return {s.index: srvr_mode(ask(s.host, s.client_port, "srvr")) for s in servers}


def zk_leader(modes: dict[int, str | None]) -> int | None:
    """The leading server: the one whose mode is ``leader``, or the only one if it is standalone."""
    leaders = [i for i, mode in modes.items() if mode in ("leader", "standalone")]
    return leaders[0] if len(leaders) == 1 else None


def quorum_state(modes: dict[int, str | None]) -> str:
    """One line on ZooKeeper's quorum, e.g. ``quorum: 3 of 3 servers serving (a quorum is 2);
    leader zk2``."""
    count = len(modes)
    if count == 1:
        mode = next(iter(modes.values()))
        return f"quorum: standalone server {'serving' if mode else 'not serving'}"
    serving = sorted(i for i, mode in modes.items() if mode)
    needed = count // 2 + 1
    leader = zk_leader(modes)
    state = (f"leader zk{leader}, followers {', '.join(f'zk{i}' for i in serving if i != leader) or 'none'}"
             if leader and len(serving) >= needed else "NO QUORUM: ZooKeeper refuses every client")
    return f"quorum: {len(serving)} of {count} servers serving (a quorum is {needed}); {state}"


def parse_member(text: str | None, count: int, what: str) -> int | None:
    """The member number a command names: None when it names none (the command then takes the
    only one, or the leading one), else K in 1..count. Raises ValueError with a message that says
    what is allowed."""
    if text is None or text == "":
        return None
    try:
        k = int(text)
    except ValueError:
        raise ValueError(f"{what} number must be an integer 1..{count}, not {text!r}") from None
    if not 1 <= k <= count:
        raise ValueError(f"no {what} {k} ({what}s 1..{count})")
    return k
