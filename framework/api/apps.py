"""Apps: ``/v2/apps`` (list, create, show, change, restart, destroy), in Marathon's shapes."""
from __future__ import annotations

from collections.abc import Set
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..engine.app_records import AppRecord
from ..engine.messages import DeleteApp, PutApp, RestartApp
from ..engine.view import EngineView
from ..errors import Problem, ValidationError
from ..runtime.backend import Backend
from ..spec.marathon_compat import base_for_update
from ..spec.validation import deep_merge
from ..timestamps import iso
from . import scopes
from .app_definition import kept_halyard_fields
from .app_filters import LIST_ALWAYS, SHOW_ALWAYS, AppFilter, app_embeds
from .app_info import app_info_json, legacy_embeds
from .errors import error_response
from .inputs import app_inputs, asked_by, body_json, named_as_sent, new_id, path_id, validated_app
from .versions import rollback_target


def app_json(view: EngineView, app: AppRecord, embed_tasks: bool = True, readiness: bool = False,
             embeds: Set[str] | None = None, halyard: bool = False) -> dict[str, Any]:
    """An app as Marathon shows it, with ``embeds`` (:mod:`.app_filters`); without them, its task
    counts, deployments and last failure, and its tasks (``embed_tasks``), readiness results
    (``readiness``) and Halyard's fields (``halyard``)."""
    return app_info_json(view, app, embeds if embeds is not None else legacy_embeds(embed_tasks, readiness, halyard))


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    def change(command: PutApp | DeleteApp | RestartApp, app_id: str) -> dict[str, Any]:
        """Apply a change that starts a deployment; answer Marathon's ``{version, deploymentId}``."""
        backend.submit(command)
        with backend.reading() as view:
            app = view.find_app(app_id)
            version = iso(app.version) if app else iso(view.now())
        return {"version": version, "deploymentId": command.deployment_id}

    @router.get("/v2/apps")
    def list_apps(embed: list[str] | None = Query(None), cmd: str | None = None,
                  id: str | None = None, label: str | None = None) -> Any:  # noqa: A002 - Marathon's name
        """Marathon's ``AppsResource.index``: the apps that pass the filters, with the embeds asked for."""
        chosen, embeds = AppFilter.parse(cmd, id, label), app_embeds(embed, LIST_ALWAYS)
        with backend.reading() as view:
            return {"apps": [app_json(view, a, embeds=embeds) for a in view.apps() if chosen.matches(a.spec)]}

    @router.post("/v2/apps", status_code=201)
    async def create(request: Request, force: bool = False) -> Any:
        raw = await body_json(request)
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            scopes.require(["/" + raw["id"].strip("/")])   # a scoped token: 403 before 422 or 409
        spec = validated_app(raw, app_inputs(request))
        with backend.reading() as view:
            if view.find_app(spec.id) is not None:
                return error_response(409, f"An app with id [{spec.id}] already exists.")
        deployment_id = new_id()
        with named_as_sent(raw):
            backend.submit(PutApp(spec, deployment_id=deployment_id, force=force, **asked_by(request)))
        with backend.reading() as view:
            data = app_json(view, view.app(spec.id))
        data["deployments"] = [{"id": deployment_id}]
        return JSONResponse(data, status_code=201)

    @router.post("/v2/apps/{app_id:path}/restart")
    def restart(app_id: str, force: bool = False) -> Any:
        app_id = path_id(app_id)
        return change(RestartApp(app_id, deployment_id=new_id(), force=force), app_id)

    @router.get("/v2/apps/{app_id:path}")
    def get_app(app_id: str, embed: list[str] | None = Query(None)) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as view:
            return {"app": app_json(view, view.app(app_id), embeds=app_embeds(embed, SHOW_ALWAYS))}

    @router.patch("/v2/apps/{app_id:path}")
    async def patch(app_id: str, request: Request, force: bool = False) -> Any:
        return await update(app_id, request, partialUpdate=True, force=force)

    @router.put("/v2/apps/{app_id:path}")
    async def update(app_id: str, request: Request, partialUpdate: bool = True,  # noqa: N803 - Marathon's name
                     force: bool = False) -> Any:
        app_id = path_id(app_id)
        raw = await body_json(request)
        if not isinstance(raw, dict):
            raise ValidationError([Problem("", "expected an app definition (a JSON object)")])
        if "id" in raw and path_id(str(raw["id"])) != app_id:
            raise ValidationError([Problem("id", f"does not match the path ({app_id})")])
        target = rollback_target(backend, app_id, raw)  # {"version": V}: that stored version
        raw = {k: v for k, v in raw.items() if k != "version"}
        with backend.reading() as view:
            existing = view.find_app(app_id)
            stored = existing.spec.to_json() if existing is not None else None
        if partialUpdate and stored is not None:
            definition = deep_merge(base_for_update(stored, raw), {**raw, "id": app_id})
        else:  # a replace: Halyard's fields the body does not name are kept (app_definition.py)
            definition = kept_halyard_fields(stored, {**raw, "id": app_id})
        spec = target or validated_app(definition, app_inputs(request), existing.spec if existing is not None else None)
        with named_as_sent(definition if target is None else None):
            result = change(PutApp(spec, deployment_id=new_id(), force=force, **asked_by(request)), app_id)
        return JSONResponse(result, status_code=200 if existing is not None else 201)

    @router.delete("/v2/apps/{app_id:path}")
    def delete(app_id: str, force: bool = False) -> Any:
        app_id = path_id(app_id)
        return change(DeleteApp(app_id, deployment_id=new_id(), force=force), app_id)

    return router
