"""Several apps changed in one deployment: ``PUT`` and ``PATCH /v2/apps`` with a JSON list (what
marathon-python's ``update_apps`` sends), and what the groups' routes share with them: an app
definition, or an update of one, turned into a complete spec.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

from ..engine.domain_events import DomainEvent, GroupChanged
from ..engine.messages import ChangeApps
from ..errors import ConflictError, NotFoundError, Problem, ValidationError
from ..runtime.backend import Backend
from ..spec.app import AppSpec, normalize_app_id
from ..spec.marathon_compat import base_for_update
from ..spec.paths import absolute
from ..spec.validation import app_problems, deep_merge, format_path
from ..timestamps import iso
from .app_definition import kept_halyard_fields
from .inputs import body_json, new_id
from .versions import rollback_target


def app_id_at(raw: Any, where: tuple[str | int, ...], base: str = "/") -> tuple[str | None, list[Problem]]:
    """The absolute id of an app given in a list (relative ids are read from ``base``, a group)."""
    if not isinstance(raw, dict):
        return None, [Problem(format_path(where), f"expected an app definition (a mapping), got {type(raw).__name__}")]
    if not isinstance(raw.get("id"), str) or not raw["id"].strip("/"):
        return None, [Problem(format_path(where + ("id",)), "required: the app's id")]
    try:
        return normalize_app_id(absolute(raw["id"], base)), []
    except ValueError as exc:
        return None, [Problem(format_path(where + ("id",)), str(exc))]


def spec_for(backend: Backend, raw: dict, app_id: str, where: tuple[str | int, ...], partial: bool,
             allow_creation: bool = True) -> tuple[AppSpec | None, list[Problem]]:
    """One app of a list as a complete spec: ``{id, version}`` is a rollback to that stored
    version; with ``partial``, the fields given are merged over the app's definition (Marathon's
    AppUpdate); otherwise they are the whole definition (but for the Halyard fields they do not name,
    which are kept: :func:`~.app_definition.kept_halyard_fields`)."""
    target = rollback_target(backend, app_id, raw)
    if target is not None:
        return target, []
    raw = {k: v for k, v in raw.items() if k != "version"}
    with backend.reading() as view:
        existing = view.find_app(app_id)
    if existing is None and not allow_creation:
        raise NotFoundError(f"App '{app_id}' does not exist")
    # The stored definition as a partial update sees it (deprecated fields replace their canonical
    # ones), as for PUT /v2/apps/{id}.
    stored = existing.spec.to_json() if existing is not None else None
    merged = (deep_merge(base_for_update(stored, raw), {**raw, "id": app_id}) if stored is not None and partial
              else kept_halyard_fields(stored, {**raw, "id": app_id}))
    return app_problems(merged, None, where)


Publisher = Callable[[DomainEvent], None]


def deployment_answer(backend: Backend, command: ChangeApps, publish: Publisher | None = None) -> dict[str, Any]:
    """Apply a change of several apps; answer Marathon's ``{version, deploymentId}``. A change the
    scheduler refuses (a conflict, an invalid plan) is Marathon's ``group_change_failed`` on the
    event stream (``publish``), then the error."""
    try:
        backend.submit(command)
    except (ConflictError, NotFoundError, ValidationError) as refused:
        if publish is not None and command.group_id is not None:
            with backend.reading() as view:
                now = view.now()
            publish(GroupChanged(command.group_id, now, now, reason=str(refused)))
        raise
    with backend.reading() as view:
        return {"version": iso(view.now()), "deploymentId": command.deployment_id}


def routes(backend: Backend, publish: Publisher | None = None) -> APIRouter:
    """``PUT``/``PATCH /v2/apps`` with a list; ``publish`` puts a refused change on the event stream."""
    router = APIRouter()

    async def change_many(request: Request, force: bool, partial: bool, allow_creation: bool) -> Any:
        raw = await body_json(request)
        if not isinstance(raw, list):
            raise ValidationError([Problem("", "expected a list of app definitions")])
        specs, problems = [], []
        for i, item in enumerate(raw):
            app_id, found = app_id_at(item, (i,))
            if app_id is not None:
                spec, found = spec_for(backend, item, app_id, (i,), partial, allow_creation)
                if spec is not None:
                    specs.append(spec)
            problems += found
        if problems:
            raise ValidationError(problems)
        return deployment_answer(backend, ChangeApps(tuple(specs), deployment_id=new_id(), force=force, group_id="/"),
                                 publish)

    @router.put("/v2/apps")
    async def put_apps(request: Request, force: bool = False, partialUpdate: bool = True) -> Any:  # noqa: N803
        """Create or change each app of the list, in one deployment (Marathon's ``replaceMultiple``)."""
        return await change_many(request, force, partialUpdate, allow_creation=True)

    @router.patch("/v2/apps")
    async def patch_apps(request: Request, force: bool = False) -> Any:
        """Change each app of the list (each must exist), in one deployment."""
        return await change_many(request, force, partial=True, allow_creation=False)

    return router
