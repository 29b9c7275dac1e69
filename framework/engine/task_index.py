"""The tasks the engine knows, indexed by app and by agent, and which apps changed since the last
convergence (the only writer of tasks is :class:`TaskIndex`).

Each app's tasks are also counted as they change (:meth:`TaskIndex.settled`), so that convergence
after one status update does not walk all of the app's tasks: at 10,000 instances that walk, once
per update, made a launch O(n^2)."""
from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Iterable, Mapping

from .app_records import TaskRecord
from .messages import Persist


class TaskIndex:
    """Task records by id, by app and by agent; ``dirty`` holds the app ids whose tasks changed."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskRecord] = {}
        self._by_app: dict[str, dict[str, TaskRecord]] = {}
        self._by_agent: dict[str, dict[str, TaskRecord]] = {}
        self.dirty: set[str] = set()
        self._changed: set[str] = set()   # task ids changed since service discovery last looked
        # app id -> config version -> (live tasks, live TASK_RUNNING tasks); and the app's tasks not live
        self._live: dict[str, Counter[tuple[float, bool]]] = {}
        self._not_live: Counter[str] = Counter()

    def load(self, tasks: Iterable[TaskRecord]) -> None:
        self.tasks, self._by_app, self._by_agent = {}, {}, {}
        self._live, self._not_live = {}, Counter()
        for task in tasks:
            self.set(task)

    def get(self, task_id: str) -> TaskRecord | None:
        return self.tasks.get(task_id)

    def of_app(self, app_id: str) -> list[TaskRecord]:
        return list(self._by_app.get(app_id, {}).values())

    def has_tasks(self, app_id: str) -> bool:
        return bool(self._by_app.get(app_id))

    def forget(self, app_id: str, persist: Persist) -> None:
        """The app is gone (none of its tasks is left): drop its entry."""
        if not self._by_app.get(app_id):
            self._by_app.pop(app_id, None)

    def on_agent(self, agent_id: str) -> Iterable[TaskRecord]:
        return self._by_agent.get(agent_id, {}).values()

    def by_agent(self) -> Mapping[str, Iterable[TaskRecord]]:
        """Agent id -> the tasks there (a read-only view, for placement context)."""
        return {agent_id: tasks.values() for agent_id, tasks in self._by_agent.items() if tasks}

    def settled(self, app_id: str, config_version: float) -> tuple[int, int] | None:
        """(live tasks, of which running) when every task the app has is live and of
        ``config_version`` (nothing being killed, replaced or given up on); else None. O(1)."""
        if self._not_live[app_id]:
            return None
        counts = self._live.get(app_id)
        if not counts:
            return (0, 0)
        live = counts[(config_version, False)] + counts[(config_version, True)]
        if live != len(self._by_app.get(app_id, ())):
            return None
        return live, counts[(config_version, True)]

    def _count(self, task: TaskRecord, step: int) -> None:
        if task.live:
            counts = self._live.setdefault(task.app_id, Counter())
            key = (task.config_version, task.state == "TASK_RUNNING")
            counts[key] += step
            if not counts[key]:
                del counts[key]
        else:
            self._not_live[task.app_id] += step
            if not self._not_live[task.app_id]:
                del self._not_live[task.app_id]

    def set(self, task: TaskRecord) -> None:
        """Add or replace a task; its app is converged again."""
        old = self.tasks.get(task.task_id)
        if old is not None and old.agent_id != task.agent_id:
            self._by_agent.get(old.agent_id, {}).pop(task.task_id, None)
        if old is not None:
            self._count(old, -1)
        self._count(task, 1)
        self.tasks[task.task_id] = task
        self._by_app.setdefault(task.app_id, {})[task.task_id] = task
        self._by_agent.setdefault(task.agent_id, {})[task.task_id] = task
        self.dirty.add(task.app_id)
        self._changed.add(task.task_id)

    def take_changed(self) -> builtins.set[str]:  # ``set`` in this class is the method
        """The ids of the tasks set or dropped since the last call (for service discovery)."""
        changed, self._changed = self._changed, set()
        return changed

    def drop(self, task_id: str) -> TaskRecord:
        """Forget a task that is gone; its app is converged again."""
        task = self.tasks.pop(task_id)
        self._count(task, -1)
        self._by_app.get(task.app_id, {}).pop(task_id, None)
        self._by_agent.get(task.agent_id, {}).pop(task_id, None)
        self.dirty.add(task.app_id)
        self._changed.add(task.task_id)
        return task
