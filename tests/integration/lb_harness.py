"""What the load balancer's integration tests share: a ``halyard lb`` process, HAProxy's view of
its backends, ServerSet members written by hand, and a steady client counting failures."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Optional

from kazoo.client import KazooClient

from halyard.store.serverset_format import MEMBER_PREFIX, member_body, member_path

from .harness import HALYARD
from .v1client import until


class LbProc:
    """``halyard lb`` against a scheduler's API and ZooKeeper chroot, HAProxy in ``run_dir``."""

    def __init__(self, api: str, zk: str, run_dir: Path, *extra: str):
        self.run_dir = run_dir
        self.argv = [HALYARD, "lb", "--api", api, "--zk", zk, "--run-dir", str(run_dir), *extra]
        self.log = run_dir.parent / f"{run_dir.name}.log"
        self.proc: Optional[subprocess.Popen] = None

    def start(self, env: Optional[dict[str, str]] = None) -> "LbProc":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env=env)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def servers(self, backend: str) -> dict[str, tuple[str, bool]]:
        """HAProxy's servers of ``backend`` in its current worker: name -> ("host:port", up)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(self.run_dir / "haproxy.sock"))
            sock.sendall(b"show servers state\n")
            sock.shutdown(socket.SHUT_WR)
            text = b""
            while chunk := sock.recv(65536):
                text += chunk
        out = {}
        for line in text.decode().splitlines():
            parts = line.split()
            if len(parts) > 18 and parts[1] == backend:
                out[parts[3]] = (f"{parts[4]}:{parts[18]}", parts[5] == "2")
        return out

    def up(self, backend: str) -> set[str]:
        """The ``host:port`` of the servers HAProxy has up in ``backend``."""
        return {addr for addr, up in self.servers(backend).values() if up}


class Announcer:
    """ServerSet members written by hand, in the format the scheduler writes them."""

    def __init__(self, zk_hosts: str, base: str = "/discovery"):
        self.client = KazooClient(hosts=zk_hosts)
        self.client.start(timeout=15)
        self.base = base

    def announce(self, app_id: str, host: str, port: int, shard: int) -> str:
        return self.client.create(f"{member_path(self.base, app_id)}/{MEMBER_PREFIX}", member_body(host, port, shard),
                                  sequence=True, makepath=True)

    def withdraw(self, path: str) -> None:
        self.client.delete(path)

    def members(self, app_id: str) -> dict[str, dict]:
        path = member_path(self.base, app_id)
        if not self.client.exists(path):
            return {}
        return {name: json.loads(self.client.get(f"{path}/{name}")[0])
                for name in self.client.get_children(path) if name.startswith(MEMBER_PREFIX)}

    def close(self) -> None:
        if self.client.exists(self.base):
            self.client.delete(self.base, recursive=True)
        self.client.stop()
        self.client.close()


class SteadyClient:
    """~``rate`` requests a second to ``http://127.0.0.1:port/``, each on a new connection (so a
    reload's old worker can close nothing under it), counted per phase; a request fails on any
    error or a status other than 200."""

    def __init__(self, port: int, rate: float = 20.0, timeout: float = 2.0):
        self.port, self.interval, self.timeout = port, 1.0 / rate, timeout
        self.phase = "start"
        self.sent: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.errors: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "SteadyClient":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def set_phase(self, name: str) -> None:
        self.phase = name

    def counts(self) -> dict[str, tuple[int, int]]:
        return {phase: (self.sent[phase], self.failed[phase]) for phase in self.sent}

    def _one(self) -> Optional[str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request("GET", "/", headers={"Connection": "close"})
            resp = conn.getresponse()
            resp.read()
            return None if resp.status == 200 else f"HTTP {resp.status}"
        except (OSError, http.client.HTTPException) as exc:
            return repr(exc)
        finally:
            conn.close()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            phase = self.phase
            error = self._one()
            self.sent[phase] += 1
            if error is not None:
                self.failed[phase] += 1
                self.errors.append((phase, error))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))


def wait_served(lb: LbProc, backend: str, expected: set[str], timeout: float = 30) -> None:
    until(lambda: lb.up(backend) == expected, timeout, what=f"HAProxy's {backend} serves exactly {sorted(expected)}")
