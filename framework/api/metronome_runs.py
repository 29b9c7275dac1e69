"""Metronome's job runs, history and error bodies (``dcos/metronome``'s v1 JobRun, JobRunTask,
JobHistory, ErrorDetail), written from Halyard's runs. The one owner of that JSON.

A run's status, from Halyard's:

==============================================  =======================================
Halyard                                         Metronome
==============================================  =======================================
QUEUED (persisted, waiting for an offer or its  STARTING ("persisted and on the launch
retry backoff)                                  queue"; Halyard answers once persisted,
                                                so INITIAL is never shown)
STARTING with no word from the agent yet        STARTING
STARTING (TASK_STAGING, TASK_STARTING), RUNNING ACTIVE
FINISHED                                        SUCCESS
FAILED, KILLED                                  FAILED (Metronome's stop fails the run)
==============================================  =======================================

A task's status is Metronome's TaskState name: TASK_CREATED (launched, no update yet),
TASK_STAGING, TASK_STARTING, TASK_RUNNING (also while it is being killed), TASK_FINISHED,
TASK_KILLED, and TASK_FAILED for every other end (failed, error, lost, gone, dropped,
unreachable), as Metronome maps Mesos' states.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.responses import JSONResponse

from ..errors import Problem
from ..jobs.records import FINISHED, RUNNING, STARTING, JobRecord, RunRecord
from .metronome_jobs import metronome_time

_TASK_STATES = {"TASK_LAUNCHING": "TASK_CREATED", "TASK_STAGING": "TASK_STAGING", "TASK_STARTING": "TASK_STARTING",
                "TASK_RUNNING": "TASK_RUNNING", "TASK_KILLING": "TASK_RUNNING", "TASK_FINISHED": "TASK_FINISHED",
                "TASK_KILLED": "TASK_KILLED"}
_ENDED = frozenset({"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
                    "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"})


def run_status(run: RunRecord) -> str:
    """The run's status as Metronome names it (see the table above)."""
    if run.status == FINISHED:
        return "SUCCESS"
    if not run.active:
        return "FAILED"
    if run.status == RUNNING or (run.status == STARTING and run.task_state not in (None, "TASK_LAUNCHING")):
        return "ACTIVE"
    return "STARTING"


def task_status(state: str | None) -> str:
    """A Mesos task state as Metronome's TaskState name."""
    if state is None:
        return "TASK_CREATED"
    return _TASK_STATES.get(state, "TASK_FAILED")


def run_tasks(run: RunRecord) -> list[dict[str, Any]]:
    """Every task launched for the run: ``{id, startedAt, completedAt, status}``, from its history."""
    tasks: dict[str, dict[str, Any]] = {}
    for entry in run.history:
        task_id = entry.get("taskId")
        if not task_id:
            continue
        task = tasks.setdefault(task_id, {"id": task_id, "startedAt": metronome_time(entry["time"]),
                                          "completedAt": None, "status": "TASK_CREATED"})
        state = entry.get("taskState")
        if state is not None and not entry.get("killing"):
            task["status"] = task_status(state)
            if state in _ENDED and task["completedAt"] is None:
                task["completedAt"] = metronome_time(entry["time"])
    if run.task_id in tasks and run.task_state is not None:   # the current task, as last heard of
        tasks[run.task_id]["status"] = task_status(run.task_state)
    return list(tasks.values())


def run_json(run: RunRecord) -> dict[str, Any]:
    """A run as Metronome's JobRun."""
    return {"id": run.run_id, "jobId": run.job_id, "status": run_status(run), "createdAt": metronome_time(run.created_at),
            "completedAt": metronome_time(run.finished_at) if run.finished_at is not None and not run.active else None,
            "tasks": run_tasks(run)}


def _run_info(run: RunRecord) -> dict[str, Any]:
    return {"id": run.run_id, "createdAt": metronome_time(run.created_at),
            "finishedAt": metronome_time(run.finished_at or run.created_at),
            "tasks": [t["id"] for t in run_tasks(run)]}


def history_summary(job: JobRecord) -> dict[str, Any]:
    """Metronome's JobHistorySummary: the counts over the job's life."""
    counts = job.counts
    return {"successCount": counts.successes, "failureCount": counts.failures,
            "lastSuccessAt": metronome_time(counts.last_success_at) if counts.last_success_at else None,
            "lastFailureAt": metronome_time(counts.last_failure_at) if counts.last_failure_at else None}


def history(job: JobRecord, runs: Iterable[RunRecord]) -> dict[str, Any]:
    """Metronome's JobHistory: the counts, and the ended runs Halyard keeps (the last 20), newest first."""
    ended = sorted((r for r in runs if not r.active), key=lambda r: r.finished_at or 0.0, reverse=True)
    return {**history_summary(job),
            "successfulFinishedRuns": [_run_info(r) for r in ended if r.status == FINISHED],
            "failedFinishedRuns": [_run_info(r) for r in ended if r.status != FINISHED]}


# --- error bodies -------------------------------------------------------------------------------

def unknown_job(job_id: str) -> JSONResponse:
    """404, Metronome's UnknownJob."""
    return JSONResponse({"id": job_id, "message": "Job not found"}, status_code=404)


def unknown_run(job_id: str, run_id: str) -> JSONResponse:
    """404, Metronome's UnknownJobRun."""
    return JSONResponse({"jobSpec": job_id, "id": run_id, "message": "Job Run not found"}, status_code=404)


def unknown_schedule(schedule_id: str) -> JSONResponse:
    """404, Metronome's UnknownSchedule."""
    return JSONResponse({"id": schedule_id, "message": "Schedule not found"}, status_code=404)


def error(status: int, message: str) -> JSONResponse:
    """Metronome's ErrorDetail: ``{"message": ...}``."""
    return JSONResponse({"message": message}, status_code=status)


def invalid(problems: Iterable[Problem]) -> JSONResponse:
    """422, Metronome's ``{"message": "Object is not valid", "details": [{path, errors}]}``, one
    entry per path (paths are JSON pointers into the body: ``/run/cpus``)."""
    details: dict[str, list[str]] = {}
    for p in problems:
        details.setdefault(p.path or "/", []).append(p.message)
    return JSONResponse({"message": "Object is not valid",
                         "details": [{"path": path, "errors": errors} for path, errors in details.items()]},
                        status_code=422)


def embeds(values: Iterable[str]) -> frozenset[str]:
    """``?embed=a&embed=b`` or ``?embed=a,b``: the embeds asked for."""
    return frozenset(part.strip() for value in values for part in value.split(",") if part.strip())


def with_embeds(body: dict[str, Any], job: JobRecord, runs: list[RunRecord], asked: frozenset[str],
                schedules: list[dict[str, Any]]) -> dict[str, Any]:
    """A job's JobSpec with Metronome's embeds: ``activeRuns``, ``schedules``, ``history``, ``historySummary``."""
    out = dict(body)
    if "activeRuns" in asked:
        out["activeRuns"] = [run_json(r) for r in runs if r.active]
    if "schedules" in asked:
        out["schedules"] = schedules
    if "history" in asked:
        out["history"] = history(job, runs)
    if "historySummary" in asked:
        out["historySummary"] = history_summary(job)
    return out

