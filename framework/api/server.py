"""The HTTP API as one FastAPI application: the token check, the error answers, and one router per
resource. Marathon's v2 paths and shapes, plus Halyard's /v1 additions.

Module map: ``apps``, ``versions`` (app versions, rollback), ``app_lists`` (PUT/PATCH of a list of
apps), ``groups``, ``tasks``, ``deployments``, ``queue`` (and placement reasons), ``events`` (the
SSE hub and Marathon's event JSON), ``leader`` (ping, info, leader, stats), ``metrics``, ``plan``,
``jobs``, ``releases``, ``endpoints`` (service discovery), ``pods`` (refused), ``ui`` (the dashboard at /ui/, /v1/whoami, /v1/cluster); ``auth``, ``errors``, ``inputs``, ``timestamps`` and ``openapi`` serve them all.
"""
from __future__ import annotations

from typing import Optional

from fastapi import FastAPI

from .. import __version__
from ..backend import Backend
from ..release_desk import ReleaseDesk
from . import (app_lists, apps, auth, deployments, endpoints, errors, events, groups, jobs, leader, metrics, plan, pods,
               queue, releases, tasks, ui, versions)
from .inputs import AppInputs
from .openapi import openapi_document


def create_app(backend: Backend, hub: Optional[events.EventHub] = None, tokens: Optional[dict[str, str]] = None,
               auth_reads: bool = False, app_inputs: Optional[AppInputs] = None,
               release_desk: Optional[ReleaseDesk] = None) -> FastAPI:
    """The API over ``backend``; ``hub`` feeds ``/v2/events``; with ``tokens`` (token -> rw|ro)
    writes, and with ``auth_reads`` reads too, need a bearer token; ``app_inputs`` (the secret
    store and the scheduler's role) complete app definitions; ``release_desk`` serves /v1/releases."""
    api = FastAPI(title="Halyard", version=__version__,
                  description="Marathon-compatible v2 API for Halyard, plus Halyard's /v1 additions.")
    api.state.app_inputs = app_inputs or AppInputs()
    auth.install(api, tokens or {}, auth_reads)
    errors.install(api, backend)
    # Tasks and versions before apps: "/v2/apps/{id:path}" would also match ".../tasks".
    hub = hub or events.EventHub()
    for router in (leader.routes(backend), metrics.routes(backend), plan.routes(backend),
                   events.routes(backend, hub), tasks.routes(backend), versions.routes(backend),
                   app_lists.routes(backend, hub.publish), apps.routes(backend), groups.routes(backend, hub.publish),
                   deployments.routes(backend), queue.routes(backend), jobs.routes(backend), pods.routes(backend),
                   endpoints.routes(backend)):
        api.include_router(router)
    if release_desk is not None:
        api.include_router(releases.routes(release_desk))
    ui.install(api, backend, tokens or {}, auth_reads)
    api.openapi = lambda: openapi_document(api)  # type: ignore[method-assign]
    return api
