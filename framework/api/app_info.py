"""An app as Marathon shows it (its ``AppInfo``): the definition, plus what the request embeds
(:mod:`.app_filters`): task counts, tasks, deployments, readiness results, the last task failure
and task statistics by version.

``taskStats`` is rendered under that name, as Marathon 1.4 and its documentation named it and as
marathon-python reads it; Marathon 1.5+ renamed it ``tasksStats`` by accident (MARATHON-8761),
which breaks that client.
"""
from __future__ import annotations

from collections.abc import Callable, Set
from typing import Any

from ..engine.app_records import AppRecord, TaskFailure, TaskRecord
from ..engine.view import EngineView
from ..timestamps import iso
from .app_filters import COUNTS, DEPLOYMENTS, HALYARD, LAST_FAILURE, READINESS, TASK_STATS, TASKS
from .deployments import readiness_json
from .tasks import task_json
from .versions import version_json

STAGED = ("TASK_LAUNCHING", "TASK_STAGING", "TASK_STARTING")


def failure_json(failure: TaskFailure) -> dict[str, Any]:
    """Marathon's ``lastTaskFailure``."""
    return {"appId": failure.app_id, "host": failure.host, "message": failure.message, "state": failure.state,
            "taskId": failure.task_id, "timestamp": iso(failure.at), "version": iso(failure.version),
            "slaveId": failure.agent_id}


def task_counts(tasks: list[TaskRecord]) -> dict[str, int]:
    """Staged, running, healthy and unhealthy tasks (healthy or not: running ones whose check answered)."""
    staged = running = healthy = unhealthy = 0
    for t in tasks:   # one pass (/v2/apps counts every app's tasks under the engine lock)
        state = t.state
        if state == "TASK_RUNNING":
            running += 1
            if t.healthy is True:
                healthy += 1
            elif t.healthy is False:
                unhealthy += 1
        elif state in STAGED:
            staged += 1
    return {"staged": staged, "running": running, "healthy": healthy, "unhealthy": unhealthy}


def task_stats(app: AppRecord, tasks: list[TaskRecord], now: float) -> dict[str, Any]:
    """Marathon's ``TaskStatsByVersion``: counts and life times (seconds since started) of all tasks,
    those started since the last change (``lastScalingAt``), and those of the current and of older
    configs. A group without tasks is left out, as Marathon leaves it out."""
    groups: dict[str, Callable[[TaskRecord], bool]] = {
        "startedAfterLastScaling": lambda t: t.staged_at >= app.version,
        "withLatestConfig": lambda t: t.config_version >= app.config_version,
        "withOutdatedConfig": lambda t: t.config_version < app.config_version,
        "totalSummary": lambda t: True,
    }
    out: dict[str, Any] = {}
    for name, chosen in groups.items():
        some = [t for t in tasks if chosen(t)]
        if not some:
            continue
        stats: dict[str, Any] = {"counts": task_counts(some)}
        lives = sorted(now - t.started_at for t in some if t.started_at is not None)
        if lives:
            stats["lifeTime"] = {"averageSeconds": sum(lives) / len(lives), "medianSeconds": lives[len(lives) // 2]}
        out[name] = {"stats": stats}
    return out


def app_info_json(view: EngineView, app: AppRecord, embeds: Set[str]) -> dict[str, Any]:
    """The app's definition (Marathon's fields; Halyard's too with the ``halyard`` embed), versions,
    and what ``embeds`` asks for."""
    tasks = view.tasks_of(app.app_id)
    data = version_json(app.spec, app.version, HALYARD in embeds)
    data["versionInfo"] = {"lastScalingAt": iso(app.version), "lastConfigChangeAt": iso(app.config_version)}
    if COUNTS in embeds:
        counts = task_counts(tasks)
        data.update({"tasksStaged": counts["staged"], "tasksRunning": counts["running"],
                     "tasksHealthy": counts["healthy"], "tasksUnhealthy": counts["unhealthy"]})
    if DEPLOYMENTS in embeds:
        data["deployments"] = [{"id": d.id} for d in view.deployments_of(app.app_id)]
    if READINESS in embeds:
        data["readinessCheckResults"] = [readiness_json(r) for r in view.readiness_results(app.app_id)]
    if TASKS in embeds:
        data["tasks"] = [task_json(t, app) for t in tasks]
    if LAST_FAILURE in embeds and app.last_failure:
        data["lastTaskFailure"] = failure_json(app.last_failure)
    if TASK_STATS in embeds:
        data["taskStats"] = task_stats(app, tasks, view.now())
    return data


def legacy_embeds(embed_tasks: bool, readiness: bool, halyard: bool = False) -> frozenset[str]:
    """What :func:`app_json`'s older flags meant: counts, deployments and the last failure, with
    tasks, readiness results and Halyard's fields if asked."""
    return frozenset({COUNTS, DEPLOYMENTS, LAST_FAILURE} | ({TASKS} if embed_tasks else set())
                     | ({READINESS} if readiness else set()) | ({HALYARD} if halyard else set()))


__all__ = ["app_info_json", "failure_json", "legacy_embeds", "task_counts", "task_stats"]
