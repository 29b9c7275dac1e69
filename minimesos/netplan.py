"""The hosts of ``minimesos/up --hosts`` on paper: their names, addresses and interface names, what
``net cut A B`` means host by host, and the iptables rules that make it so. Pure functions (nothing
is started or changed here), so that they are unit-tested. Standard library only.

Addresses come from 198.18.0.0/15 (RFC 2544's range for network test beds). Each cluster takes one
/24 of it, chosen by its master port (``--port``), so that two clusters (a developer's and a
test's) never share a subnet: subnet index ``port % 512``, i.e. ``198.18.0.0 + 256 * index``.
In that /24:

* ``.1`` is the bridge's own address in the root namespace (tests, a browser, the registry);
* master K is ``.10+K``, ZooKeeper server I ``.20+I``, agent K ``.100+K``;
* hosts added with ``minimesos/host add`` take ``.200``, ``.201``, ... (up to ``.254``).

Names: namespace ``mm<port>-<host>``, bridge ``mm<port>br``, the root side of host N's veth pair
``mm<port>v<N>`` (Linux allows 15 characters), its namespace side ``eth0``.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

SUPERNET = ipaddress.ip_network("198.18.0.0/15")
SUBNETS = SUPERNET.num_addresses // 256  # 512 /24s
ROLES = {"masters": "master", "zks": "zk", "agents": "agent"}
CHAIN = "MINIMESOS"  # the chain in each host's filter table that holds its cuts
MASTER_BASE, ZK_BASE, AGENT_BASE, EXTRA_FIRST, EXTRA_LAST = 10, 20, 100, 200, 254
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_RESERVED = re.compile(r"^(master|zk|agent)[0-9]+$|^(all|masters|zks|agents)$")


@dataclass(frozen=True)
class Host:
    """One host: a network namespace with one address on the cluster's bridge."""
    name: str
    role: str  # master, zk, agent, extra
    address: str
    ordinal: int  # its veth's number (unique in the cluster)


def subnet(port: int) -> ipaddress.IPv4Network:
    """The cluster's /24, from its master port."""
    base = int(SUPERNET.network_address) + 256 * (port % SUBNETS)
    return ipaddress.IPv4Network((base, 24))


def gateway(port: int) -> str:
    """The bridge's address in the root namespace (``.1``)."""
    return str(subnet(port).network_address + 1)


def _addr(port: int, last: int) -> str:
    return str(subnet(port).network_address + last)


def plan(port: int, masters: int, zookeepers: int, agents: int) -> list[Host]:
    """Every host ``up --hosts`` makes: master1.., zk1.., agent1.. (each role numbered from 1)."""
    if not 1 <= masters <= 9 or not 1 <= zookeepers <= 9 or not 1 <= agents <= EXTRA_FIRST - AGENT_BASE - 1:
        raise ValueError(f"too many members for one /24: {masters} masters, {zookeepers} zookeepers, {agents} agents")
    hosts = [Host(f"master{k}", "master", _addr(port, MASTER_BASE + k), 0) for k in range(1, masters + 1)]
    hosts += [Host(f"zk{i}", "zk", _addr(port, ZK_BASE + i), 0) for i in range(1, zookeepers + 1)]
    hosts += [Host(f"agent{k}", "agent", _addr(port, AGENT_BASE + k), 0) for k in range(1, agents + 1)]
    return [Host(h.name, h.role, h.address, n) for n, h in enumerate(hosts, start=1)]


def check_name(name: str, hosts: Iterable[Host]) -> None:
    """An added host's name: lower-case letters, digits and '-', starting with a letter, at most 20
    characters; not a member's name or a role's, and not taken. Raises ValueError saying why."""
    if not _NAME.match(name):
        raise ValueError(f"host name {name!r}: use a-z, 0-9 and '-', starting with a letter, at most 20 characters")
    if _RESERVED.match(name):
        raise ValueError(f"host name {name!r} is reserved (masterK, zkI, agentK, all, masters, zks, agents)")
    if any(h.name == name for h in hosts):
        raise ValueError(f"host {name!r} exists already")


def extra(port: int, name: str, hosts: list[Host]) -> Host:
    """The next added host: the first free address from ``.200``."""
    check_name(name, hosts)
    used = {h.address for h in hosts}
    for last in range(EXTRA_FIRST, EXTRA_LAST + 1):
        if _addr(port, last) not in used:
            return Host(name, "extra", _addr(port, last), max((h.ordinal for h in hosts), default=0) + 1)
    raise ValueError(f"no address left for host {name!r} (.{EXTRA_FIRST}-.{EXTRA_LAST} are taken)")


def netns(port: int, host: str) -> str:
    return f"mm{port}-{host}"


def bridge(port: int) -> str:
    return f"mm{port}br"


def veth(port: int, ordinal: int) -> str:
    name = f"mm{port}v{ordinal}"
    if len(name) > 15:
        raise ValueError(f"interface name {name!r} is longer than Linux's 15 characters")
    return name


def expand(what: str, hosts: Iterable[Host]) -> list[str]:
    """The hosts ``what`` names: a host, a role (``masters``, ``zks``, ``agents``) or ``all``."""
    hosts = list(hosts)
    if what == "all":
        return [h.name for h in hosts]
    if what in ROLES:
        return [h.name for h in hosts if h.role == ROLES[what]]
    if any(h.name == what for h in hosts):
        return [what]
    raise ValueError(f"no host or role {what!r} (hosts: {', '.join(h.name for h in hosts)}; "
                     f"roles: {', '.join(ROLES)}, all)")


def pairs(a: str, b: str, hosts: Iterable[Host]) -> set[tuple[str, str]]:
    """The host pairs ``net cut A B`` separates: every host of A with every host of B, but never a
    host with itself (``cut masters masters`` splits the masters from one another). Each pair is
    sorted. Raises ValueError when A or B names nothing, or when no pair is left."""
    hosts = list(hosts)
    left, right = expand(a, hosts), expand(b, hosts)
    found = {tuple(sorted((x, y))) for x in left for y in right if x != y}
    if not found:
        raise ValueError(f"{a!r} and {b!r} name the same single host: nothing to cut")
    return found  # type: ignore[return-value]


def rules(host: str, cut: Iterable[tuple[str, str]], addresses: dict[str, str]) -> list[list[str]]:
    """The iptables rules of ``host``'s MINIMESOS chain for the pairs cut: every packet to or from
    a host it is cut from is dropped (both ways, since each side drops)."""
    peers = sorted({y if x == host else x for x, y in cut if host in (x, y)}, key=lambda n: ipaddress.ip_address(addresses[n]))
    out: list[list[str]] = []
    for peer in peers:
        out.append(["-A", CHAIN, "-s", f"{addresses[peer]}/32", "-j", "DROP"])
        out.append(["-A", CHAIN, "-d", f"{addresses[peer]}/32", "-j", "DROP"])
    return out


def restore_input(chain_rules: list[list[str]]) -> str:
    """``iptables-restore --noflush`` input that empties the MINIMESOS chain and fills it with
    ``chain_rules`` in one transaction (the host's other chains are left as they are)."""
    lines = ["*filter", f"-F {CHAIN}", *(" ".join(rule) for rule in chain_rules), "COMMIT"]
    return "\n".join(lines) + "\n"


def parse_seconds(text: str | None) -> float | None:
    """``--for SECONDS``: a positive number of seconds (at most a day), or None when not given."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--for must be a number of seconds, not {text!r}") from None
    if not 0 < value <= 86400:
        raise ValueError(f"--for must be between 0 and 86400 seconds, not {text}")
    return value
