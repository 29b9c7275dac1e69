"""Who may call the API, and the record of what they changed.

Bearer tokens from ``--tokens-file`` (``Authorization: Bearer TOKEN``, DC/OS's ``token=TOKEN``, or the
password of HTTP Basic credentials, for clients that can send only those) (``tokens.py``): ``rw`` may change, ``ro`` only read; a token
with prefixes changes only what is under them (``scopes.py``: 403 naming the prefixes). Writes
need a token; reads too with ``--auth-reads``, and then a scoped token sees only its part
(``read_scopes.py``). Without tokens, everyone may do everything.

Every mutating request, refused ones included, is audited (``audit.py``): a line in
``--audit-log`` and an ``api_post_event`` on ``/v2/events``.
"""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..errors import ForbiddenError
from . import scopes
from .audit import ANONYMOUS, NO_TOKENS, UNKNOWN, WRITES, AuditLog, audit_event, audit_line, deployment_id_of
from .errors import CLIENT, PROXIED, forbidden_response
from .read_scopes import check_path, filter_read, filtered
from .tokens import Grant, TokenBook

OPEN_PATHS = {"/ping", "/", "/ui", "/v1/whoami"}   # the dashboard's page asks for a token itself
OPEN_PREFIXES = ("/v1/executor/", "/ui/")   # the executor artifact (agents fetch it without a token); the dashboard's files


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, of DC/OS's ``token=TOKEN`` (what
    marathon-python's ``auth_token`` and the DC/OS clients send), or the password of HTTP Basic
    credentials (``Basic base64(NAME:TOKEN)``, any name): what a client that sends no header of its
    own sends when its URL carries them (``http://eremetic:TOKEN@host:8080``, Eremetic's clients)."""
    text = (authorization or "").strip()
    if text[:6].lower() == "token=":
        return text[6:].strip() or None
    scheme, _, token = text.partition(" ")
    if scheme.lower() == "basic" and token.strip():
        try:
            _, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return password or None
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_token(method: str, path: str, authorization: str | None, tokens: TokenBook | dict[str, str],
                auth_reads: bool) -> JSONResponse | None:
    """None when the request may go on; otherwise the 401/403 answer (``tokens`` may be a plain
    ``{token: "rw"|"ro"}``)."""
    book = tokens if isinstance(tokens, TokenBook) else TokenBook.of(tokens)
    return authenticate(method, path, authorization, book, auth_reads)[1]


def authenticate(method: str, path: str, authorization: str | None, book: TokenBook,
                 auth_reads: bool) -> tuple[Grant | None, JSONResponse | None]:
    """(the token's grant, if it has a known one; the 401/403 answer when the request may not go on)."""
    token = bearer(authorization)
    grant = book.grant(token) if token is not None else None
    if not book or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) or (method not in WRITES and not auth_reads):
        return grant, None
    if grant is None:
        return None, JSONResponse({"message": "authentication required: Authorization: Bearer <token>"},
                                  status_code=401, headers={"WWW-Authenticate": "Bearer"})
    if method in WRITES and not grant.writes:
        return grant, JSONResponse({"message": f"token '{grant.name}' may only read"}, status_code=403)
    return grant, None


def who(book: TokenBook, authorization: str | None, grant: Grant | None) -> str:
    """The audit's ``token``: the grant's name, or why there is none."""
    if grant is not None:
        return grant.name
    if not book:
        return NO_TOKENS
    return UNKNOWN if bearer(authorization) is not None else ANONYMOUS


async def _body(response: Any) -> bytes:
    return b"".join([chunk async for chunk in response.body_iterator])


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _rebuilt(response: Any, raw: bytes) -> Response:
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(raw, status_code=response.status_code, headers=headers)


def _refused(method: str, path: str, header: str | None, book: TokenBook,
             auth_reads: bool) -> tuple[Grant | None, bool, JSONResponse | None]:
    """(the grant, whether its reads are scoped, the answer when the request may not go on)."""
    grant, refused = authenticate(method, path, header, book, auth_reads)
    reads_scoped = bool(auth_reads and grant is not None and grant.scoped)
    if refused is None and grant is not None and grant.scoped and (method in WRITES or reads_scoped):
        try:
            check_path(path, grant, "change" if method in WRITES else "read")
        except ForbiddenError as exc:
            refused = forbidden_response(exc)
    return grant, reads_scoped, refused


async def _scoped_read(path: str, response: Any, grant: Grant) -> Response:
    """A list answer with only what ``grant`` covers (``read_scopes.filter_read``)."""
    if "json" not in (response.headers.get("content-type") or ""):
        return response
    raw = await _body(response)
    body = _json(raw)
    if body is None:
        return _rebuilt(response, raw)
    try:
        return JSONResponse(filter_read(path, body, grant), status_code=response.status_code)
    except ForbiddenError as exc:
        return forbidden_response(exc)


def install(api: FastAPI, tokens: Callable[[], TokenBook], auth_reads: bool, audit: AuditLog | None = None,
            publish: Callable[[dict[str, Any]], None] | None = None,
            clock: Callable[[], float] = time.time, listening: Callable[[], bool] = lambda: True) -> None:
    """Check every request's token before it reaches a route (``tokens()``: the tokens in force
    now, so a reload counts from the next request), limit a scoped token's reads with
    ``auth_reads``, and audit every write to ``audit`` and ``publish`` (``listening()``: whether
    ``publish`` has anyone to tell now; with no audit file and no one listening, a write's answer is
    passed on as it is, not read again for its deployment id)."""

    def audited() -> bool:
        return audit is not None or (publish is not None and listening())

    def record(request: Request, book: TokenBook, grant: Grant | None, status: int, deployment_id: str | None,
               app_definition: dict[str, Any] | None) -> None:
        header = request.headers.get("authorization")
        remote = request.client.host if request.client else None
        forwarded_for = request.headers.get(CLIENT) if PROXIED in request.headers else None
        line = audit_line(clock(), who(book, header, grant), remote, request.method, request.url.path,
                          request.url.query, status, deployment_id, forwarded_for or None)
        if audit is not None:
            audit.write(line)
        if publish is not None:
            publish(audit_event(line, request.url.path, app_definition))

    @api.middleware("http")
    async def _auth(request: Request, call_next: Any) -> Response:
        method, path = request.method, request.url.path
        book = tokens()
        grant, reads_scoped, refused = _refused(method, path, request.headers.get("authorization"), book, auth_reads)
        if refused is not None:
            if method in WRITES:
                record(request, book, grant, refused.status_code, None, None)
            return refused
        scope = scopes.RequestScope(grant, reads_scoped)
        reset = scopes.enter(scope)
        try:
            response = await call_next(request)
        except Exception:
            if method in WRITES:
                record(request, book, grant, 500, None, scope.app_definition)
            raise
        finally:
            scopes.leave(reset)
        if method in WRITES and audited():
            raw = await _body(response)
            record(request, book, grant, response.status_code,
                   deployment_id_of(response.status_code, response.headers, _json(raw)), scope.app_definition)
            return _rebuilt(response, raw)
        if reads_scoped and filtered(path):
            return await _scoped_read(path, response, grant)  # type: ignore[arg-type]  # reads are scoped for a grant only
        return response
