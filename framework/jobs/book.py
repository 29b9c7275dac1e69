"""Jobs and their runs: the rules, as a pure state machine driven by the engine.

A run goes QUEUED -> STARTING (its task is persisted before the ACCEPT) -> RUNNING -> FINISHED,
FAILED or KILLED. The rules:

* A task that fails (TASK_FAILED, TASK_ERROR, or TASK_KILLED that Halyard did not ask for) is the
  job's fault: the run is queued again after ``backoffSeconds * backoffFactor^(attempt-1)``
  (at most ``maxBackoffSeconds``) while retries are left, else it FAILED.
* A task that is lost (a lost agent, or a launch that never reached Mesos, which reconciliation
  answers with TASK_LOST/TASK_UNKNOWN after a failover), or that the agent failed before the job
  could run (``AGENT_REASONS``: say, the executor could not be fetched) is not: the run is relaunched, without
  using a retry, up to ``MAX_LOST`` times. So is a task whose agent stays unreachable past the
  grace period (it is killed there); should that agent come back with the job done, the run has
  run twice: the price of not waiting forever on a partition.
* A failure that only reconciliation reports (after a failover: the master's latest state, without
  the agent's reason or the exit code) waits up to ``RECONCILED_WAIT`` for the agent's own update,
  which the agent resends until a scheduler acknowledges it; if none comes, the task counts as lost.
* A kill asked for ends the run KILLED (at once if no task was launched).
* A scheduled job fires when its next firing time has come: one transaction holds the new run
  and the job's next firing time, so a failover neither skips nor repeats a firing. ``FORBID``
  skips a firing while a run of the job is active. A firing more than
  ``startingDeadlineSeconds`` late (no leader at the time) is skipped.
* Every terminal task state is posted to the job's ``callbackUri`` (a :class:`CallbackNotice`;
  with ``callbackStates: all``, every task state, as Eremetic posts them).
* A retry waits for its backoff, and none starts once ``retryDeadlineSeconds`` have passed since
  the run was created. A scheduled run that is not launched within its schedule's
  ``startingDeadlineSeconds`` of its firing fails (Metronome's starting deadline).
* Each run that ends counts in its job's :class:`RunCounts` (FINISHED a success, FAILED and KILLED
  failures), written with the run.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from ..cluster.mesos_types import TaskStatus
from ..errors import ConflictError, NotFoundError
from . import cron
from .domain_events import CallbackNotice, JobDefined, JobDeleted, JobEvent, JobRunChanged, JobRunSkipped
from .records import ACTIVE, FAILED, FINISHED, KILLED, QUEUED, RUNNING, STARTING, JobRecord, RunCounts, RunRecord
from .spec import JobSpec

MAX_LOST = 5            # relaunches after lost tasks before a run fails
RECONCILED_WAIT = 60.0  # seconds to wait for an agent's own update of a failure reconciliation reported
KEEP_ENDED_RUNS = 20    # ended runs kept per job (older ones are deleted)
LOST_STATES = frozenset({"TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"})
FAULT_STATES = frozenset({"TASK_FAILED", "TASK_ERROR", "TASK_KILLED"})
# Failures the agent reports before the job could run, or that end the executor under it: not the
# job's own (e.g. the executor could not be fetched from a scheduler that just died).
AGENT_REASONS = frozenset({"REASON_CONTAINER_LAUNCH_FAILED", "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
                           "REASON_EXECUTOR_REREGISTRATION_TIMEOUT", "REASON_EXECUTOR_TERMINATED",
                           "REASON_CONTAINER_PREEMPTED", "REASON_AGENT_RESTARTED", "REASON_AGENT_REMOVED",
                           "REASON_AGENT_DISCONNECTED", "REASON_GC_ERROR", "REASON_INVALID_OFFERS"})
TERMINAL_STATES = LOST_STATES | FAULT_STATES | {"TASK_FINISHED"}
TASK_PREFIX = "job."
_EXIT = re.compile(r"exited with status (\d+)")


@dataclass
class JobChanges:
    """What one step changed: records to write and delete, callbacks to post, kills to send."""

    jobs: list[JobRecord] = field(default_factory=list)
    delete_jobs: list[str] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    delete_runs: list[tuple[str, str]] = field(default_factory=list)   # (job id, run id)
    notify: list[CallbackNotice] = field(default_factory=list)
    kills: list[tuple[str, str | None]] = field(default_factory=list)  # (task id, agent id)


def task_id_for_run(run: RunRecord, launch: int) -> str:
    """``job.<job id>.<run id>.<launch>``: unique per launch, and recognisably a job's."""
    return f"{TASK_PREFIX}{run.job_id}.{run.run_id}.{launch}"


def run_id_for(now: float, unique: str) -> str:
    """Metronome's style: the UTC time, then a random part (``20261126142012-3f9a1c``)."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + "-" + unique[:6]


def status_data(status: TaskStatus) -> dict:
    """The executor's JSON in a status update's ``data`` (empty if absent or not ours)."""
    if not status.data:
        return {}
    try:
        data = json.loads(status.data)
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


class JobBook:
    """Every job and every kept run; the engine calls it and turns its changes into instructions."""

    def __init__(self, clock: Callable[[], float], new_id: Callable[[], str],
                 emit: Callable[[JobEvent], None]):
        self.clock, self.new_id, self.emit = clock, new_id, emit
        self.jobs: dict[str, JobRecord] = {}
        self.runs: dict[str, RunRecord] = {}          # run id -> run
        self.active: dict[str, RunRecord] = {}        # run id -> run, for active runs only
        self.by_job: dict[str, dict[str, RunRecord]] = {}  # job id -> run id -> run
        self.by_task: dict[str, str] = {}             # task id -> run id (launched runs)
        self.kill_sent: dict[str, float] = {}
        self.waiting: dict[str, tuple[str, ...]] = {}  # run id -> why it was not placed
        # task id -> (first seen, status): failures known only from reconciliation, waiting for
        # the agent's own update (see status_update)
        self.deferred: dict[str, tuple[float, TaskStatus]] = {}

    # --- loading and reading ------------------------------------------------------------------

    def load(self, jobs: Iterable[JobRecord], runs: Iterable[RunRecord]) -> None:
        self.jobs = {j.job_id: j for j in jobs}
        self.runs, self.by_task, self.active, self.by_job = {}, {}, {}, {}
        for run in runs:
            self._set_run(run)

    def job(self, job_id: str) -> JobRecord:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"Job '{job_id}' does not exist")
        return job

    def run(self, job_id: str, run_id: str) -> RunRecord:
        run = self.runs.get(run_id)
        if run is None or run.job_id != job_id:
            raise NotFoundError(f"Run '{run_id}' of job '{job_id}' does not exist")
        return run

    def runs_of(self, job_id: str) -> list[RunRecord]:
        """The job's kept runs, oldest first."""
        return sorted(self.by_job.get(job_id, {}).values(), key=lambda r: (r.created_at, r.run_id))

    def owns(self, task_id: str) -> bool:
        """A job's task id (launched by this scheduler or an earlier one)."""
        return task_id.startswith(TASK_PREFIX)

    def launched_tasks(self) -> list[tuple[str, str | None]]:
        """(task id, agent id) of every run whose task may be in Mesos: what reconciliation asks about."""
        return [(r.task_id, r.agent_id)  # type: ignore[misc]  # launched: it has a task id
                for r in self.active.values() if r.launched]

    def pending(self) -> list[RunRecord]:
        """Queued runs whose backoff is over, oldest first."""
        now = self.clock()
        return sorted((r for r in self.active.values() if r.status == QUEUED and r.launch_after <= now),
                      key=lambda r: (r.created_at, r.run_id))

    def _set_run(self, run: RunRecord) -> None:
        old = self.runs.get(run.run_id)
        if old is not None and old.task_id and old.task_id != run.task_id:
            self.by_task.pop(old.task_id, None)
        self.runs[run.run_id] = run
        self.by_job.setdefault(run.job_id, {})[run.run_id] = run
        if run.active:
            self.active[run.run_id] = run
        else:
            self.active.pop(run.run_id, None)
        if run.task_id and run.active:
            self.by_task[run.task_id] = run.run_id
        elif run.task_id:
            self.by_task.pop(run.task_id, None)

    def _change(self, run: RunRecord, changes: JobChanges, status: str | None = None, message: str = "",
                **fields: object) -> RunRecord:
        """Record a run's new state; a status change goes into its history and out as an event."""
        now = self.clock()
        updated = run.evolve(**fields)
        if status is not None:
            entry = {"status": status, "time": now, "attempt": updated.attempt, "taskId": updated.task_id,
                     "message": message, "taskState": updated.task_state}
            updated = updated.evolve(status=status, message=message or updated.message,
                                     history=updated.history + (entry,))
            if status not in ACTIVE:
                updated = updated.evolve(finished_at=now, killing=False)
            self.emit(JobRunChanged(updated, status, message, now))
        self._set_run(updated)
        changes.runs = [r for r in changes.runs if r.run_id != run.run_id] + [updated]
        if status is not None and status not in ACTIVE:
            if run.job_id not in self.jobs:
                self._forget(updated, changes)  # the job was deleted while this run was being killed
            else:
                self._count(run.job_id, status, now, changes)
                self._prune(run.job_id, changes)
        return updated

    def _count(self, job_id: str, status: str, now: float, changes: JobChanges) -> None:
        """One more ended run in the job's counts, written with the run."""
        job = self.jobs[job_id]
        counted = replace(job, counts=job.counts.counted(status, now))
        self.jobs[job_id] = counted
        changes.jobs = [j for j in changes.jobs if j.job_id != job_id] + [counted]

    def _prune(self, job_id: str, changes: JobChanges) -> None:
        ended = [r for r in self.runs_of(job_id) if not r.active]
        for old in ended[:max(0, len(ended) - KEEP_ENDED_RUNS)]:
            self._forget(old, changes)

    def _forget(self, run: RunRecord, changes: JobChanges) -> None:
        del self.runs[run.run_id]
        self.active.pop(run.run_id, None)
        runs = self.by_job.get(run.job_id, {})
        runs.pop(run.run_id, None)
        if not runs:
            self.by_job.pop(run.job_id, None)
        if run.task_id:
            self.by_task.pop(run.task_id, None)
        changes.runs = [r for r in changes.runs if r.run_id != run.run_id]
        changes.delete_runs.append((run.job_id, run.run_id))

    # --- commands -----------------------------------------------------------------------------

    def put_job(self, spec: JobSpec, changes: JobChanges) -> JobRecord:
        old = self.jobs.get(spec.id)
        now = self.clock()
        next_fire = self._next_fire(spec, now, old)
        record = JobRecord(spec=spec, version=now if old is None else max(now, old.version + 0.001), next_fire=next_fire,
                           counts=old.counts if old is not None else RunCounts())
        self.jobs[spec.id] = record
        changes.jobs.append(record)
        self.emit(JobDefined(spec, old is None, now))
        return record

    @staticmethod
    def _next_fire(spec: JobSpec, now: float, old: JobRecord | None) -> float | None:
        schedule = spec.schedule
        if schedule is None or not schedule.enabled:
            return None
        if old is not None and old.spec.schedule is not None and old.next_fire is not None and \
                (old.spec.schedule.cron, old.spec.schedule.timezone) == (schedule.cron, schedule.timezone):
            return old.next_fire  # the same schedule keeps its next firing
        return cron.next_fire(schedule.cron, schedule.timezone, now)

    def delete_job(self, job_id: str, stop_runs: bool, changes: JobChanges) -> None:
        self.job(job_id)
        active = [r for r in self.runs_of(job_id) if r.active]
        if active and not stop_runs:
            raise ConflictError(f"Job '{job_id}' has {len(active)} active run(s); kill them first or use "
                                f"'?stopCurrentJobRuns=true'")
        for run in active:
            self._kill(run, changes)
        for run in self.runs_of(job_id):
            if not run.active:
                self._forget(run, changes)
        del self.jobs[job_id]
        changes.delete_jobs.append(job_id)
        self.emit(JobDeleted(job_id, self.clock()))

    def start_run(self, job_id: str, changes: JobChanges, trigger: str = "api",
                  run_id: str | None = None, scheduled_for: float | None = None) -> RunRecord:
        job = self.job(job_id)
        now = self.clock()
        run = RunRecord(run_id=run_id or run_id_for(now, self.new_id()), job_id=job_id, spec=job.spec,
                        created_at=now, trigger=trigger, scheduled_for=scheduled_for, status="", history=())
        return self._change(run, changes, QUEUED, "started by the schedule" if trigger == "schedule" else "")

    def kill_run(self, job_id: str, run_id: str, changes: JobChanges) -> RunRecord:
        run = self.run(job_id, run_id)
        if not run.active:
            raise ConflictError(f"Run '{run_id}' of job '{job_id}' already ended ({run.status})")
        return self._kill(run, changes)

    def _kill(self, run: RunRecord, changes: JobChanges) -> RunRecord:
        if not run.launched:
            return self._change(run, changes, KILLED, "killed before it was launched")
        if run.killing:
            return run
        changes.kills.append((run.task_id, run.agent_id))  # type: ignore[arg-type]  # launched: it has a task id
        self.kill_sent[run.task_id] = self.clock()  # type: ignore[index]  # launched: it has a task id
        entry = {"status": run.status, "time": self.clock(), "attempt": run.attempt, "taskId": run.task_id,
                 "message": "kill asked for", "taskState": run.task_state, "killing": True}
        return self._change(run, changes, killing=True, history=run.history + (entry,))

    # --- launching ----------------------------------------------------------------------------

    def launching(self, run: RunRecord, agent_id: str, hostname: str, changes: JobChanges) -> RunRecord:
        """The run's next task goes to ``agent_id``: recorded (STARTING) before its ACCEPT is sent."""
        launch = run.launches + 1
        task_id = task_id_for_run(run, launch)
        self.waiting.pop(run.run_id, None)
        return self._change(run, changes, STARTING, f"launching on {hostname}", launches=launch, task_id=task_id,
                            agent_id=agent_id, hostname=hostname, task_state="TASK_LAUNCHING",
                            exit_code=None, signal=None)

    # --- Mesos status updates -----------------------------------------------------------------

    def status_update(self, status: TaskStatus, changes: JobChanges) -> bool:
        """Apply a status update about a job task; False if no active run owns the task."""
        task_id = status.task_id
        run_id = self.by_task.get(task_id)
        run = self.runs.get(run_id) if run_id else None
        if run is None or run.task_id != task_id or not run.launched:
            return False  # not ours, or a task already dealt with (a redelivered update)
        state, message = status.state, status.message or ""
        agent_id = status.agent_id or run.agent_id
        if state not in TERMINAL_STATES:
            target = RUNNING if state == "TASK_RUNNING" else run.status
            if state in ("TASK_STAGING", "TASK_STARTING"):
                target = STARTING
            if target == run.status and state == run.task_state:
                return True  # a duplicate
            since = (run.unreachable_since or self.clock()) if state == "TASK_UNREACHABLE" else None
            if state != run.task_state and run.spec.callback_states == "all":
                self._notify(run, status, changes, None)
            self._change(run, changes, target if target != run.status else None, message,
                         task_state=state, agent_id=agent_id, unreachable_since=since)
            return True
        if status.reason == "REASON_RECONCILIATION" and state in FAULT_STATES and not run.killing:
            # The master's latest state, without the agent's reason or the executor's exit code.
            # The agent resends its own (unacknowledged) update to this leader: wait for it.
            self.deferred.setdefault(task_id, (self.clock(), status))
            return True
        self._ended(run, status, changes)
        return True

    def _ended(self, run: RunRecord, status: TaskStatus, changes: JobChanges, presumed_lost: bool = False) -> None:
        """The run's task is over: FINISHED, KILLED, relaunched (lost), retried, or FAILED."""
        task_id, state, message = status.task_id, status.state, status.message or ""
        agent_id = status.agent_id or run.agent_id
        self.kill_sent.pop(task_id, None)
        self.deferred.pop(task_id, None)
        data = status_data(status)
        exit_code = data.get("exitCode")
        if exit_code is None and state == "TASK_FINISHED":
            exit_code = 0
        if exit_code is None:
            match = _EXIT.search(message)
            exit_code = int(match.group(1)) if match else None
        usage = data.get("executor") if isinstance(data.get("executor"), dict) else run.executor_usage
        done = dict(task_state=state, agent_id=agent_id, unreachable_since=None, exit_code=exit_code,
                    signal=data.get("signal"), executor_usage=usage)
        spec = run.spec
        self._notify(run, status, changes, exit_code)
        retry_in_time = spec.retry_deadline_seconds is None or \
            self.clock() - run.created_at < spec.retry_deadline_seconds
        if state == "TASK_FINISHED":
            self._change(run, changes, FINISHED, message or "exited with status 0", **done)
        elif run.killing:
            self._change(run, changes, KILLED, message or state, **done)
        elif presumed_lost:
            self._lost(run, changes, f"{state} said the master, but the agent never said why", done)
        elif state in LOST_STATES or status.reason in AGENT_REASONS:
            self._lost(run, changes, f"{state}: {message}" if message else state, done)
        elif run.attempt <= spec.retries and retry_in_time:
            delay = min(spec.backoff_seconds * spec.backoff_factor ** (run.attempt - 1), spec.max_backoff_seconds)
            why = f"{message or state}; retry {run.attempt} of {spec.retries} in {delay:g}s"
            self._change(run, changes, QUEUED, why, attempt=run.attempt + 1, launch_after=self.clock() + delay, **done)
        else:
            tail = f" (after {run.attempt} attempts)" if run.attempt > 1 else ""
            self._change(run, changes, FAILED, (message or state) + tail, **done)

    def _notify(self, run: RunRecord, status: TaskStatus, changes: JobChanges, exit_code: int | None) -> None:
        """Post this task state to the job's callback, if it has one."""
        spec = run.spec
        if spec.callback_uri:
            changes.notify.append(CallbackNotice(
                spec.callback_uri, self.clock(), status.state, status.task_id, run.job_id, run.run_id, run.attempt,
                exit_code, status.message or "", spec.callback_states == "all"))

    def _lost(self, run: RunRecord, changes: JobChanges, why: str, done: dict) -> None:
        """The task is gone through no fault of the job: run it again (without using a retry),
        up to MAX_LOST times."""
        if run.lost + 1 < MAX_LOST:
            self._change(run, changes, QUEUED, f"{why}; relaunching", lost=run.lost + 1, **done)
        else:
            self._change(run, changes, FAILED, f"{why} (lost {MAX_LOST} times)", lost=run.lost + 1, **done)

    # --- the clock ----------------------------------------------------------------------------

    def tick(self, changes: JobChanges, kill_retry: float, unreachable_grace: float) -> None:
        """Fire due schedules; give up on tasks unreachable past the grace period, and on agents'
        updates that reconciliation announced but that never came; resend kills that had no effect."""
        now = self.clock()
        for task_id, (since, status) in list(self.deferred.items()):
            run = self.runs.get(self.by_task.get(task_id, ""))
            if run is None or run.task_id != task_id or not run.launched:
                del self.deferred[task_id]
            elif now - since >= RECONCILED_WAIT:
                self._ended(run, status, changes, presumed_lost=True)
        for run in list(self.active.values()):
            if run.launched and run.unreachable_since is not None and now - run.unreachable_since >= unreachable_grace:
                # Its agent is gone (perhaps for good): kill the task there, run it elsewhere.
                changes.kills.append((run.task_id, run.agent_id))  # type: ignore[arg-type]  # launched: it has a task id
                why = f"agent {run.hostname} unreachable for {now - run.unreachable_since:.0f}s"
                self._lost(run, changes, why, {"unreachable_since": None})
        for run in list(self.active.values()):
            deadline = run.spec.schedule.starting_deadline_seconds if run.spec.schedule is not None else None
            if run.status == QUEUED and run.launches == 0 and run.scheduled_for is not None and deadline is not None \
                    and now - run.scheduled_for > deadline:
                self._change(run, changes, FAILED, f"not launched within startingDeadlineSeconds ({deadline:g}s) "
                                                   "of its firing")
        for job in list(self.jobs.values()):
            schedule = job.spec.schedule
            if schedule is None or not schedule.enabled or job.next_fire is None or now < job.next_fire:
                continue
            late = now - job.next_fire
            active = [r for r in self.runs_of(job.job_id) if r.active]
            if late > schedule.starting_deadline_seconds:
                self.emit(JobRunSkipped(job.job_id, f"missed by {late:.0f}s (startingDeadlineSeconds)", now))
            elif active and schedule.concurrency_policy == "FORBID":
                self.emit(JobRunSkipped(job.job_id, f"concurrencyPolicy FORBID: run {active[-1].run_id} is "
                                                    f"{active[-1].status}", now))
            else:
                self.start_run(job.job_id, changes, trigger="schedule", scheduled_for=job.next_fire)
            moved = replace(self.jobs[job.job_id], next_fire=cron.next_fire(schedule.cron, schedule.timezone, now))
            self.jobs[job.job_id] = moved
            changes.jobs = [j for j in changes.jobs if j.job_id != job.job_id] + [moved]
        for run in self.active.values():
            if run.killing and run.task_id and now - self.kill_sent.get(run.task_id, 0.0) >= kill_retry:
                changes.kills.append((run.task_id, run.agent_id))
                self.kill_sent[run.task_id] = now

    def wants_offers(self) -> bool:
        """Some queued run's backoff is over (asked after every event: no sorting)."""
        now = self.clock()
        return any(r.status == QUEUED and r.launch_after <= now for r in self.active.values())
