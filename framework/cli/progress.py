"""Following a deployment from the command line: a progress bar (or plain lines), then its end."""
from __future__ import annotations

import sys
import time
from typing import Any

import click

from .client import ApiError, Client


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
    while True:
        try:
            deployment = client.get(f"/v2/deployments/{deployment_id}")
            app = client.app(app_id) or {"tasksRunning": 0, "tasksHealthy": 0}
            if "id" in app:
                reasons = client.get(f"/v1/apps{app_id}/placement")["reasons"] or reasons
        except ApiError as exc:
            if not exc.transient or time.monotonic() >= deadline:
                raise
            time.sleep(poll)  # a failover: the next leader answers soon
            continue
        failures = len(deployment["failures"])
        progress.show(app["tasksRunning"], app["tasksHealthy"] if checked else None,
                      f"{failures} failed start(s)" if failures else "")
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
