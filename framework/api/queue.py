"""What waits to be launched, and why: ``/v2/queue`` (Marathon's) and ``/v1/apps/{id}/placement``."""
from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..engine.app_records import AppRecord
from ..engine.messages import ResetDelay
from ..engine.view import EngineView
from ..runtime.backend import Backend
from .apps import app_json
from .inputs import path_id


def queue_json(view: EngineView) -> dict[str, Any]:
    """Every app with instances waiting: how many, its backoff, and why they were not placed."""
    now = time.time()
    waiting = []
    for app in view.apps():
        count = view.pending(app)
        if not count:
            continue
        left = max(0.0, app.launch_after - now)
        waiting.append({"app": app_json(view, app, embed_tasks=False), "count": count,
                        "delay": {"timeLeftSeconds": round(left, 3), "overdue": left == 0},
                        "reasons": list(view.waiting(app.app_id))})
    return {"queue": waiting}


def placement_json(view: EngineView, app: AppRecord) -> dict[str, Any]:
    """Why an app's instances are (not) placed: Halyard's own ``GET /v1/apps/{id}/placement``."""
    now = time.time()
    return {"app": app.app_id, "instances": app.spec.instances, "pending": view.pending(app),
            "delaySeconds": round(max(0.0, app.launch_after - now), 3), "currentDelay": app.delay,
            "reasons": list(view.waiting(app.app_id))}


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/v2/queue")
    def queue() -> Any:
        with backend.reading() as view:
            return queue_json(view)

    @router.delete("/v2/queue/{app_id:path}/delay", status_code=204)
    def reset_delay(app_id: str) -> Response:
        backend.submit(ResetDelay(path_id(app_id)))
        return Response(status_code=204)

    @router.get("/v1/apps/{app_id:path}/placement")
    def placement(app_id: str) -> Any:
        app_id = path_id(app_id)
        with backend.reading() as view:
            return placement_json(view, view.app(app_id))

    return router
