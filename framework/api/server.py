"""The HTTP API as one FastAPI application: the token check, the error answers, and one router per
resource. Marathon's v2 paths and shapes, plus Halyard's /v1 additions.

Module map: ``apps``, ``tasks``, ``deployments``, ``queue`` (and placement reasons), ``events`` (the
SSE hub and Marathon's event JSON), ``leader`` (ping, info, leader, stats), ``metrics``, ``plan``,
``jobs``, ``releases``; ``auth``, ``errors``, ``inputs``, ``timestamps`` and ``openapi`` serve them all.
"""
from __future__ import annotations

from typing import Optional

from fastapi import FastAPI

from .. import __version__
from ..backend import Backend
from ..release_desk import ReleaseDesk
from . import apps, auth, deployments, errors, events, jobs, leader, metrics, plan, queue, releases, tasks
from .openapi import openapi_document


def create_app(backend: Backend, hub: Optional[events.EventHub] = None, tokens: Optional[dict[str, str]] = None,
               auth_reads: bool = False, release_desk: Optional[ReleaseDesk] = None) -> FastAPI:
    """The API over ``backend``; ``hub`` feeds ``/v2/events``; with ``tokens`` (token -> rw|ro)
    writes, and with ``auth_reads`` reads too, need a bearer token; ``release_desk`` serves /v1/releases."""
    api = FastAPI(title="Halyard", version=__version__,
                  description="Marathon-compatible v2 API for Halyard, plus Halyard's /v1 additions.")
    auth.install(api, tokens or {}, auth_reads)
    errors.install(api, backend)
    # Tasks before apps: "/v2/apps/{id:path}" would also match ".../tasks".
    for router in (leader.routes(backend), metrics.routes(backend), plan.routes(backend),
                   events.routes(backend, hub or events.EventHub()), tasks.routes(backend), apps.routes(backend),
                   deployments.routes(backend), queue.routes(backend), jobs.routes(backend)):
        api.include_router(router)
    if release_desk is not None:
        api.include_router(releases.routes(release_desk))
    api.openapi = lambda: openapi_document(api)  # type: ignore[method-assign]
    return api
