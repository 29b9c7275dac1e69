"""Scoped tokens: a token with prefixes changes only the apps and jobs under them.

The auth middleware (``auth.py``) puts each request's :class:`RequestScope` in a context
variable; routes see it through :func:`require` and, for every command, through
:class:`ScopedBackend`, which every route is given instead of the scheduler itself. So one place
checks what each command touches, whichever route built it:

========================  ==========================================================
command                   ids checked
========================  ==========================================================
PutApp, DeleteApp, ...    the app
ChangeApps                every app it puts and every app it removes (groups, lists)
KillTasks                 the app of the tasks (``/v2/tasks/delete`` checks all apps
                          first: nothing is killed when one is outside)
CancelDeployment          every app of the deployment
StartRebalance            every app it moves (``POST /v1/rebalance``; a dry run changes
                          nothing and is not checked)
PutJob, StartRun, ...     the job, as a path (``team-a.etl`` -> ``/team-a/etl``)
abdicate                  refused: it is the whole scheduler's
DrainAgent, ...           refused: an agent is the whole cluster's (``/v1/agents``)
========================  ==========================================================

A refused command raises :class:`~halyard.errors.ForbiddenError` (403) before it reaches the
engine: nothing changes. Requests without a scope (no tokens file, internal callers) are not
checked.
"""
from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ..engine.messages import (
    CancelDeployment,
    ChangeApps,
    DeleteApp,
    DeleteJob,
    Event,
    KillRun,
    KillTasks,
    PutApp,
    PutJob,
    ResetDelay,
    RestartApp,
    StartRebalance,
    StartRun,
)
from ..engine.view import EngineView
from ..errors import ForbiddenError
from ..runtime.backend import Backend, MasterReader, SchedulerInfo, SchedulerStats
from ..spec.app import AppSpec
from .app_definition import marathon_definition
from .tokens import Grant, job_path


@dataclass
class RequestScope:
    """One request's token (None: no tokens configured) and what the audit wants to know of it."""

    grant: Grant | None
    reads_scoped: bool = False                          # --auth-reads and a scoped token: reads are limited too
    app_definition: dict[str, Any] | None = None   # the one app a PutApp put (its api_post_event)


_current: ContextVar[RequestScope | None] = ContextVar("halyard_request_scope", default=None)


def enter(scope: RequestScope) -> Any:
    """Make ``scope`` the current request's (returns the reset token for :func:`leave`)."""
    return _current.set(scope)


def leave(reset: Any) -> None:
    _current.reset(reset)


def current() -> RequestScope | None:
    return _current.get()


def current_grant() -> Grant | None:
    scope = _current.get()
    return scope.grant if scope is not None else None


def refusal(grant: Grant, outside: list[str], verb: str = "change") -> ForbiddenError:
    """The 403 of a scoped token: its name, its prefixes and what was outside them."""
    shown = ", ".join(outside[:5]) + (f" and {len(outside) - 5} more" if len(outside) > 5 else "")
    return ForbiddenError(f"token '{grant.name}' may {verb} only ids under {' '.join(grant.prefixes)}: "
                          f"{shown} {'is' if len(outside) == 1 else 'are'} outside", grant.prefixes)


def require(paths: Iterable[str], verb: str = "change") -> None:
    """Raise ForbiddenError unless the current request's token covers every id in ``paths``
    (app ids; job ids given as :func:`~halyard.api.tokens.job_path`)."""
    grant = current_grant()
    if grant is None or not grant.scoped:
        return
    outside = grant.outside(paths)
    if outside:
        raise refusal(grant, outside, verb)


def command_paths(command: Event, view: EngineView | None) -> list[str] | None:
    """The ids (app ids, job paths) a command changes; None for a command the API never sends
    (a scoped token is then refused). ``view`` is read for a deployment's apps."""
    if isinstance(command, PutApp):
        return [command.spec.id]
    if isinstance(command, ChangeApps):
        return [s.id for s in command.puts] + list(command.deletes)
    if isinstance(command, (DeleteApp, RestartApp, ResetDelay, KillTasks)):
        return [command.app_id]
    if isinstance(command, CancelDeployment):
        return [r.app_id for r in view.plan(command.deployment_id)] if view is not None else None
    if isinstance(command, PutJob):
        return [job_path(command.spec.id)]
    if isinstance(command, (DeleteJob, StartRun, KillRun)):
        return [job_path(command.job_id)]
    if isinstance(command, StartRebalance):
        return [app_id for app_id, _, _ in command.apps]
    return None


class ScopedBackend:
    """The scheduler as the routes see it: :meth:`submit` checks the current token's scope
    first, and keeps the definition a PutApp stored for the request's audit event."""

    def __init__(self, backend: Backend):
        self._backend = backend

    def leader(self) -> str | None:
        return self._backend.leader()

    def address(self) -> str:
        return self._backend.address()

    def reading(self) -> AbstractContextManager[EngineView]:
        return self._backend.reading()

    def submit(self, command: Event) -> None:
        scope = current()
        grant = scope.grant if scope is not None else None
        if grant is not None and grant.scoped:
            if isinstance(command, CancelDeployment):
                with self._backend.reading() as view:
                    paths = command_paths(command, view)
            else:
                paths = command_paths(command, None)
            if paths is None:
                raise ForbiddenError(f"token '{grant.name}' is scoped to {' '.join(grant.prefixes)}: "
                                     f"{type(command).__name__} is not for scoped tokens", grant.prefixes)
            require(paths)
        self._backend.submit(command)
        if scope is not None and isinstance(command, PutApp):
            scope.app_definition = self._stored(command.spec)

    def _stored(self, spec: AppSpec) -> dict[str, Any]:
        """The definition as stored (service ports assigned), secrets masked, as Marathon shows it."""
        with self._backend.reading() as view:
            app = view.find_app(spec.id)
        return marathon_definition(app.spec if app is not None else spec)

    def app_version(self, app_id: str, version: float) -> AppSpec | None:
        return self._backend.app_version(app_id, version)

    def stats(self) -> SchedulerStats:
        return self._backend.stats()

    def about(self) -> SchedulerInfo:
        return self._backend.about()

    def abdicate(self) -> bool:
        grant = current_grant()
        if grant is not None and grant.scoped:
            raise ForbiddenError(f"token '{grant.name}' is scoped to {' '.join(grant.prefixes)}: leadership is "
                                 f"the whole scheduler's, only an unscoped token may end it", grant.prefixes)
        return self._backend.abdicate()

    def master(self) -> MasterReader:
        return self._backend.master()

    def stale_for(self) -> float | None:
        return self._backend.stale_for()
