"""Daemons started by minimesos: detached, logged, and remembered by PID *and* start time, so that
a recycled PID is never signalled. Standard library only."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, Mapping, Optional, Sequence


def start_time(pid: int) -> Optional[int]:
    """The process's start time in clock ticks since boot, or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":  # a zombie has finished
        return None
    return int(fields[19])


class Proc:
    """One daemon: how to start it, and its pid file (``{"pid": .., "start": ..}``)."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, pidfile: Path,
                 cwd: Optional[Path] = None):
        self.name, self.argv, self.env, self.log, self.pidfile, self.cwd = name, list(argv), dict(env), log, pidfile, cwd

    def recorded(self) -> Optional[tuple[int, int]]:
        try:
            data = json.loads(self.pidfile.read_text())
            return int(data["pid"]), int(data["start"])
        except (OSError, ValueError, KeyError):
            return None

    @property
    def pid(self) -> Optional[int]:
        """The PID if the recorded process still runs."""
        rec = self.recorded()
        if rec and start_time(rec[0]) == rec[1]:
            return rec[0]
        return None

    def alive(self) -> bool:
        return self.pid is not None

    def start(self) -> int:
        if self.alive():
            return self.pid  # type: ignore[return-value]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            out.write(f"=== minimesos: starting {self.name} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
            out.flush()
            proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=self.cwd, start_new_session=True)
        started = None
        for _ in range(100):
            started = start_time(proc.pid)
            if started is not None:
                break
            time.sleep(0.01)
        self.pidfile.write_text(json.dumps({"pid": proc.pid, "start": started or 0, "argv": self.argv}))
        return proc.pid

    def send(self, sig: int) -> bool:
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, sig)
            return True
        except ProcessLookupError:
            return False

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
        """Send ``sig``, wait up to ``timeout`` seconds, then SIGKILL. Forget the pid file."""
        rec = self.recorded()
        if rec and self.send(sig):
            if not wait_for(lambda: start_time(rec[0]) != rec[1], timeout):
                self.send(signal.SIGKILL)
                wait_for(lambda: start_time(rec[0]) != rec[1], 5)
        self.pidfile.unlink(missing_ok=True)


def wait_for(check: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``check`` until it is truthy or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001 - a check that cannot answer yet is a "no"
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def http_json(url: str, timeout: float = 2.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback URLs we build
        return json.load(resp)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def zk_ok(host: str, port: int) -> bool:
    """ZooKeeper's four-letter ``ruok`` answers ``imok`` when the server runs."""
    with socket.create_connection((host, port), timeout=1) as s:
        s.sendall(b"ruok")
        return s.recv(16) == b"imok"


def tcp_sockets() -> Iterator[tuple[str, int, str]]:
    """Every TCP socket on this machine as (local address, local port, state in hex: 0A LISTEN)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            addr, port = parts[1].split(":")
            if len(addr) == 8:
                ip = ".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                ip = "::"
            yield ip, int(port, 16), parts[3]


def listening_ports() -> set[tuple[str, int]]:
    """Every TCP (address, port) in LISTEN state on this machine."""
    return {(ip, port) for ip, port, state in tcp_sockets() if state == "0A"}
