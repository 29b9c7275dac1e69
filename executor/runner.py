"""Run one job to completion: a process group, a timeout, a kill with a grace period. No Mesos."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """How a job ended: its exit code or the signal that ended it, and why, if we ended it."""

    exit_code: int | None
    signal: int | None
    timed_out: bool = False
    killed: bool = False
    runtime: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.killed

    def message(self, timeout: float | None = None) -> str:
        if self.timed_out:
            return f"timed out after {timeout:g}s" if timeout else "timed out"
        if self.killed:
            return "killed"
        if self.signal is not None:
            return f"killed by signal {self.signal} ({signal.Signals(self.signal).name})"
        return f"exited with status {self.exit_code}"


class JobRunner:
    """One job's process. ``start``, then ``wait``; ``kill`` may come from another thread."""

    def __init__(self, command: str | Sequence[str], env: Mapping[str, str] | None = None,
                 cwd: str | None = None, timeout: float | None = None, grace: float = 3.0,
                 stdout: str | None = None, stderr: str | None = None):
        self.command, self.env, self.cwd = command, dict(env or {}), cwd
        self.timeout, self.grace = timeout, grace
        self.stdout_path, self.stderr_path = stdout, stderr
        self.proc: subprocess.Popen | None = None
        self._killed = self._timed_out = False
        self._started = 0.0
        self._lock = threading.Lock()

    def start(self) -> int:
        out = open(self.stdout_path, "ab") if self.stdout_path else None
        err = open(self.stderr_path, "ab") if self.stderr_path else None
        try:
            self.proc = subprocess.Popen(self.command, shell=isinstance(self.command, str), env=self.env or None,
                                         cwd=self.cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         start_new_session=True)  # its own process group: kill it whole
        finally:
            for f in (out, err):
                if f is not None:
                    f.close()
        self._started = time.monotonic()
        return self.proc.pid

    def wait(self) -> Outcome:
        assert self.proc is not None, "start() first"
        try:
            code = self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with self._lock:
                self._timed_out = True
            self._terminate()
            code = self.proc.wait()
        runtime = time.monotonic() - self._started
        self._reap_group()
        with self._lock:
            killed, timed_out = self._killed, self._timed_out
        if code < 0:
            return Outcome(None, -code, timed_out, killed and not timed_out, runtime)
        return Outcome(code, None, timed_out, killed and not timed_out, runtime)

    def kill(self, grace: float | None = None) -> None:
        """SIGTERM to the process group, SIGKILL after the grace period (from any thread)."""
        with self._lock:
            self._killed = True
        self._terminate(grace)

    def _terminate(self, grace: float | None = None) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=self.grace if grace is None else grace)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)  # type: ignore[union-attr]  # called once the process runs
        except ProcessLookupError:
            pass

    def _reap_group(self) -> None:
        """Children the job left behind in its group do not outlive it."""
        self._signal_group(signal.SIGKILL)
