"""Job commands, and a job step's changes (from :class:`~halyard.jobs.book.JobBook`) as instructions."""
from __future__ import annotations

from collections.abc import Callable

from ..jobs.book import JobBook, JobChanges
from .messages import DeleteJob, Instruction, Kill, KillRun, Notify, Persist, PutJob, StartRun


def job_writes(changes: JobChanges) -> Persist:
    """The records a job step wrote and deleted, as one Persist."""
    return Persist(jobs=changes.jobs, delete_jobs=changes.delete_jobs, runs=changes.runs,
                   delete_runs=changes.delete_runs)


def job_instructions(changes: JobChanges) -> list[Instruction]:
    """A job step's writes first, then its kills and callbacks."""
    persist = job_writes(changes)
    out: list[Instruction] = [persist] if persist else []
    out += [Kill(task_id, agent_id) for task_id, agent_id in changes.kills]
    out += [Notify(notice) for notice in changes.notify]
    return out


class JobCommands:
    """The job commands (from the API): each a step of the JobBook, returned as instructions.
    ``check_strategy`` refuses a strategy that does not exist before anything changes."""

    def __init__(self, jobs: JobBook, check_strategy: Callable[[object], None]):
        self.jobs, self.check_strategy = jobs, check_strategy

    def put(self, event: PutJob) -> list[Instruction]:
        self.check_strategy(event.spec)
        changes = JobChanges()
        self.jobs.put_job(event.spec, changes)
        if event.run_id is not None:
            self.jobs.start_run(event.spec.id, changes, run_id=event.run_id)
        return job_instructions(changes)

    def delete(self, event: DeleteJob) -> list[Instruction]:
        changes = JobChanges()
        self.jobs.delete_job(event.job_id, event.stop_runs, changes)
        return job_instructions(changes)

    def start(self, event: StartRun) -> list[Instruction]:
        changes = JobChanges()
        self.jobs.start_run(event.job_id, changes, run_id=event.run_id)
        return job_instructions(changes)

    def kill(self, event: KillRun) -> list[Instruction]:
        changes = JobChanges()
        self.jobs.kill_run(event.job_id, event.run_id, changes)
        return job_instructions(changes)
