"""The audit log: every mutating request (POST, PUT, PATCH, DELETE; refused ones too) as one JSON
line, and as an ``api_post_event`` on ``/v2/events``.

A line (``--audit-log FILE``: appended, flushed per line)::

    {"time": "2026-12-02T05:10:11.123Z", "token": "ci-team-a", "remoteAddress": "10.0.0.7",
     "method": "PUT", "path": "/v2/apps/team-a/web?force=true", "status": 200,
     "deploymentId": "5f0c...", "forwardedFor": null}

``token`` is the token's name (``anonymous`` without one, ``unknown token`` for one the file
does not hold, ``-`` when no tokens file is configured); ``remoteAddress`` is the peer's address,
and ``forwardedFor`` the client's a standby says it forwarded the request for (None otherwise); ``deploymentId`` is there when a 2xx
answer carries one (``deploymentId``, the ``Marathon-Deployment-Id`` header, or the
``deployments`` an app's JSON lists). Nothing of the request's body and no header is recorded,
so neither a token nor a secret can reach the log.

The event has Marathon's ``ApiPostEvent`` fields (``eventType``, ``timestamp``, ``clientIp``,
``uri``: the path without the query, as Marathon's ``getRequestURI``; ``appDefinition`` when the
request put one app, as stored, its secrets masked) plus the line's fields (``token``,
``method``, ``path``, ``status``, ``deploymentId``).
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from ..timestamps import iso

log = logging.getLogger(__name__)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NO_TOKENS = "-"
ANONYMOUS = "anonymous"
UNKNOWN = "unknown token"


def deployment_id_of(status: int, headers: Mapping[str, str], body: Any) -> str | None:
    """The deployment a 2xx answer started (or names), if it carries one."""
    if not 200 <= status < 300:
        return None
    header = headers.get("marathon-deployment-id")
    if header:
        return header
    if isinstance(body, dict):
        if isinstance(body.get("deploymentId"), str):
            return body["deploymentId"]
        deployments = body.get("deployments")
        if isinstance(deployments, list) and deployments and isinstance(deployments[0], dict):
            found = deployments[0].get("id")
            return found if isinstance(found, str) else None
    return None


def audit_line(at: float, token: str, remote: str | None, method: str, path: str, query: str, status: int,
               deployment_id: str | None, forwarded_for: str | None = None) -> dict[str, Any]:
    """One request's audit record (the keys of a line, in order)."""
    return {"time": iso(at), "token": token, "remoteAddress": remote, "method": method,
            "path": f"{path}?{query}" if query else path, "status": status, "deploymentId": deployment_id,
            "forwardedFor": forwarded_for}


def audit_event(line: Mapping[str, Any], uri: str, app_definition: dict[str, Any] | None) -> dict[str, Any]:
    """The record as an ``api_post_event`` (Marathon's fields, then ours)."""
    event: dict[str, Any] = {"eventType": "api_post_event", "timestamp": line["time"],
                             "clientIp": line["remoteAddress"], "uri": uri}
    if app_definition is not None:
        event["appDefinition"] = app_definition
    event.update({k: line[k] for k in ("token", "method", "path", "status", "deploymentId", "forwardedFor")})
    return event


class AuditLog:
    """``--audit-log FILE``: one JSON line per record, appended and flushed (any thread)."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")

    def write(self, line: Mapping[str, Any]) -> None:
        text = json.dumps(line, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self._file.write(text)
                self._file.flush()
            except (OSError, ValueError) as exc:  # a full disk must not fail the request it records
                log.error("audit log %s not written: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            self._file.close()
