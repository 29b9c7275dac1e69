"""What happened to jobs and runs, as typed values (see :mod:`halyard.engine.domain_events`)."""
from __future__ import annotations

from dataclasses import dataclass

from .records import RunRecord
from .spec import JobSpec


@dataclass(frozen=True)
class JobDefined:
    """A job was created (``created``) or its definition replaced."""

    spec: JobSpec
    created: bool
    at: float


@dataclass(frozen=True)
class JobDeleted:
    job_id: str
    at: float


@dataclass(frozen=True)
class JobRunChanged:
    """A run changed status (``run`` is the record after the change)."""

    run: RunRecord
    status: str
    message: str
    at: float


@dataclass(frozen=True)
class JobRunSkipped:
    """A scheduled firing did not start a run, because ``reason``."""

    job_id: str
    reason: str
    at: float


@dataclass(frozen=True)
class CallbackNotice:
    """A task state of a run to post to its job's ``callbackUri`` (the API's callback module
    renders the body: Eremetic's ``{time, status, task_id}``, plus Halyard's fields)."""

    url: str
    at: float
    state: str          # the task's Mesos state (TASK_RUNNING, TASK_FINISHED, ...)
    task_id: str
    job_id: str
    run_id: str
    attempt: int
    exit_code: int | None
    message: str
    every_state: bool   # the job posts every state (Eremetic's tasks), not only terminal ones


JobEvent = JobDefined | JobDeleted | JobRunChanged | JobRunSkipped
