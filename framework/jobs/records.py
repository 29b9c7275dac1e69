"""What the scheduler persists about jobs: one record per job and one per run, as JSON-able data."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from .spec import JobSpec

# A run's status (the API's contract).
QUEUED, STARTING, RUNNING, FINISHED, FAILED, KILLED = "QUEUED", "STARTING", "RUNNING", "FINISHED", "FAILED", "KILLED"
ACTIVE = frozenset({QUEUED, STARTING, RUNNING})
ENDED = frozenset({FINISHED, FAILED, KILLED})


@dataclass(frozen=True)
class RunCounts:
    """How a job's runs ended, over its whole life (ended runs themselves are kept only a while):
    Metronome's history summary."""

    successes: int = 0
    failures: int = 0
    last_success_at: float | None = None
    last_failure_at: float | None = None

    def counted(self, status: str, at: float) -> RunCounts:
        """These counts with one more run that ended ``status`` (FINISHED: a success) at ``at``."""
        if status == FINISHED:
            return replace(self, successes=self.successes + 1, last_success_at=at)
        return replace(self, failures=self.failures + 1, last_failure_at=at)


@dataclass(frozen=True)
class JobRecord:
    """A job's definition, when it fires next (Unix time) for a scheduled job, and how its runs ended."""

    spec: JobSpec
    version: float
    next_fire: float | None = None
    counts: RunCounts = RunCounts()

    @property
    def job_id(self) -> str:
        return self.spec.id

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.spec.to_json(), "version": self.version, "next_fire": self.next_fire,
                "counts": asdict(self.counts)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobRecord:
        return cls(spec=JobSpec.model_validate(data["spec"]), version=data["version"], next_fire=data.get("next_fire"),
                   counts=RunCounts(**data.get("counts", {})))


@dataclass(frozen=True)
class RunRecord:
    """One run of a job, from QUEUED to FINISHED, FAILED or KILLED, across its attempts.

    A run keeps the definition it started with (a job changed meanwhile does not change it).
    ``attempt`` counts the job's own failures (retries); ``launches`` counts every task launched
    for the run, including relaunches after a lost agent or a launch that never reached Mesos.
    ``history`` lists every status change: ``{status, time, attempt, taskId, message}``, and
    ``taskState`` (the task's Mesos state then) in records written since it was added; an entry
    with ``killing`` records a kill asked for (the status unchanged).
    """

    run_id: str
    job_id: str
    spec: JobSpec
    created_at: float
    trigger: str = "api"              # api | schedule
    scheduled_for: float | None = None  # the schedule's firing time this run was started for
    status: str = QUEUED
    attempt: int = 1
    launches: int = 0
    lost: int = 0
    task_id: str | None = None
    agent_id: str | None = None
    hostname: str | None = None
    task_state: str | None = None  # the last Mesos state of the current task
    launch_after: float = 0.0         # a retry waits for its backoff
    unreachable_since: float | None = None  # the current task's agent is unreachable since
    killing: bool = False
    exit_code: int | None = None
    signal: int | None = None
    message: str = ""
    finished_at: float | None = None
    executor_usage: dict | None = None  # the executor's own peak RSS and CPU time, from its last update
    history: tuple[dict, ...] = ()

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def launched(self) -> bool:
        """A task of this run may exist in Mesos (it was persisted before its ACCEPT)."""
        return self.status in (STARTING, RUNNING) and self.task_id is not None

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["spec"] = self.spec.to_json()
        data["history"] = list(self.history)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        return cls(**{**data, "spec": JobSpec.model_validate(data["spec"]), "history": tuple(data.get("history", ()))})

    def evolve(self, **changes: Any) -> RunRecord:
        return replace(self, **changes)
