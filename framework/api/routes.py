"""HTTP routes: Marathon v2 paths and status codes, Halyard's /v1 additions."""
from __future__ import annotations

import json
import time
import uuid

import requests
from contextlib import AbstractContextManager
from typing import Any, Optional, Protocol

from fastapi import FastAPI, Request
from fastapi import Query
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse

from .. import __version__
from ..engine.engine import Engine
from ..engine.messages import CancelDeployment, DeleteApp, Event, KillTasks, PutApp, ResetDelay, RestartApp
from ..engine.app_records import iso
from ..errors import ConflictError, NotFoundError, NotLeaderError, Problem, UpstreamError, ValidationError
from ..model import normalize_app_id
from ..validation import app_problems, deep_merge
from .jobs import job_routes
from .metrics import render as render_metrics
from .views import app_json, deployment_json, invalid_json, placement_json, queue_json, task_json


class Backend(Protocol):
    """What the API needs from the scheduler service."""

    def leader(self) -> Optional[str]: ...

    def reading(self) -> AbstractContextManager[Engine]:
        """The engine, locked for reading; raises NotLeaderError on a standby."""

    def submit(self, event: Event) -> None:
        """Apply a command on the leader and wait until it is persisted."""

    def stats(self) -> dict[str, Any]:
        """Operational figures (offer latency, reconciliation)."""

    def info(self) -> dict[str, Any]:
        """What this scheduler is and how it is configured (``GET /v2/info``)."""

    def abdicate(self) -> bool:
        """Give up leadership (``DELETE /v2/leader``); False on a standby."""

    def address(self) -> str:
        """Where this scheduler's API listens."""

    def subscribe(self) -> Any:
        """A queue of events from now on."""

    def master_url(self) -> str:
        """The current Mesos master's HTTP address."""

    def unsubscribe(self, q: Any) -> None: ...


PROXIED = "x-halyard-proxied-by"
FORWARDED = {"content-type", "authorization", "accept"}


def path_id(app_id: str) -> str:
    """An app id from a URL path, normalized; a malformed one is a 422 naming ``id``."""
    try:
        return normalize_app_id(app_id)
    except ValueError as exc:
        raise ValidationError([Problem("id", str(exc))]) from None


def existing_app(engine: Engine, app_id: str) -> Any:
    """The app's record, or a 404 in Marathon's words."""
    app = engine.apps.get(app_id)
    if app is None:
        raise NotFoundError(f"App '{app_id}' does not exist")
    return app


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status)


WRITES = {"POST", "PUT", "PATCH", "DELETE"}
OPEN_PATHS = {"/ping"}
OPEN_PREFIX = "/v1/executor/"   # the executor artifact: agents fetch it without a token


def check_token(method: str, path: str, authorization: Optional[str], tokens: dict[str, str],
                auth_reads: bool) -> Optional[JSONResponse]:
    """None when the request may go on; otherwise the 401/403 answer. ``tokens``: token -> rw|ro."""
    if not tokens or path in OPEN_PATHS or path.startswith(OPEN_PREFIX) or (method not in WRITES and not auth_reads):
        return None
    scheme, _, token = (authorization or "").partition(" ")
    grant = tokens.get(token) if scheme.lower() == "bearer" else None
    if grant is None:
        return JSONResponse({"message": "authentication required: Authorization: Bearer <token>"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    if method in WRITES and grant != "rw":
        return JSONResponse({"message": "this token may only read"}, status_code=403)
    return None


def create_app(backend: Backend, tokens: Optional[dict[str, str]] = None, auth_reads: bool = False) -> FastAPI:
    api = FastAPI(title="Halyard", version=__version__,
                  description="Marathon-compatible v2 API for Halyard, plus Halyard's /v1 additions.")

    @api.middleware("http")
    async def _auth(request: Request, call_next: Any) -> Response:
        refused = check_token(request.method, request.url.path, request.headers.get("authorization"),
                              tokens or {}, auth_reads)
        return refused if refused is not None else await call_next(request)

    @api.exception_handler(NotLeaderError)
    async def _not_leader(request: Request, exc: NotLeaderError) -> Response:
        """A standby forwards what it cannot answer to the leader (once: no proxy loops)."""
        if exc.leader and exc.leader != backend.address() and PROXIED not in request.headers:
            try:
                upstream = requests.request(
                    request.method, f"http://{exc.leader}{request.url.path}", params=list(request.query_params.items()),
                    data=await request.body(), timeout=60,
                    headers={**{k: v for k, v in request.headers.items() if k.lower() in FORWARDED},
                             PROXIED: backend.address()})
            except requests.RequestException as err:
                return _error(503, f"not the leader, and the leader at {exc.leader} did not answer: {err}",
                              leader=exc.leader)
            return Response(upstream.content, status_code=upstream.status_code,
                            media_type=upstream.headers.get("content-type"))
        return _error(503, str(exc), leader=exc.leader)

    @api.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, str(exc))

    @api.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
        deployments = []
        if "/v2/deployments/" in str(exc):
            deployments = [{"id": str(exc).rsplit("/v2/deployments/", 1)[1].rstrip("'.")}]
        return _error(409, str(exc), deployments=deployments)

    @api.exception_handler(ValidationError)
    async def _invalid(request: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse(invalid_json(list(exc.problems)), status_code=422)

    async def body_json(request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError as exc:
            raise ValidationError([Problem("", f"invalid JSON: {exc}")]) from None

    api.include_router(job_routes(backend, body_json))

    @api.exception_handler(UpstreamError)
    async def _no_sandbox(request: Request, exc: UpstreamError) -> JSONResponse:
        return _error(502, str(exc))

    def validated(raw: Any) -> Any:
        spec, problems = app_problems(raw)
        if problems:
            raise ValidationError(problems)
        return spec

    def change(event: Event) -> dict[str, Any]:
        """Apply a change that starts a deployment; answer Marathon's ``{version, deploymentId}``."""
        backend.submit(event)
        deployment_id = event.deployment_id  # type: ignore[union-attr]
        with backend.reading() as engine:
            app = engine.apps.get(getattr(event, "app_id", None) or event.spec.id)  # type: ignore[union-attr]
            version = iso(app.version) if app else iso(engine.clock())
        return {"version": version, "deploymentId": deployment_id}

    def new_id() -> str:
        return str(uuid.uuid4())

    @api.get("/ping", response_class=PlainTextResponse)
    def ping() -> str:
        return "pong"

    @api.post("/v1/plan")
    async def dry_run(request: Request, strategy: Optional[str] = None, seed: int = 0) -> Any:
        """Halyard's dry run: where would these apps' missing instances go on the live cluster, and
        why would any not fit? Body: one app definition, or ``{"apps": [...]}``. Nothing changes."""
        from ..cli.plan import requests_for
        from ..cluster import load_cluster
        from ..placement import Planner, StrategyRegistry
        from ..validation import raw_apps

        raw = await body_json(request)
        specs, problems = [], []
        for prefix, item in raw_apps(raw):
            spec, found = app_problems(item, None, prefix)
            problems += found
            if spec is not None:
                specs.append(spec)
        if problems:
            raise ValidationError(problems)
        registry = StrategyRegistry.discover()
        if strategy:
            registry.create(strategy)
        for spec in specs:
            if spec.strategy is not None:
                registry.create(spec.strategy)
        agents = load_cluster(backend.master().state())
        return Planner(registry, seed).plan(agents, requests_for(specs, agents, strategy)).to_json()

    @api.get("/v1/stats")
    def stats() -> Any:
        return backend.stats()

    @api.get("/metrics")
    def metrics() -> Response:
        return Response(render_metrics(backend), media_type="text/plain; version=0.0.4; charset=utf-8")

    @api.get("/v2/events")
    def events(request: Request, event_type: Optional[list[str]] = Query(None)) -> Response:
        """Server-Sent Events: ``event: TYPE`` / ``data: JSON``; ``event_type`` filters (repeatable)."""
        leader = backend.leader()
        if leader and leader != backend.address():
            return RedirectResponse(f"http://{leader}{request.url.path}?{request.url.query}", status_code=307)
        wanted = set(event_type or ())
        q = backend.subscribe()

        def stream():
            attached = {"eventType": "event_stream_attached", "remoteAddress": request.client.host if request.client
                        else None, "timestamp": iso(time.time())}
            try:
                if not wanted or "event_stream_attached" in wanted:
                    yield f"event: event_stream_attached\ndata: {json.dumps(attached)}\n\n"
                while True:
                    try:
                        event = q.get(timeout=15)
                    except queue.Empty:
                        yield ":\n\n"  # keep-alive comment
                        continue
                    if not wanted or event["eventType"] in wanted:
                        yield f"event: {event['eventType']}\ndata: {json.dumps(event)}\n\n"
            finally:
                backend.unsubscribe(q)

        return StreamingResponse(stream(), media_type="text/event-stream; charset=utf-8",
                                 headers={"Cache-Control": "no-cache"})

    @api.get("/v2/info")
    def info() -> Any:
        return backend.info()

    @api.get("/v2/leader")
    def leader() -> Any:
        where = backend.leader()
        return {"leader": where} if where else _error(404, "There is no leader")

    @api.delete("/v2/leader")
    def abdicate() -> Any:
        if not backend.abdicate():
            raise NotLeaderError(backend.leader())
        return {"message": "Leadership abdicated"}

    @api.get("/v2/tasks")
    def all_tasks(status: Optional[str] = None) -> Any:
        wanted = {"running": {"TASK_RUNNING"}, "staging": {"TASK_STAGING", "TASK_LAUNCHING", "TASK_STARTING"}}
        with backend.reading() as engine:
            return {"tasks": [task_json(t, engine.apps.get(t.app_id)) for t in engine.tasks.values()
                              if status is None or t.state in wanted.get(status, {status})]}

    @api.get("/v2/apps")
    def list_apps() -> Any:
        with backend.reading() as engine:
            return {"apps": [app_json(engine, a, embed_tasks=False) for a in engine.apps.values()]}

    @api.post("/v2/apps", status_code=201)
    async def create(request: Request, force: bool = False) -> Any:
        spec = validated(await body_json(request))
        with backend.reading() as engine:
            if spec.id in engine.apps:
                return _error(409, f"An app with id [{spec.id}] already exists.")
        deployment_id = new_id()
        backend.submit(PutApp(spec, deployment_id=deployment_id, force=force))
        with backend.reading() as engine:
            data = app_json(engine, engine.apps[spec.id])
        data["deployments"] = [{"id": deployment_id}]
        return JSONResponse(data, status_code=201)

    @api.get("/v2/apps/{app_id:path}/tasks")
    def app_tasks(app_id: str) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as engine:
            app = existing_app(engine, app_id)
            return {"tasks": [task_json(t, app) for t in engine.tasks_of(app_id)]}

    @api.delete("/v2/apps/{app_id:path}/tasks")
    def kill_tasks(app_id: str, host: Optional[str] = None, scale: bool = False) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as engine:
            existing_app(engine, app_id)
            chosen = [t for t in engine.tasks_of(app_id) if not t.killing and (host is None or t.hostname == host)]
            killed = [task_json(t, engine.apps.get(app_id)) for t in chosen]
        if chosen:
            backend.submit(KillTasks(app_id, tuple(t.task_id for t in chosen), scale))
        if scale:
            with backend.reading() as engine:
                return {"version": iso(engine.apps[app_id].version), "deploymentId": None}
        return {"tasks": killed}

    @api.delete("/v2/apps/{app_id:path}/tasks/{task_id}")
    def kill_task(app_id: str, task_id: str, scale: bool = False) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as engine:
            task = engine.tasks.get(task_id)
            if task is None or task.app_id != app_id:
                raise NotFoundError(f"Task '{task_id}' does not exist")
            killed = task_json(task, engine.apps.get(app_id))
        backend.submit(KillTasks(app_id, (task_id,), scale))
        return {"task": killed}

    @api.post("/v2/apps/{app_id:path}/restart")
    def restart(app_id: str, force: bool = False) -> Any:
        return change(RestartApp(path_id(app_id), deployment_id=new_id(), force=force))

    @api.get("/v2/apps/{app_id:path}")
    def get_app(app_id: str) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as engine:
            return {"app": app_json(engine, existing_app(engine, app_id))}

    @api.patch("/v2/apps/{app_id:path}")
    async def patch(app_id: str, request: Request, force: bool = False) -> Any:
        return await update(app_id, request, partialUpdate=True, force=force)

    @api.put("/v2/apps/{app_id:path}")
    async def update(app_id: str, request: Request, partialUpdate: bool = True,  # noqa: N803
                     force: bool = False) -> Any:
        app_id = path_id(app_id)
        raw = await body_json(request)
        if not isinstance(raw, dict):
            raise ValidationError([Problem("", "expected an app definition (a JSON object)")])
        if "id" in raw and path_id(str(raw["id"])) != app_id:
            raise ValidationError([Problem("id", f"does not match the path ({app_id})")])
        with backend.reading() as engine:
            existing = engine.apps.get(app_id)
            base = existing.spec.to_json() if existing is not None and partialUpdate else {}
        spec = validated(deep_merge(base, {**raw, "id": app_id}) if base else {**raw, "id": app_id})
        result = change(PutApp(spec, deployment_id=new_id(), force=force))
        return JSONResponse(result, status_code=200 if existing is not None else 201)

    @api.delete("/v2/apps/{app_id:path}")
    def delete(app_id: str, force: bool = False) -> Any:
        return change(DeleteApp(path_id(app_id), deployment_id=new_id(), force=force))

    @api.get("/v2/deployments")
    def deployments() -> Any:
        with backend.reading() as engine:
            return [deployment_json(d) for d in engine.deployments.values()]

    @api.get("/v2/deployments/{deployment_id}")
    def deployment(deployment_id: str) -> Any:
        """Halyard's addition: a deployment, running or ended (succeeded, failed, cancelled)."""
        with backend.reading() as engine:
            found = engine.deployments.get(deployment_id) or next(
                (d for d in reversed(engine.finished) if d.id == deployment_id), None)
            if found is None:
                raise NotFoundError(f"DeploymentPlan {deployment_id} does not exist")
            return deployment_json(found, halyard=True)

    @api.delete("/v2/deployments/{deployment_id}")
    def cancel_deployment(deployment_id: str, force: bool = False) -> Any:
        rollback_id = None if force else new_id()
        backend.submit(CancelDeployment(deployment_id, force=force, rollback_id=rollback_id))
        if force:
            return Response(status_code=202)
        with backend.reading() as engine:
            return {"deploymentId": rollback_id, "version": iso(engine.clock())}

    @api.get("/v2/queue")
    def queue() -> Any:
        with backend.reading() as engine:
            return queue_json(engine)

    @api.delete("/v2/queue/{app_id:path}/delay", status_code=204)
    def reset_delay(app_id: str) -> Response:
        backend.submit(ResetDelay(path_id(app_id)))
        return Response(status_code=204)

    @api.get("/v1/apps/{app_id:path}/placement")
    def placement(app_id: str) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as engine:
            return placement_json(engine, existing_app(engine, app_id))

    api.openapi = lambda: openapi_document(api)  # type: ignore[method-assign]
    return api


APP_BODIES = {("/v2/apps", "post"), ("/v2/apps/{app_id}", "put"), ("/v2/apps/{app_id}", "patch")}
JOB_BODIES = {("/v1/jobs", "post"), ("/v1/jobs/{job_id}", "put")}


def openapi_document(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the app definition schema for the routes that take one."""
    if api.openapi_schema:
        return api.openapi_schema
    from fastapi.openapi.utils import get_openapi

    from ..jobs.spec import JobSpec
    from ..model import AppSpec

    doc = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
    app_schema = AppSpec.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    definitions = app_schema.pop("$defs", {})
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.update(definitions)
    components["AppDefinition"] = app_schema
    job_schema = JobSpec.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    components.update(job_schema.pop("$defs", {}))
    components["JobDefinition"] = job_schema
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if (path, method) in APP_BODIES:
                operation["requestBody"] = {"required": method != "patch", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AppDefinition"}}}}
            elif (path, method) in JOB_BODIES:
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/JobDefinition"}}}}
    api.openapi_schema = doc
    return doc
