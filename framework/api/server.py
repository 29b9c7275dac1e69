"""The HTTP API as one FastAPI application: the token check, the error answers, and one router per
resource. Marathon's v2 paths and shapes, plus Halyard's /v1 additions.

Module map: ``apps``, ``versions`` (app versions, rollback), ``app_lists`` (PUT/PATCH of a list of
apps), ``groups``, ``tasks``, ``deployments``, ``queue`` (and placement reasons), ``event_stream`` (the
SSE hub and Marathon's event JSON), ``leader`` (ping, info, leader, stats), ``metrics``, ``placement_plan``,
``jobs`` (Metronome's shapes in ``metronome_jobs`` and ``metronome_runs``), ``eremetic`` (Eremetic's
``/api/v1/task``), ``releases``, ``endpoints`` (service discovery), ``pods`` (refused), ``ui`` (the dashboard at /ui/, /v1/whoami, /v1/cluster); ``auth``, ``errors``, ``inputs``, ``timestamps`` and ``openapi`` serve them all.
"""
from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request, Response

from .. import __version__
from ..releases.desk import ReleaseDesk
from ..runtime.backend import Backend
from . import (
    agents,
    app_lists,
    apps,
    auth,
    deployments,
    endpoints,
    eremetic,
    errors,
    event_stream,
    groups,
    jobs,
    leader,
    metrics,
    placement_plan,
    pods,
    queue,
    rebalance,
    releases,
    tasks,
    ui,
    versions,
)
from .audit import AuditLog
from .inputs import AppInputs
from .openapi import openapi_document
from .peers import Peers
from .scopes import ScopedBackend
from .tokens import TokenBook, TokenFile

Tokens = dict[str, str] | TokenBook | TokenFile | Callable[[], TokenBook]
#: on an answer read from a leader that has lost ZooKeeper: seconds since it was lost
STALE_HEADER = "X-Halyard-Stale"


def mark_stale(api: FastAPI, backend: Backend) -> None:
    """Answers to reads served while the leader's ZooKeeper session is suspended say so
    (:data:`STALE_HEADER`): the state is the one last written, and changes are refused meanwhile."""

    @api.middleware("http")
    async def stale(request: Request, call_next: Callable) -> Response:
        response: Response = await call_next(request)
        if request.method in ("GET", "HEAD"):
            since = backend.stale_for()
            if since is not None:
                response.headers[STALE_HEADER] = f"{since:.1f}"
        return response


def token_source(tokens: Tokens | None) -> Callable[[], TokenBook]:
    """What the auth middleware asks for the tokens in force: a tokens file's current book (it
    changes on reload), or fixed tokens (``{token: rw|ro}`` or a book)."""
    if isinstance(tokens, TokenFile):
        return lambda: tokens.book
    if callable(tokens) and not isinstance(tokens, (dict, TokenBook)):
        return tokens
    book = tokens if isinstance(tokens, TokenBook) else TokenBook.of(tokens or {})
    return lambda: book


def create_app(backend: Backend, hub: event_stream.EventHub | None = None, tokens: Tokens | None = None,
               auth_reads: bool = False, app_inputs: AppInputs | None = None,
               release_desk: ReleaseDesk | None = None, audit: AuditLog | None = None,
               peers: Peers | None = None) -> FastAPI:
    """The API over ``backend``; ``hub`` feeds ``/v2/events``; with ``tokens`` (a tokens file,
    a book, or token -> rw|ro) writes, and with ``auth_reads`` reads too, need a bearer token, and
    scoped tokens change (and read) only their part; ``app_inputs`` (the secret store and the
    scheduler's role) complete app definitions; ``release_desk`` serves /v1/releases; every
    write is audited to ``audit`` (a file) and to the event stream; a standby reaches its leader as
    ``peers`` says (HTTPS or plain)."""
    api = FastAPI(title="Halyard", version=__version__,
                  description="Marathon-compatible v2 API for Halyard, plus Halyard's /v1 additions.")
    api.state.app_inputs = app_inputs or AppInputs()
    api.state.peers = peers or Peers()
    hub = hub or event_stream.EventHub()
    auth.install(api, token_source(tokens), auth_reads, audit, hub.publish_json, listening=lambda: hub.streams > 0)
    errors.install(api, backend)
    mark_stale(api, backend)
    backend = ScopedBackend(backend)  # every command checked against the token's scope
    # Tasks and versions before apps: "/v2/apps/{id:path}" would also match ".../tasks".
    for router in (leader.routes(backend), metrics.routes(backend), placement_plan.routes(backend),
                   event_stream.routes(backend, hub), tasks.routes(backend), versions.routes(backend),
                   app_lists.routes(backend, hub.publish), apps.routes(backend), groups.routes(backend, hub.publish),
                   deployments.routes(backend), queue.routes(backend), jobs.routes(backend), eremetic.routes(backend),
                   pods.routes(backend),
                   endpoints.routes(backend), rebalance.routes(backend), agents.routes(backend)):
        api.include_router(router)
    if release_desk is not None:
        api.include_router(releases.routes(release_desk))
    ui.install(api, backend, token_source(tokens), auth_reads)
    api.openapi = lambda: openapi_document(api)  # type: ignore[method-assign]  # FastAPI's way to give the schema
    return api
