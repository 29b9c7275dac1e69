"""What the clock's tick does: everything that happens because time passed. Pure.

Unreachable tasks expire (replaced, then forgotten), deployments that made no progress for too long fail, jobs
fire and their kills are retried; and while subscribed: kills held for a drain are sent, waiting
reasons and the agent list are refreshed, reconciliation and kills are retried, readiness checks
fall due.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..cluster.mesos_types import TERMINAL
from ..jobs.book import JobChanges
from .job_steps import job_writes
from .messages import Instruction, Kill, Persist, Tick
from .waiting import need_of

if TYPE_CHECKING:  # pragma: no cover
    from .app_records import AppRecord
    from .engine import Engine
    from .readiness import Readiness


class TickHandler:
    """The handler of :class:`~.messages.Tick`, over the engine's parts."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._since = engine.clock()  # this term's start: a deployment loaded from the store is timed from here
        #: deployment key -> (its best counts so far: counted, -old, -distance to target; when they last improved)
        self._progress: dict[str, tuple[tuple[int, int, int], float]] = {}

    def tick(self, event: Tick) -> list[Instruction]:
        """The clock moved on: what is due now."""
        e = self.engine
        now = e.clock()
        persist = self._expire(now)
        changes = JobChanges()
        e.jobs.tick(changes, e.config.kill_retry if e.subscribed else float("inf"), e.config.unreachable_grace)
        persist.extend(job_writes(changes))
        out: list[Instruction] = [persist] if persist else []
        out += [Kill(task_id, agent_id) for task_id, agent_id in changes.kills]
        if not e.subscribed:
            return out
        killing = [(t.task_id, t.agent_id) for t in e.index.tasks.values()
                   if t.killing and t.task_id not in e.discovery.draining]
        out += [e.reconciler.kill(task_id, agent_id, now) for task_id, agent_id in e.discovery.drained(now, self._alive)]
        needs = {} if e.paused else {app.app_id: need_of(app.spec) for app, _ in e.convergence.launchable()}
        out += e.wait.tick(needs, now)
        e.index.dirty.update(e.wait.reasons)  # an app that found no room may make room (see convergence)
        return out + e.reconciler.tick(now, killing) + e.probes.due(e.apps.values(), e.index.of_app, now)

    def _expire(self, now: float) -> Persist:
        """Unreachable tasks past their grace expire (or are forgotten); deployments not done in
        time fail. What to persist of both."""
        e = self.engine
        expired, expunged = e.updates.expire_unreachable(now, e.config.unreachable_grace)
        for task_id in expunged:
            e.reconciler.forget(task_id)
            e.probes.forget(task_id)
        persist = Persist(tasks=expired, delete_tasks=expunged)
        timeout = e.config.deployment_timeout
        running = e.deployment_book.running
        for key in [k for k in self._progress if k not in running]:
            del self._progress[key]
        for deployment in list(running.values()):
            if deployment.held or deployment.key not in running:
                continue  # its step has not come, or it ended with another app of its deployment
            e.index.dirty.add(deployment.app_id)  # tasks become ready by staying up: check again
            if now - self._last_progress(deployment.key, deployment.app_id, deployment.started_at, now) >= timeout:
                e.commands.fail_deployment(deployment, f"not done after {timeout:g}s", persist)
        return persist

    def _last_progress(self, key: str, app_id: str, started_at: float, now: float) -> float:
        """When the deployment last made progress: more of its app's tasks count (Readiness) than
        ever before, fewer old-config tasks are left, or the live tasks are closer to the target
        (``instances``; 0 when the app is deleted) than ever before. A deployment times out only
        after ``deployment_timeout`` without progress (Kubernetes' ``progressDeadlineSeconds``;
        Marathon's deployments never time out), so a large scale-up that keeps launching is not
        rolled back. Not stored: a new leader times what it loaded from its own start."""
        app = self.engine.apps.get(app_id)
        counted, old, live = self._progress_counts(app)
        target = 0 if app is None or app.deleting else app.spec.instances
        distance = abs(live - target)
        now_best = (counted, -old, -distance)
        known = self._progress.get(key)
        if known is None:
            self._progress[key] = (now_best, max(started_at, self._since))
            return max(started_at, self._since)
        best, at = known
        if any(n > b for n, b in zip(now_best, best)):
            at = now
        self._progress[key] = ((max(counted, best[0]), max(-old, best[1]), max(-distance, best[2])), at)
        return at

    def _progress_counts(self, app: AppRecord | None) -> tuple[int, int, int]:
        """(tasks that count, live tasks of an older config, live tasks) of ``app``. From the task
        index's counts when they tell it (every task live and of the current config, and nothing
        but running to count: no checks, no minReadySeconds, as ``Convergence._deployed`` reads
        them); else by a pass over the app's tasks. The tick asks for every running deployment
        every second: 500 deployments of 100 tasks were a third of the leader's time."""
        if app is None:
            return 0, 0, 0
        readiness = self.engine.convergence.readiness()
        spec = app.spec
        if not spec.health_checks and not spec.readiness_checks and not readiness.min_ready_seconds(spec):
            settled = self.engine.index.settled(app.app_id, app.config_version)
            if settled is not None:
                return settled[1], 0, settled[0]
        return self._progress_scan(app, readiness)

    def _progress_scan(self, app: AppRecord, readiness: Readiness) -> tuple[int, int, int]:
        """:meth:`_progress_counts` by a pass over the app's tasks."""
        tasks = self.engine.index.of_app(app.app_id)
        return (sum(1 for t in tasks if readiness.counts(app, t)),
                sum(1 for t in tasks if t.live and t.config_version != app.config_version),
                sum(1 for t in tasks if t.live))

    def _alive(self, task_id: str) -> bool:
        task = self.engine.index.get(task_id)
        return task is not None and task.state not in TERMINAL
