"""Readiness checks (Marathon's ``readinessChecks``): which tasks to check now, and their results.

A task of an app's current config is checked once it runs (and is healthy, when the app has a
health check), every ``intervalSeconds``, until it is ready; the scheduler performs each check
(a ``CheckReadiness`` instruction) and answers with a ``ReadinessChecked`` event. The results are
kept for the API (``?embed=app.readiness``); whether a task is ready is on its record.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .app_records import AppRecord, TaskRecord
from .messages import CheckReadiness, ReadinessChecked
from .readiness import healthy


@dataclass(frozen=True)
class ReadinessResult:
    """The last answer of a task's readiness check."""

    name: str
    task_id: str
    ready: bool
    status: int | None
    body: str | None


class ReadinessProbes:
    """When each task is due for its next check, and the last result of each."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}   # task id -> when it may be checked again
        self.results: dict[str, ReadinessResult] = {}

    def due(self, apps: Iterable[AppRecord], tasks_of, now: float) -> list[CheckReadiness]:
        """The checks to perform now."""
        out = []
        for app in apps:
            spec = app.spec
            if not spec.readiness_checks or app.deleting:
                continue
            check = spec.readiness_checks[0]
            for task in tasks_of(app.app_id):
                if (task.ready or not task.running or task.config_version != app.config_version
                        or not healthy(spec, task) or self._next.get(task.task_id, 0.0) > now):
                    continue
                port = spec.readiness_port(task.ports)
                if port is None:
                    continue
                scheme = "https" if check.protocol == "HTTPS" else "http"
                out.append(CheckReadiness(task.task_id, f"{scheme}://{task.hostname}:{port}{check.path}",
                                          check.timeout_seconds, tuple(check.http_status_codes_for_ready),
                                          check.preserve_last_response))
                self._next[task.task_id] = now + check.interval_seconds
        return out

    def answered(self, event: ReadinessChecked, task: TaskRecord | None, app: AppRecord | None
                 ) -> TaskRecord | None:
        """Record an answer; the task's record if its readiness changed (to persist), else None."""
        if task is None or app is None or not app.spec.readiness_checks:
            self.forget(event.task_id)
            return None
        self.results[task.task_id] = ReadinessResult(app.spec.readiness_checks[0].name, task.task_id, event.ready,
                                                     event.status, event.body)
        return task.evolve(ready=event.ready) if task.ready != event.ready else None

    def forget(self, task_id: str) -> None:
        self._next.pop(task_id, None)
        self.results.pop(task_id, None)
