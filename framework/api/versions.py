"""App versions: ``/v2/apps/{id}/versions[/{version}]``, and what a ``PUT /v2/apps/{id}`` with a
``version`` means (a rollback), in Marathon's shapes.

A version is the timestamp of a change of the app (Marathon's ``version``); see
:mod:`halyard.engine.app_versions` for which changes make one and how many are kept.
"""
from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Query

from ..engine.view import EngineView
from ..errors import NotFoundError, Problem, ValidationError
from ..runtime.backend import Backend
from ..spec.app import AppSpec
from ..timestamps import iso, parse_iso
from .app_definition import marathon_definition
from .app_filters import HALYARD, app_embeds
from .inputs import path_id

# Fields a rollback may name besides ``version`` (Marathon: "may only be combined with the 'id' field").
ROLLBACK_FIELDS = {"id", "version"}


def parse_version(text: str) -> float | None:
    """A version as clients send it back (``2026-12-02T02:03:04.123Z``, or another ISO 8601 form);
    None if it is not a timestamp."""
    try:
        return parse_iso(text)
    except ValueError:
        pass
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def find_version(view: EngineView, app_id: str, text: str) -> float:
    """The stored version of the app that ``text`` names (to the millisecond, as it was shown), or
    NotFoundError in Marathon's words."""
    wanted = parse_version(text)
    found = None if wanted is None else next((v for v in view.versions_of(app_id) if iso(v) == iso(wanted)), None)
    if found is None:
        raise NotFoundError(f"App '{app_id}' does not exist in version {text}")
    return found


def spec_at(backend: Backend, app_id: str, text: str) -> tuple[AppSpec, float]:
    """The app's definition at the version ``text`` names, and that version."""
    with backend.reading() as view:
        version = find_version(view, app_id, text)
        app = view.app(app_id)
        if version == app.version:
            return app.spec, version
    spec = backend.app_version(app_id, version)
    if spec is None:  # dropped meanwhile (beyond the bound)
        raise NotFoundError(f"App '{app_id}' does not exist in version {text}")
    return spec, version


def version_json(spec: AppSpec, version: float, halyard: bool = False) -> dict[str, Any]:
    """An app definition as it was at ``version`` (secrets masked, as everywhere): Marathon's
    fields, and with ``halyard`` Halyard's own (:mod:`.app_definition`)."""
    data = marathon_definition(spec, halyard)
    data["version"] = iso(version)
    return data


def rollback_target(backend: Backend, app_id: str, raw: Mapping[str, Any]) -> AppSpec | None:
    """What a ``PUT /v2/apps/{id}`` body that holds ``version`` asks for.

    * ``{"version": V}`` (with at most ``id``): a rollback to the stored version V: its definition.
    * ``version`` among other fields: allowed only when it is the app's current version (a
      definition read with GET, edited and put back): then it is read-only and ignored (None).
      Otherwise it is a 422 naming ``version``: Marathon refuses it too, since it cannot be both a
      rollback and a change.
    * no ``version``: None.
    """
    if "version" not in raw:
        return None
    text = raw["version"]
    if not isinstance(text, str):
        raise ValidationError([Problem("version", f"expected a timestamp string, got {text!r}")])
    if set(raw) <= ROLLBACK_FIELDS:
        return spec_at(backend, app_id, text)[0]
    with backend.reading() as view:
        app = view.find_app(app_id)
        current = app is not None and parse_version(text) is not None and iso(parse_version(text) or 0) == iso(app.version)
    if app is None or current:
        return None  # a definition exported elsewhere, or this app's own as GET showed it: read-only
    others = ", ".join(sorted(set(raw) - ROLLBACK_FIELDS))
    raise ValidationError([Problem("version", f"may only be combined with 'id' (a rollback to that version); "
                                              f"drop it to change {others}, or give only it to roll back")])


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/v2/apps/{app_id:path}/versions")
    def list_versions(app_id: str) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as view:
            return {"versions": [iso(v) for v in view.versions_of(app_id)]}

    @router.get("/v2/apps/{app_id:path}/versions/{version}")
    def show_version(app_id: str, version: str, embed: list[str] | None = Query(None)) -> Any:
        spec, found = spec_at(backend, path_id(app_id), version)
        return version_json(spec, found, HALYARD in app_embeds(embed))

    return router
