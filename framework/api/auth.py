"""Who may call the API: bearer tokens, read-write (``rw``) or read-only (``ro``)."""
from __future__ import annotations

from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
OPEN_PATHS = {"/ping", "/", "/ui", "/v1/whoami"}   # the dashboard's page asks for a token itself
OPEN_PREFIXES = ("/v1/executor/", "/ui/")   # the executor artifact (agents fetch it without a token); the dashboard's files


def check_token(method: str, path: str, authorization: Optional[str], tokens: dict[str, str],
                auth_reads: bool) -> Optional[JSONResponse]:
    """None when the request may go on; otherwise the 401/403 answer. ``tokens``: token -> rw|ro."""
    if not tokens or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) or (method not in WRITES and not auth_reads):
        return None
    scheme, _, token = (authorization or "").partition(" ")
    grant = tokens.get(token) if scheme.lower() == "bearer" else None
    if grant is None:
        return JSONResponse({"message": "authentication required: Authorization: Bearer <token>"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    if method in WRITES and grant != "rw":
        return JSONResponse({"message": "this token may only read"}, status_code=403)
    return None


def install(api: FastAPI, tokens: dict[str, str], auth_reads: bool) -> None:
    """Check every request's token before it reaches a route (no tokens: everyone may do everything)."""

    @api.middleware("http")
    async def _auth(request: Request, call_next: Any) -> Response:
        refused = check_token(request.method, request.url.path, request.headers.get("authorization"), tokens,
                              auth_reads)
        return refused if refused is not None else await call_next(request)
