"""Keeping the agents' task ports out of the kernel's ephemeral range.

Linux hands out ports 32768-60999 to outgoing connections and to ``bind(port 0)``; most task port
ranges here (31000-33999 for the shared cluster, the private clusters' 41000.. and 50000..) overlap
it. A task that binds its offered port on every address then fails (``EADDRINUSE``) whenever an
unrelated socket happens to hold that port, and since the lowest free port is offered again, every
retry on that agent fails the same way. As Mesos' docs advise for the ``ports`` resource, ``up``
adds the agents' ranges to ``net.ipv4.ip_local_reserved_ports`` (which the kernel also applies to
IPv6). ``down`` leaves them reserved: clusters on other run dirs may share a range (the reservation
only keeps the kernel from lending those ports out), and the next ``up`` finds them in place.
Without the right to write it (a container without privileges), ``up`` says so and goes on. A
reservation does not reach a socket that holds a port already: ``up`` names those ports.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from procs import tcp_sockets

SYSCTL = Path("/proc/sys/net/ipv4/ip_local_reserved_ports")


def task_port_ranges(resources: Iterable[str]) -> set[int]:
    """Every port of the ``ports:[a-b,c-d]`` parts of Mesos resource strings."""
    ports: set[int] = set()
    for text in resources:
        for body in re.findall(r"ports(?:\([^)]*\))?:\[([^\]]*)\]", text):
            ports |= parse(body)
    return ports


def parse(value: str) -> set[int]:
    """The kernel's format: ``8080,31000-33999`` (empty when nothing is reserved)."""
    ports: set[int] = set()
    for part in value.strip().split(","):
        if part.strip():
            low, _, high = part.strip().partition("-")
            ports.update(range(int(low), int(high or low) + 1))
    return ports


def render(ports: set[int]) -> str:
    """``parse``'s inverse, as compact ranges."""
    ranges: list[list[int]] = []
    for port in sorted(ports):
        if ranges and port == ranges[-1][1] + 1:
            ranges[-1][1] = port
        else:
            ranges.append([port, port])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)


def _write(ports: set[int], sysctl: Path) -> str:
    try:
        sysctl.write_text(render(ports) + "\n")
    except OSError as exc:
        return f"cannot reserve the task ports in {sysctl} ({exc.strerror}); a task may find its port taken"
    return ""


def reserve(ports: set[int], sysctl: Path = SYSCTL) -> str:
    """Add ``ports`` to the reserved ones; an empty string, or why it could not."""
    try:
        current = parse(sysctl.read_text())
    except OSError as exc:
        return f"cannot read {sysctl} ({exc.strerror}); a task may find its port taken"
    return "" if ports <= current else _write(current | ports, sysctl)


def held(ports: set[int]) -> list[int]:
    """Which of ``ports`` a TCP socket holds now (listening or connected, any address)."""
    return sorted({port for _, port, _ in tcp_sockets()} & ports)
