"""Apps: ``/v2/apps`` (list, create, show, change, restart, destroy), in Marathon's shapes."""
from __future__ import annotations

from typing import Any, Optional, Union

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..backend import Backend
from ..engine.app_records import AppRecord, TaskFailure
from ..engine.messages import DeleteApp, PutApp, RestartApp
from ..engine.view import EngineView
from ..errors import Problem, ValidationError
from ..timestamps import iso
from ..validation import deep_merge
from .deployments import readiness_json
from .errors import error_response
from .inputs import asked_by, body_json, new_id, path_id, validated_app
from .tasks import task_json

STAGED = ("TASK_LAUNCHING", "TASK_STAGING", "TASK_STARTING")


def failure_json(failure: TaskFailure) -> dict[str, Any]:
    """Marathon's ``lastTaskFailure``."""
    return {"appId": failure.app_id, "host": failure.host, "message": failure.message, "state": failure.state,
            "taskId": failure.task_id, "timestamp": iso(failure.at), "version": iso(failure.version),
            "slaveId": failure.agent_id}


def app_json(view: EngineView, app: AppRecord, embed_tasks: bool = True, readiness: bool = False) -> dict[str, Any]:
    """An app as Marathon shows it: its definition, versions, task counts and deployments (and, with
    ``readiness``, its tasks' last readiness check results: ``?embed=app.readiness``)."""
    tasks = view.tasks_of(app.app_id)
    data = app.spec.public_json()
    data.pop("environments", None)
    data.update({
        "version": iso(app.version),
        "versionInfo": {"lastScalingAt": iso(app.version), "lastConfigChangeAt": iso(app.config_version)},
        "tasksStaged": sum(1 for t in tasks if t.state in STAGED),
        "tasksRunning": sum(1 for t in tasks if t.state == "TASK_RUNNING"),
        "tasksHealthy": sum(1 for t in tasks if t.healthy is True and t.state == "TASK_RUNNING"),
        "tasksUnhealthy": sum(1 for t in tasks if t.healthy is False and t.state == "TASK_RUNNING"),
        "deployments": [{"id": d.id} for d in view.deployments_of(app.app_id)],
    })
    if embed_tasks:
        data["tasks"] = [task_json(t, app) for t in tasks]
    if app.last_failure:
        data["lastTaskFailure"] = failure_json(app.last_failure)
    if readiness:
        data["readinessCheckResults"] = [readiness_json(r) for r in view.readiness_results(app.app_id)]
    return data


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    def change(command: Union[PutApp, DeleteApp, RestartApp], app_id: str) -> dict[str, Any]:
        """Apply a change that starts a deployment; answer Marathon's ``{version, deploymentId}``."""
        backend.submit(command)
        with backend.reading() as view:
            app = view.find_app(app_id)
            version = iso(app.version) if app else iso(view.now())
        return {"version": version, "deploymentId": command.deployment_id}

    @router.get("/v2/apps")
    def list_apps(embed: Optional[list[str]] = Query(None)) -> Any:
        readiness = "apps.readiness" in (embed or ())
        with backend.reading() as view:
            return {"apps": [app_json(view, a, embed_tasks=False, readiness=readiness) for a in view.apps()]}

    @router.post("/v2/apps", status_code=201)
    async def create(request: Request, force: bool = False) -> Any:
        spec = validated_app(await body_json(request))
        with backend.reading() as view:
            if view.find_app(spec.id) is not None:
                return error_response(409, f"An app with id [{spec.id}] already exists.")
        deployment_id = new_id()
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
    def get_app(app_id: str, embed: Optional[list[str]] = Query(None)) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as view:
            return {"app": app_json(view, view.app(app_id), readiness="app.readiness" in (embed or ()))}

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
        with backend.reading() as view:
            existing = view.find_app(app_id)
            base = existing.spec.to_json() if existing is not None and partialUpdate else {}
        spec = validated_app(deep_merge(base, {**raw, "id": app_id}) if base else {**raw, "id": app_id})
        result = change(PutApp(spec, deployment_id=new_id(), force=force, **asked_by(request)), app_id)
        return JSONResponse(result, status_code=200 if existing is not None else 201)

    @router.delete("/v2/apps/{app_id:path}")
    def delete(app_id: str, force: bool = False) -> Any:
        app_id = path_id(app_id)
        return change(DeleteApp(app_id, deployment_id=new_id(), force=force), app_id)

    return router
