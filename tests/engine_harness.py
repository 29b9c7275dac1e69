"""The engine as the tests drive it: events in through ``handle``, its state read back through
:class:`~halyard.engine.view.EngineView` (the only reader the scheduler has), in the shapes the
tests compare: dicts by id."""
from __future__ import annotations

from halyard.engine.app_records import AppRecord, DeploymentRecord, TaskRecord
from halyard.engine.engine import Engine
from halyard.engine.view import EngineView


class EngineHarness(Engine):
    """An :class:`Engine` with the reads the tests make, each through its :class:`EngineView`."""

    @property
    def view(self) -> EngineView:
        return EngineView(self)

    @property
    def tasks(self) -> dict[str, TaskRecord]:
        """Every task, by id."""
        return {t.task_id: t for t in self.view.tasks()}

    def tasks_of(self, app_id: str) -> list[TaskRecord]:
        return self.view.tasks_of(app_id)

    def pending(self, app: AppRecord) -> int:
        return self.view.pending(app)

    @property
    def waiting(self) -> dict[str, tuple[str, ...]]:
        """App id -> why its pending instances were not placed (only the apps that wait)."""
        return {a.app_id: why for a in self.view.apps() if (why := self.view.waiting(a.app_id))}

    @property
    def deployments(self) -> dict[str, DeploymentRecord]:
        """The deployments under way, by key (the deployment's id; with the app's in one of several apps)."""
        return {d.key: d for d in self.view.deployments()}

    def deployment_of(self, app_id: str) -> DeploymentRecord | None:
        return self.view.deployment_of(app_id)

    @property
    def finished(self) -> list[DeploymentRecord]:
        """Recently ended deployments, oldest first."""
        return self.view.finished()

    def reconciling(self) -> int:
        return self.view.reconciling()
