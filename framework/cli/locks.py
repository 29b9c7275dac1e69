"""A change refused because a deployment holds the app (``409``, Marathon's "App is locked by one
or more deployments"), said so that the next step is plain: which deployment, what it does and
since when, and the ``--force`` of the command that supersedes it."""
from __future__ import annotations

from ..errors import HalyardError
from .client import ApiError


class LockedError(HalyardError):
    """A change refused because a deployment holds the app (the message says what to do)."""

    def __init__(self, message: str, deployment_id: str):
        super().__init__(message)
        self.deployment_id = deployment_id


def locked_error(exc: ApiError, command: str, app_id: str | None = None) -> HalyardError:
    """``exc`` as a :class:`LockedError` when it is a 409 naming the deployment that holds the app
    (``app_id``, else the deployment's apps); ``exc`` itself otherwise. ``command``: the command
    line to run again with ``--force`` (``halyard apps scale``)."""
    deployment_id = exc.locked_by
    if deployment_id is None:
        return exc
    detail, apps = "", app_id
    if exc.client is not None:
        try:
            found = exc.client.get(f"/v2/deployments/{deployment_id}")
        except ApiError:
            found = None  # gone meanwhile, or unreadable: the id says enough
        if isinstance(found, dict):
            affected = ", ".join(found.get("affectedApps") or ())
            apps = apps or affected
            detail = f" ({found.get('kind')} of {affected}, {found.get('status')} since {found.get('startedAt')})"
    return LockedError(f"{apps or 'the app'} is locked by deployment {deployment_id}{detail}: wait for it to end, "
                       f"cancel it (DELETE /v2/deployments/{deployment_id}), or run `{command}` again with --force to "
                       f"supersede it", deployment_id)
