"""A task's health check history, as Marathon keeps it (its ``Health``): first and last success,
last failure and why, consecutive failures. Built from the ``healthy`` flag of Mesos status updates
(Mesos-native health checks report on TASK_RUNNING updates with reason
``REASON_TASK_HEALTH_CHECK_STATUS_UPDATED``).

A reconciliation answer repeats the task's last known ``healthy``: it is not a new check result,
so it counts only when it differs from what is known (see :func:`is_check_result`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

HEALTH_UPDATE_REASON = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"


@dataclass(frozen=True)
class TaskHealth:
    """What the health checks of one task said so far (times are engine clock seconds)."""

    first_success: float | None = None
    last_success: float | None = None
    last_failure: float | None = None
    last_failure_cause: str | None = None
    consecutive_failures: int = 0

    def observe(self, healthy: bool, at: float, cause: str | None = None) -> TaskHealth:
        """This history with one more check result (``cause``: the failure's message)."""
        if healthy:
            return replace(self, first_success=self.first_success if self.first_success is not None else at,
                           last_success=at, consecutive_failures=0)
        return replace(self, last_failure=at, last_failure_cause=cause or "health check failed",
                       consecutive_failures=self.consecutive_failures + 1)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> TaskHealth | None:
        """A persisted history (None stays None; a TaskHealth is returned as it is)."""
        if data is None or isinstance(data, TaskHealth):
            return data
        return cls(**data)


def is_check_result(healthy: bool | None, reason: str | None, known: bool | None) -> bool:
    """A status update's ``healthy`` is a new health check result: it is a health update, or it
    changes what was known (a reconciliation answer that repeats it is not)."""
    return healthy is not None and (reason == HEALTH_UPDATE_REASON or healthy != known)
