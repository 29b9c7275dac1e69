"""A job step's changes (from :class:`~halyard.jobs.book.JobBook`) as instructions."""
from __future__ import annotations

from ..jobs.book import JobChanges
from .messages import Instruction, Kill, Notify, Persist


def job_writes(changes: JobChanges) -> Persist:
    """The records a job step wrote and deleted, as one Persist."""
    return Persist(jobs=changes.jobs, delete_jobs=changes.delete_jobs, runs=changes.runs,
                   delete_runs=changes.delete_runs)


def job_instructions(changes: JobChanges) -> list[Instruction]:
    """A job step's writes first, then its kills and callbacks."""
    persist = job_writes(changes)
    out: list[Instruction] = [persist] if persist else []
    out += [Kill(task_id, agent_id) for task_id, agent_id in changes.kills]
    out += [Notify(url, body) for url, body in changes.notify]
    return out
