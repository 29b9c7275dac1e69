"""A read-only view of the engine's state, for the API and metrics (as Marathon's TaskTracker is
for its API): lookups and counts, never the engine's own dicts to change.

Hold it only while the service's lock is held (``Backend.reading()``): the records it returns are
frozen values and stay valid, but the view itself follows the live engine.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from ..errors import NotFoundError, UnknownAgentError
from ..jobs.records import JobRecord, RunRecord
from ..spec.app import AppSpec
from .agent_rows import AgentRow, agent_rows
from .app_records import AppRecord, DeploymentRecord, TaskRecord
from .deployment_plans import StepAction, deployment_steps
from .discovery import EndpointStatus  # with ReadinessResult: values the view hands out, the API's through it
from .readiness_checks import ReadinessResult
from .waiting import REASON_CLASSES, reason_class

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine


class EngineView:
    """What the API may read of one engine."""

    def __init__(self, engine: Engine):
        self._engine = engine

    # --- the scheduler ------------------------------------------------------------------------

    @property
    def framework_id(self) -> str | None:
        return self._engine.framework_id

    @property
    def master(self) -> str | None:
        """The Mesos master the framework is subscribed to (``host:port``), None while not subscribed."""
        return self._engine.master

    def now(self) -> float:
        """The engine's clock."""
        return self._engine.clock()

    def new_id(self) -> str:
        """A fresh unique id from the engine's generator (for ids the API hands out)."""
        return self._engine.new_id()

    @property
    def offer_cycles(self) -> int:
        return self._engine.offer_cycles

    def reconciling(self) -> int:
        """Tasks that have not answered explicit reconciliation yet."""
        return self._engine.reconciler.pending()

    # --- agents -------------------------------------------------------------------------------

    def agents(self) -> list[AgentRow]:
        """Every agent Halyard knows of, with its state, resources and Halyard's tasks (``agent_rows.py``)."""
        return agent_rows(self._engine)

    def agent(self, name: str) -> AgentRow:
        """The agent of a hostname or id (a registered one first), or UnknownAgentError naming the known hosts."""
        rows = self.agents()
        found = [r for r in rows if r.agent_id == name] or [r for r in rows if r.hostname == name]
        if not found:
            hosts = sorted({r.hostname for r in rows if r.state != "gone"})
            raise UnknownAgentError(f"no agent '{name}' (known hosts: {', '.join(hosts) or 'none'})", tuple(hosts))
        return sorted(found, key=lambda r: r.gone_at is not None)[0]

    @property
    def stream_up(self) -> bool:
        """Whether the master's operator stream is up (membership current within about a second)."""
        return self._engine.membership.stream_up

    def leaving_agents(self) -> frozenset[str]:
        """The agents being drained (or drained): nothing is placed there, nothing moves there."""
        return self._engine.drains.leaving()

    # --- apps and tasks -----------------------------------------------------------------------

    def apps(self) -> list[AppRecord]:
        return list(self._engine.apps.values())

    def app(self, app_id: str) -> AppRecord:
        """The app, or NotFoundError in Marathon's words."""
        app = self._engine.apps.get(app_id)
        if app is None:
            raise NotFoundError(f"App '{app_id}' does not exist")
        return app

    def find_app(self, app_id: str) -> AppRecord | None:
        return self._engine.apps.get(app_id)

    def versions_of(self, app_id: str) -> list[float]:
        """The app's stored versions, newest first (NotFoundError if there is no such app)."""
        return self._engine.versions.of(self.app(app_id))

    def tasks(self) -> list[TaskRecord]:
        return list(self._engine.index.tasks.values())

    def tasks_of(self, app_id: str) -> list[TaskRecord]:
        return self._engine.index.of_app(app_id)

    def endpoints(self, app_id: str) -> tuple[bool, list[EndpointStatus]]:
        """Service discovery for the app (NotFoundError if there is none): whether discovery is
        on, and each task's member or why it has none."""
        app = self.app(app_id)
        found = self._engine.discovery
        return found.enabled, found.status(app, self.tasks_of(app_id))

    def task(self, app_id: str, task_id: str) -> TaskRecord:
        """A task of this app, or NotFoundError."""
        task = self._engine.index.get(task_id)
        if task is None or task.app_id != app_id:
            raise NotFoundError(f"Task '{task_id}' does not exist")
        return task

    def readiness_results(self, app_id: str) -> list[ReadinessResult]:
        """The last readiness check result of each task of the app that has one."""
        results = self._engine.probes.results
        return [results[t.task_id] for t in self.tasks_of(app_id) if t.task_id in results]

    def pending(self, app: AppRecord) -> int:
        """Instances of the app waiting to be launched."""
        return self._engine.convergence.pending(app)

    def waiting(self, app_id: str) -> tuple[str, ...]:
        """Why the app's pending instances were not placed at the last offer cycle."""
        return tuple(self._engine.wait.reasons.get(app_id, ()))

    def waiting_class(self, app: AppRecord) -> str | None:
        """Why the app's pending instances wait, as one of ``waiting.REASON_CLASSES``; None if none wait."""
        if not self.pending(app):
            return None
        return reason_class(self.waiting(app.app_id), delayed=app.launch_after > self.now(),
                            strategy_failed=app.app_id in self._engine.launcher.failed)

    # --- deployments --------------------------------------------------------------------------

    def deployments(self) -> list[DeploymentRecord]:
        """Deployments under way."""
        return list(self._engine.deployment_book.running.values())

    def deployments_of(self, app_id: str) -> list[DeploymentRecord]:
        """The app's deployments under way: none or one (one per app), found through the book's
        index (``/v2/apps`` asks for every app: a pass over every deployment for each was 250,000
        steps for 500 apps in a group's deployment, under the engine lock)."""
        found = self._engine.deployment_book.of_app(app_id)
        return [] if found is None else [found]

    def deployment_of(self, app_id: str) -> DeploymentRecord | None:
        """The app's deployment under way, if any."""
        return self._engine.deployment_book.of_app(app_id)

    def deployment(self, deployment_id: str) -> DeploymentRecord:
        """A deployment under way or recently ended, or NotFoundError."""
        book = self._engine.deployment_book
        found = book.running.get(deployment_id) or book.ended(deployment_id) or next(iter(book.plan(deployment_id)), None)
        if found is None:
            raise NotFoundError(f"DeploymentPlan {deployment_id} does not exist")
        return found

    def plan(self, deployment_id: str) -> list[DeploymentRecord]:
        """Every record of a deployment (one per app it changes), running or ended, by step; or
        NotFoundError."""
        found = self._engine.deployment_book.plan(deployment_id)
        if not found:
            raise NotFoundError(f"DeploymentPlan {deployment_id} does not exist")
        return found

    def deployment_known(self, deployment_id: str) -> bool:
        """Whether a deployment of that id ever started (running or ended)."""
        return bool(self._engine.deployment_book.plan(deployment_id))

    def finished(self) -> list[DeploymentRecord]:
        """Recently ended deployments, oldest first."""
        return self._engine.deployment_book.finished

    # --- jobs ---------------------------------------------------------------------------------

    def jobs(self) -> list[JobRecord]:
        return sorted(self._engine.jobs.jobs.values(), key=lambda j: j.job_id)

    def job(self, job_id: str) -> JobRecord:
        """The job, or NotFoundError."""
        return self._engine.jobs.job(job_id)

    def has_job(self, job_id: str) -> bool:
        return job_id in self._engine.jobs.jobs

    def runs(self) -> Iterable[RunRecord]:
        return list(self._engine.jobs.runs.values())

    def runs_of(self, job_id: str) -> list[RunRecord]:
        """The job's kept runs, oldest first."""
        return self._engine.jobs.runs_of(job_id)

    def run(self, job_id: str, run_id: str) -> RunRecord:
        """A run of this job, or NotFoundError."""
        return self._engine.jobs.run(job_id, run_id)

    def run_waiting(self, run_id: str) -> tuple[str, ...]:
        """Why a queued run was not placed at the last offer cycle."""
        return tuple(self._engine.jobs.waiting.get(run_id, ()))

    # --- what the engine would do (dry runs, metrics' classes) -------------------------------

    def deployment_steps(self, puts: Sequence[AppSpec], deletes: Collection[str] = ()) -> list[list[StepAction]]:
        """The steps the engine would deploy a change of several apps in (a ``ChangeApps`` of
        ``puts`` and ``deletes``), by the function it deploys them by; refused as the engine
        would refuse the change, but for what depends on more than the apps (a deployment under
        way, an unknown placement strategy). A dry run changes nothing."""
        return deployment_steps(self._engine.apps, puts, deletes)

    @staticmethod
    def waiting_classes() -> tuple[str, ...]:
        """Every answer :meth:`waiting_class` may give (the metrics show each, 0 when none wait so)."""
        return REASON_CLASSES
