"""Releases (Halyard's ``/v1``): ``POST /v1/releases`` (``deploy``, ``promote`` and ``rollback``
send it), ``GET /v1/releases[?service=&environment=]`` and ``GET /v1/releases/{service}/{environment}``."""
from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import Problem, ValidationError
from ..releases.desk import ReleaseDesk, ReleaseRequest
from ..releases.images import is_digest, uri_checksum_problem
from ..releases.records import Release, current
from ..spec.validation import app_problems
from ..timestamps import iso
from . import scopes
from .auth import bearer
from .inputs import body_json

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
FLAGS = ("force", "forced", "rollback")
RELEASE_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def release_json(release: Release, is_current: bool = False) -> dict[str, Any]:
    """One release as the API shows it."""
    return {
        "id": release.id, "service": release.service, "environment": release.environment,
        "version": release.version, "appId": release.app_id, "image": release.image, "digest": release.digest,
        "pinned": release.pinned, "fetch": list(release.fetch), "appVersion": release.app_version,
        "who": release.who, "at": iso(release.at), "deploymentId": release.deployment_id, "result": release.result,
        "failures": list(release.failures), "endedAt": iso(release.ended_at) if release.ended_at else None,
        "forced": release.forced, "promotedFrom": release.promoted_from, "rollback": release.rollback,
        "resolveSeconds": release.resolve_seconds, "current": is_current,
    }


def history_json(history: list[Release]) -> list[dict[str, Any]]:
    """A history, newest first, its current release marked."""
    now = current(history)
    return [release_json(r, now is not None and r.id == now.id) for r in reversed(history)]


def release_request(raw: Any) -> ReleaseRequest:
    """``POST /v1/releases``'s body as a request, or a 422 naming every problem."""
    if not isinstance(raw, dict):
        raise ValidationError([Problem("", "expected {service, environment, version, app, ...}")])
    problems = []
    for key in ("service", "environment"):
        if not isinstance(raw.get(key), str) or not NAME.match(raw[key]):
            problems.append(Problem(key, "required: letters, digits, '.', '_' and '-'"))
    if not isinstance(raw.get("version"), str) or not raw["version"].strip():
        problems.append(Problem("version", "required: a non-empty string"))
    digest = raw.get("digest")
    if digest is not None and (not isinstance(digest, str) or not is_digest(digest)):
        problems.append(Problem("digest", "expected sha256:<64 hexadecimal digits>"))
    if raw.get("promotedFrom") is not None and not isinstance(raw["promotedFrom"], str):
        problems.append(Problem("promotedFrom", "expected an environment name"))
    if raw.get("id") is not None and (not isinstance(raw["id"], str) or not RELEASE_ID.match(raw["id"])):
        problems.append(Problem("id", "expected 8 to 64 letters, digits and '-' (the client's id for the release)"))
    problems += [Problem(k, "expected true or false") for k in FLAGS if not isinstance(raw.get(k, False), bool)]
    problems += [Problem(k, "unknown field") for k in sorted(set(raw) - {"service", "environment", "version", "app", "id",
                                                                          "digest", "promotedFrom", *FLAGS})]
    spec, found = app_problems(raw.get("app"), None, ("app",)) if "app" in raw else (None, [Problem("app", "required")])
    problems += found
    for i, fetch in enumerate(spec.fetch if spec is not None else ()):
        problem = uri_checksum_problem(fetch.uri)
        if problem:
            problems.append(Problem(f"app.fetch[{i}].uri", problem))
    if problems or spec is None:
        raise ValidationError(problems)
    return ReleaseRequest(raw["service"], raw["environment"], raw["version"], spec, digest, raw.get("force", False),
                          raw.get("forced", False), raw.get("promotedFrom"), raw.get("rollback", False), raw.get("id"))


def routes(desk: ReleaseDesk) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/releases", status_code=201)
    async def create(request: Request) -> Any:
        """Deploy a version as a release: pin its digest, record it, start its deployment.
        201: ``{"release": ..., "deploymentId": ...}``; a body whose ``id`` is recorded already
        (a retry) answers that release and changes nothing."""
        req = release_request(await body_json(request))
        scopes.require([req.spec.id])   # a scoped token releases only its apps
        grant = scopes.current_grant()
        who = grant.name if grant is not None else desk.who(bearer(request.headers.get("authorization")))
        try:
            release = await run_in_threadpool(desk.release, req, who)
        except ValidationError as exc:
            raise ValidationError([Problem(f"app.{p.path}" if p.path.startswith("container") else p.path, p.message)
                                   for p in exc.problems]) from None
        return JSONResponse({"release": release_json(release), "deploymentId": release.deployment_id},
                            status_code=201)

    @router.get("/v1/releases")
    def list_releases(service: str | None = None, environment: str | None = None) -> Any:
        """Every release (newest first within each service and environment), filtered."""
        out: list[dict[str, Any]] = []
        for _, history in sorted(desk.histories(service, environment).items()):
            out += history_json(history)
        return {"releases": out}

    @router.get("/v1/releases/{service}/{environment}")
    def releases_of(service: str, environment: str) -> Any:
        """The releases of one service in one environment, newest first, and the one running now."""
        history = desk.histories(service, environment).get((service, environment), [])
        now = current(history)
        return {"service": service, "environment": environment,
                "current": release_json(now, True) if now else None, "releases": history_json(history)}

    return router
