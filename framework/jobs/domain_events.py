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


JobEvent = JobDefined | JobDeleted | JobRunChanged | JobRunSkipped
