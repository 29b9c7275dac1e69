"""A real HAProxy (Debian's ``haproxy`` 2.6), run in master-worker mode and reloaded gracefully.

:class:`HAProxyProcess` starts ``haproxy -W -db`` with a master CLI socket. A reload checks the
new configuration first (``haproxy -c``: a refused one leaves the running one alone), saves the
servers' health state (so a member HAProxy already found down stays down in the new workers),
replaces the file and sends SIGUSR2 to the master: the master re-executes itself, the new worker
takes the listening sockets over from the old one (``expose-fd listeners``: no connection is
refused meanwhile), and the old worker finishes its connections before it exits.
"""
from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import LoadBalancerError
from .render import needs_reload

log = logging.getLogger(__name__)

DEFAULT_BINARY = "haproxy"


def _ask(path: Path, command: str, timeout: float = 2.0) -> str:
    """One command on an HAProxy CLI socket; the whole answer ("" when nobody listens)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(command.encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)
            chunks: list[bytes] = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return b"".join(chunks).decode(errors="replace")
                chunks.append(chunk)
    except OSError:
        return ""


@dataclass(frozen=True)
class MasterView:
    """What the master CLI's ``show proc`` says: reloads so far, how many failed (the old
    workers then go on serving), and the pids of the workers of the current configuration."""

    reloads: int | None = None
    failed: int = 0
    workers: tuple[int, ...] = ()


def parse_show_proc(text: str) -> MasterView:
    """The master CLI's ``show proc`` -> :class:`MasterView`."""
    reloads: int | None = None
    failed = 0
    workers: list[int] = []
    section = "master"
    for line in text.splitlines():
        if line.startswith("#"):
            section = "old" if "old" in line else ("workers" if "worker" in line else section)
            continue
        parts = line.split()
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        if parts[1] == "master" and parts[2].isdigit():
            reloads = int(parts[2])
            match = re.search(r"\[failed: (\d+)\]", line)
            failed = int(match.group(1)) if match else 0
        elif parts[1] == "worker" and section == "workers":
            workers.append(int(parts[0]))
    return MasterView(reloads, failed, tuple(workers))


class HAProxyProcess:
    """One HAProxy master (and its workers) serving the configuration in ``run_dir/haproxy.cfg``."""

    def __init__(self, run_dir: str | Path, binary: str = DEFAULT_BINARY, ready_timeout: float = 20.0):
        self.run_dir = Path(run_dir)
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.config_path = self.run_dir / "haproxy.cfg"
        self.master_socket = self.run_dir / "master.sock"
        self.stats_socket = self.run_dir / "haproxy.sock"
        self.state_path = self.run_dir / "server-state"
        self.proc: subprocess.Popen | None = None
        self.reloads = 0
        self.failed = 0
        self.running_config: str | None = None

    def check(self, text: str) -> None:
        """Raise LoadBalancerError with HAProxy's own words when it would refuse ``text``."""
        candidate = self.run_dir / "haproxy.cfg.new"
        candidate.write_text(text)
        done = subprocess.run([self.binary, "-c", "-q", "-f", str(candidate)], capture_output=True, text=True)
        if done.returncode != 0:
            raise LoadBalancerError(f"HAProxy refuses the configuration: {(done.stderr or done.stdout).strip()}")

    def start(self, text: str) -> None:
        """Start HAProxy on ``text``; returns once a worker serves it."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.check(text)
        os.replace(self.run_dir / "haproxy.cfg.new", self.config_path)
        log_file = open(self.run_dir / "haproxy.log", "ab")
        self.proc = subprocess.Popen([self.binary, "-W", "-db", "-f", str(self.config_path),
                                      "-S", f"{self.master_socket},mode,600"],
                                     stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log_file.close()
        self._wait_for(0)
        self.running_config = text

    def reload(self, text: str) -> None:
        """Serve ``text`` instead, gracefully (see the module's docstring); returns once the new
        worker serves it. A refused configuration raises LoadBalancerError and changes nothing."""
        if self.proc is None or self.proc.poll() is not None:
            raise LoadBalancerError("HAProxy is not running")
        self.check(text)
        self._save_server_state()
        os.replace(self.run_dir / "haproxy.cfg.new", self.config_path)
        os.kill(self.proc.pid, signal.SIGUSR2)
        self.reloads += 1
        self._wait_for(self.reloads)
        self.running_config = text

    def apply(self, text: str) -> bool:
        """Start (again, if HAProxy exited), or reload when ``text`` differs from what runs; True
        when it did either."""
        if self.proc is None or self.proc.poll() is not None:
            self.start(text)
            return True
        if not needs_reload(self.running_config, text):
            return False
        self.reload(text)
        return True

    def workers(self) -> tuple[int, ...]:
        """The pids of the workers serving the current configuration."""
        return parse_show_proc(_ask(self.master_socket, "show proc")).workers

    def stop(self) -> None:
        """Stop the master and its workers (SIGUSR1: a soft stop, then SIGKILL after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGUSR1)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def _save_server_state(self) -> None:
        state = _ask(self.stats_socket, "show servers state")
        if state.strip():
            self.state_path.write_text(state)

    def _wait_for(self, reloads: int) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise LoadBalancerError(f"HAProxy exited with status {self.proc.returncode}; "
                                        f"see {self.run_dir / 'haproxy.log'}")
            view = parse_show_proc(_ask(self.master_socket, "show proc"))
            if view.reloads == reloads and view.failed > self.failed:
                self.failed = view.failed
                raise LoadBalancerError(f"HAProxy could not load the new configuration (the previous one goes on "
                                        f"serving); see {self.run_dir / 'haproxy.log'}")
            if view.reloads == reloads and view.workers:
                return
            time.sleep(0.05)
        raise LoadBalancerError(f"HAProxy did not serve its configuration within {self.ready_timeout:g} s "
                                f"(reload {reloads}); see {self.run_dir / 'haproxy.log'}")
