"""Halyard's exceptions as HTTP answers (Marathon's bodies), and a standby forwarding to the leader.

    NotLeaderError     -> the leader's answer (proxied once), or 503 naming the leader (no leader known:
                          Marathon's "Could not determine the current leader")
    LeaderSuspendedError -> 503, Marathon's "Could not determine the current leader" (ZooKeeper is
                          unreachable: the leader accepts no change), with Halyard's ``reason``
    NotFoundError      -> 404
    ForbiddenError     -> 403, with the token's ``prefixes``
    ConflictError      -> 409, with the deployment in the way (``deployments: [{id}]``)
    ValidationError    -> 422, Marathon's ``details`` plus Halyard's ``problems``
    PluginError        -> 422 at ``strategy`` (the app's strategy plugin could not be loaded or started)
    UpstreamError      -> 502 (a Mesos master or agent did not answer)
    ClusterSourceError -> 502 (the master's state could not be read)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import (
    ClusterSourceError,
    ConflictError,
    ForbiddenError,
    LeaderSuspendedError,
    NotFoundError,
    NotLeaderError,
    PluginError,
    Problem,
    UpstreamError,
    ValidationError,
)
from ..runtime.backend import Backend

PROXIED = "x-halyard-proxied-by"
CLIENT = "x-halyard-client"   # whose request a standby forwards (the leader's audit records it)
FORWARDED = {"content-type", "authorization", "accept"}
PROXY_TIMEOUT = 60.0
#: Marathon's answer (503) when no scheduler can be named leader (its LeaderProxyFilter's)
NO_LEADER = "Could not determine the current leader"


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    """Marathon's error body: ``{"message": ...}`` and any extra fields."""
    return JSONResponse({"message": message, **extra}, status_code=status)


def invalid_json(problems: list[Problem]) -> dict[str, Any]:
    """Marathon's 422 body (JSON-pointer paths) with Halyard's ``path: problem`` lines alongside."""
    details = []
    for p in problems:
        pointer = "/" + p.path.replace("].", "/").replace("][", "/").replace("[", "/").replace("]", "").replace(".", "/")
        details.append({"path": pointer if p.path else "/", "errors": [p.message]})
    return {"message": "Object is not valid", "details": details, "problems": [str(p) for p in problems]}


def conflict_response(exc: ConflictError) -> JSONResponse:
    """409, listing the deployment that holds the app (if that is the conflict)."""
    deployments = [{"id": exc.deployment_id}] if exc.deployment_id else []
    return error_response(409, str(exc), deployments=deployments)


def forbidden_response(exc: ForbiddenError) -> JSONResponse:
    """403, with the prefixes of the token that was refused."""
    return error_response(403, str(exc), prefixes=list(exc.prefixes))


def install(api: FastAPI, backend: Backend) -> None:
    """Register the handlers for Halyard's exceptions."""

    async def not_leader(request: Request, exc: NotLeaderError) -> Response:
        """A standby forwards what it cannot answer to the leader (once: no proxy loops)."""
        if exc.leader and exc.leader != backend.address() and PROXIED not in request.headers:
            body = await request.body()
            headers = {**{k: v for k, v in request.headers.items() if k.lower() in FORWARDED},
                       PROXIED: backend.address(), CLIENT: request.client.host if request.client else ""}
            try:
                peers = request.app.state.peers
                upstream = await run_in_threadpool(lambda: requests.request(
                    request.method, peers.url(exc.leader, request.url.path),
                    params=list(request.query_params.multi_items()), data=body, timeout=PROXY_TIMEOUT, headers=headers,
                    **peers.requests_options()))
            except requests.RequestException as err:
                return error_response(503, f"not the leader, and the leader at {exc.leader} did not answer: {err}",
                                      leader=exc.leader)
            return Response(upstream.content, status_code=upstream.status_code,
                            media_type=upstream.headers.get("content-type"))
        if exc.leader is None:
            return error_response(503, NO_LEADER, leader=None, **({"reason": exc.reason} if exc.reason else {}))
        return error_response(503, str(exc), leader=exc.leader)

    async def suspended(request: Request, exc: LeaderSuspendedError) -> JSONResponse:
        return error_response(503, NO_LEADER, reason=str(exc))

    def simple(status: int) -> Callable[[Request, Exception], Any]:
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            return error_response(status, str(exc))
        return handler

    async def conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return conflict_response(exc)

    async def forbidden(request: Request, exc: ForbiddenError) -> JSONResponse:
        return forbidden_response(exc)

    async def invalid(request: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse(invalid_json(list(exc.problems)), status_code=422)

    async def plugin_failed(request: Request, exc: PluginError) -> JSONResponse:
        """The definition names a strategy whose plugin cannot serve it: bad input, not a crash."""
        return JSONResponse(invalid_json([Problem("strategy", str(exc))]), status_code=422)

    api.add_exception_handler(NotLeaderError, not_leader)  # type: ignore[arg-type]  # Starlette: any Exception
    api.add_exception_handler(LeaderSuspendedError, suspended)  # type: ignore[arg-type]  # Starlette: any Exception
    api.add_exception_handler(NotFoundError, simple(404))
    api.add_exception_handler(ForbiddenError, forbidden)  # type: ignore[arg-type]  # Starlette: any Exception
    api.add_exception_handler(ConflictError, conflict)  # type: ignore[arg-type]  # Starlette: any Exception
    api.add_exception_handler(ValidationError, invalid)  # type: ignore[arg-type]  # Starlette: any Exception
    api.add_exception_handler(PluginError, plugin_failed)  # type: ignore[arg-type]  # Starlette: any Exception
    api.add_exception_handler(UpstreamError, simple(502))
    api.add_exception_handler(ClusterSourceError, simple(502))
