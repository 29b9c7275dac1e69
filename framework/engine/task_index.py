"""The tasks the engine knows, indexed by app and by agent, and which apps changed since the last
convergence (the only writer of tasks is :class:`TaskIndex`)."""
from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping

from .app_records import TaskRecord


class TaskIndex:
    """Task records by id, by app and by agent; ``dirty`` holds the app ids whose tasks changed."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskRecord] = {}
        self._by_app: dict[str, dict[str, TaskRecord]] = {}
        self._by_agent: dict[str, dict[str, TaskRecord]] = {}
        self.dirty: set[str] = set()
        self._changed: set[str] = set()   # task ids changed since service discovery last looked

    def load(self, tasks: Iterable[TaskRecord]) -> None:
        self.tasks, self._by_app, self._by_agent = {}, {}, {}
        for task in tasks:
            self.set(task)

    def get(self, task_id: str) -> TaskRecord | None:
        return self.tasks.get(task_id)

    def of_app(self, app_id: str) -> list[TaskRecord]:
        return list(self._by_app.get(app_id, {}).values())

    def has_tasks(self, app_id: str) -> bool:
        return bool(self._by_app.get(app_id))

    def on_agent(self, agent_id: str) -> Iterable[TaskRecord]:
        return self._by_agent.get(agent_id, {}).values()

    def by_agent(self) -> Mapping[str, Iterable[TaskRecord]]:
        """Agent id -> the tasks there (a read-only view, for placement context)."""
        return {agent_id: tasks.values() for agent_id, tasks in self._by_agent.items() if tasks}

    def set(self, task: TaskRecord) -> None:
        """Add or replace a task; its app is converged again."""
        old = self.tasks.get(task.task_id)
        if old is not None and old.agent_id != task.agent_id:
            self._by_agent.get(old.agent_id, {}).pop(task.task_id, None)
        self.tasks[task.task_id] = task
        self._by_app.setdefault(task.app_id, {})[task.task_id] = task
        self._by_agent.setdefault(task.agent_id, {})[task.task_id] = task
        self.dirty.add(task.app_id)
        self._changed.add(task.task_id)

    def take_changed(self) -> builtins.set[str]:  # in the class, `set` is the method above
        """The ids of the tasks set or dropped since the last call (for service discovery)."""
        changed, self._changed = self._changed, set()
        return changed

    def drop(self, task_id: str) -> TaskRecord:
        """Forget a task that is gone; its app is converged again."""
        task = self.tasks.pop(task_id)
        self._by_app.get(task.app_id, {}).pop(task_id, None)
        self._by_agent.get(task.agent_id, {}).pop(task_id, None)
        self.dirty.add(task.app_id)
        self._changed.add(task.task_id)
        return task
