"""Following a deployment from the command line: a progress bar (or plain lines), then its end.

A line that does not move says why: once :data:`QUIET_SECONDS` passed without progress, it names
the reasons the app's instances wait (``GET /v1/apps/{id}/placement``: ``0/2 running (waiting:
insufficient cpus (needs 64) on 3 of 3 agents)``), and names them anew when they change.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import click

from .client import ApiError, Client

#: Seconds without progress after which a waiting line names why instances wait.
QUIET_SECONDS = 3.0


class WaitingWatch:
    """When to tell why instances wait: once ``quiet`` seconds (:data:`QUIET_SECONDS`) passed
    without progress, and from then on whatever waits now (so a change is told at once);
    progress (a new figure) starts the quiet spell anew."""

    def __init__(self, quiet: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.quiet = QUIET_SECONDS if quiet is None else quiet
        self.clock = clock
        self.made: Hashable = None
        self.since = clock()

    def waiting(self, made: Hashable, reasons: Sequence[str]) -> list[str] | None:
        """The reasons to tell now (None: none yet), given the figures ``made`` so far and the
        reasons instances wait now."""
        now = self.clock()
        if made != self.made:
            self.made, self.since = made, now
        return list(reasons) if reasons and now - self.since >= self.quiet else None


def waiting_note(reasons: Sequence[str] | None) -> str:
    """``waiting: A; B`` (empty without reasons)."""
    return "waiting: " + "; ".join(reasons) if reasons else ""


class Progress:
    """A progress bar on a terminal, plain lines (on change) otherwise."""

    def __init__(self, total: int, tty: bool):
        self.total, self.tty = total, tty
        self.last: str | None = None

    def show(self, running: int, healthy: int | None, note: str) -> None:
        text = f"{running}/{self.total} running" + (f", {healthy} healthy" if healthy is not None else "")
        if note:
            text += f" ({note})"
        if self.tty:
            width = 30
            done = int(width * running / max(self.total, 1))
            click.echo(f"\r[{'#' * done}{'.' * (width - done)}] {text}\x1b[K", nl=False, err=True)
        elif text != self.last:
            click.echo(text, err=True)
        self.last = text

    def end(self) -> None:
        if self.tty:
            click.echo("", err=True)


def follow(client: Client, app_id: str, deployment_id: str, total: int, checked: bool, timeout: float,
           poll: float = 0.5, rollback_on_timeout: bool = True) -> tuple[int, dict[str, Any], list[str]]:
    """Watch a deployment until it ends, showing progress; return (0 succeeded | 1 failed | 2 timed out,
    the deployment, the last reasons its instances waited for). A deployment still running at the
    timeout is cancelled (rolled back) if ``rollback_on_timeout``, else left running."""
    progress = Progress(total, sys.stderr.isatty())
    deadline = time.monotonic() + timeout
    reasons: list[str] = []
    watch = WaitingWatch()
    while True:
        try:
            deployment = client.get(f"/v2/deployments/{deployment_id}")
            app = client.app(app_id) or {"tasksRunning": 0, "tasksHealthy": 0}
            now = client.get(f"/v1/apps{app_id}/placement")["reasons"] if "id" in app else []
            reasons = now or reasons
        except ApiError as exc:
            if not exc.transient or time.monotonic() >= deadline:
                raise
            time.sleep(poll)  # a failover: the next leader answers soon
            continue
        failures = len(deployment["failures"])
        told = watch.waiting((app["tasksRunning"], app["tasksHealthy"], failures), now)
        notes = [f"{failures} failed start(s)" if failures else "", waiting_note(told)]
        progress.show(app["tasksRunning"], app["tasksHealthy"] if checked else None, ", ".join(n for n in notes if n))
        if deployment["status"] != "running":
            progress.end()
            return (0 if deployment["status"] == "succeeded" else 1), deployment, reasons
        if time.monotonic() >= deadline:
            progress.end()
            if rollback_on_timeout:
                client.request("DELETE", f"/v2/deployments/{deployment_id}")
                deployment = client.get(f"/v2/deployments/{deployment_id}")
            return 2, deployment, reasons
        time.sleep(poll)
