"""``/v1/agents``: the cluster's agents as Halyard knows them now, and their drain.

* ``GET /v1/agents``: ``{"stream": {"up"}, "agents": [AGENT, ...]}``;
* ``GET /v1/agents/{host-or-id}``: one ``AGENT``; an unknown one is a 404 with ``knownHosts``;
* ``POST /v1/agents/{host}/drain``, body ``{"deadline": "10m" | seconds, "force": bool}`` (both
  optional): start a drain (``engine/drains.py``); answers the agent as it is then;
* ``POST /v1/agents/{host}/reactivate``: end its drain or deactivation.

``AGENT``: ``{id, host, zone, region, attributes, state, source, seenAt, goneAt, resources: {total,
halyard, others}, tasks: [{id, app, state, healthy}], drain}``; ``state`` is ``active``,
``draining``, ``drained``, ``deactivated`` or ``gone``; ``source`` where Halyard learned the agent
(``stream``, ``listing``, ``offer``); ``others`` is null while the operator stream is down. ``drain``:
``{startedAt, deadline, force, phase, note, apps: [{app, deploymentId, initial, left, status,
reasons}]}``. The changes are the whole cluster's: a scoped token may not make them.
"""
from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..cluster.agents import Resources
from ..engine.messages import DrainAgent, ReactivateAgent, ScheduleMaintenance
from ..engine.view import AgentRow
from ..errors import Problem, UnknownAgentError, ValidationError
from ..runtime.backend import Backend
from ..timestamps import iso, parse_iso
from .errors import error_response
from .inputs import body_json

DEFAULT_DEADLINE = 600.0
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _resources(r: Resources | None) -> dict[str, float] | None:
    return None if r is None else r.to_json()


def agent_json(row: AgentRow) -> dict[str, Any]:
    """One agent's JSON (see the module's docstring)."""
    drain = None
    if row.drain is not None:
        d = row.drain
        drain = {"startedAt": iso(d.started_at), "deadline": iso(d.deadline_at), "force": d.force, "phase": d.phase,
                 "note": d.note,
                 "apps": [{"app": a.app_id, "deploymentId": a.deployment_id, "initial": a.initial, "left": a.left,
                           "status": a.status, "reasons": list(a.reasons)} for a in row.drain_apps]}
    return {
        "id": row.agent_id, "host": row.hostname, "zone": row.zone, "region": row.region,
        "attributes": dict(row.attributes), "state": row.state, "source": row.source,
        "seenAt": iso(row.seen_at) if row.seen_at is not None else None,
        "goneAt": iso(row.gone_at) if row.gone_at is not None else None,
        "resources": {"total": _resources(row.total), "halyard": _resources(row.used_by_halyard),
                      "others": _resources(row.used_by_others)},
        "tasks": [{"id": t.task_id, "app": t.app_id, "state": t.state, "healthy": t.healthy} for t in row.tasks],
        "drain": drain,
        "maintenance": None if row.window is None else {
            "start": iso(row.window.start),
            "duration": row.window.duration},
    }


def parse_drain(raw: Any) -> tuple[float, bool]:
    """(deadline in seconds, force) from a drain's body, or a 422 naming each bad field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError([Problem("", "expected an object such as {\"deadline\": \"10m\", \"force\": false}")])
    problems = [Problem(k, "unknown field (expected deadline, force)") for k in sorted(set(raw) - {"deadline", "force"})]
    deadline: float = DEFAULT_DEADLINE
    given = raw.get("deadline")
    if isinstance(given, bool):
        problems.append(Problem("deadline", "must be a duration such as 10m, or seconds"))
    elif isinstance(given, (int, float)):
        deadline = float(given)
    elif isinstance(given, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", given)
        if match is None:
            problems.append(Problem("deadline", f"{given!r} is not a duration (e.g. 90s, 10m, 1h)"))
        else:
            deadline = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    elif given is not None:
        problems.append(Problem("deadline", "must be a duration such as 10m, or seconds"))
    if deadline < 0:
        problems.append(Problem("deadline", "must not be negative"))
    force = raw.get("force", False)
    if not isinstance(force, bool):
        problems.append(Problem("force", "must be true or false"))
    if problems:
        raise ValidationError(problems)
    return deadline, bool(force)


def _seconds(value: Any, field: str, problems: list[Problem]) -> float | None:
    """A duration (``"1h"``, ``"90s"``) or a number of seconds, or a problem at ``field``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", value)
        if match is not None:
            return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    problems.append(Problem(field, f"{value!r} is not a duration (e.g. 90s, 10m, 1h)"))
    return None


def parse_window(raw: Any) -> tuple[float, float]:
    """(start in epoch seconds, duration in seconds) of a maintenance window's body, or a 422."""
    if not isinstance(raw, dict):
        raise ValidationError([Problem("", "expected {\"start\": \"2026-12-08T02:00:00Z\", \"duration\": \"1h\"}")])
    problems = [Problem(k, "unknown field (expected start, duration)") for k in sorted(set(raw) - {"start", "duration"})]
    start: float | None = None
    given = raw.get("start")
    if isinstance(given, (int, float)) and not isinstance(given, bool):
        start = float(given)
    elif isinstance(given, str):
        try:
            start = parse_iso(given)
        except ValueError:
            problems.append(Problem("start", f"{given!r} is not a time (ISO 8601, e.g. 2026-12-08T02:00:00Z)"))
    else:
        problems.append(Problem("start", "required: an ISO 8601 time or epoch seconds"))
    duration = _seconds(raw.get("duration"), "duration", problems) if "duration" in raw else None
    if "duration" not in raw:
        problems.append(Problem("duration", "required: a duration such as 1h"))
    if problems or start is None or duration is None:
        raise ValidationError(problems)
    return start, duration


def unknown(exc: UnknownAgentError) -> JSONResponse:
    """404, with the hosts the cluster has."""
    return error_response(404, str(exc), knownHosts=list(exc.known_hosts))


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    def one(name: str) -> dict[str, Any]:
        with backend.reading() as view:
            return agent_json(view.agent(name))

    @router.get("/v1/agents")
    def listing() -> Any:
        """Every agent Halyard knows of, with its state, resources and Halyard's tasks."""
        with backend.reading() as view:
            return {"stream": {"up": view.stream_up}, "agents": [agent_json(r) for r in view.agents()]}

    @router.get("/v1/agents/{name}")
    def show(name: str) -> Any:
        """One agent, by hostname or id."""
        try:
            return one(name)
        except UnknownAgentError as exc:
            return unknown(exc)

    @router.post("/v1/agents/{name}/drain")
    async def drain(name: str, request: Request) -> Any:
        """Drain the agent: Halyard's apps move off within their upgradeStrategy, then the master drains it."""
        deadline, force = parse_drain(await body_json(request))
        try:
            await run_in_threadpool(backend.submit, DrainAgent(name, deadline, force))
            return await run_in_threadpool(one, name)
        except UnknownAgentError as exc:
            return unknown(exc)

    @router.post("/v1/agents/{name}/maintenance")
    async def maintenance(name: str, request: Request) -> Any:
        """Post a maintenance window for the agent (``{"start": ISO time or epoch seconds, "duration": "1h"}``)."""
        start, duration = parse_window(await body_json(request))
        try:
            await run_in_threadpool(backend.submit, ScheduleMaintenance(name, start, duration))
            return await run_in_threadpool(one, name)
        except UnknownAgentError as exc:
            return unknown(exc)

    @router.delete("/v1/agents/{name}/maintenance")
    def cancel_maintenance(name: str) -> Any:
        """Remove the agent's maintenance window."""
        try:
            backend.submit(ScheduleMaintenance(name))
            return one(name)
        except UnknownAgentError as exc:
            return unknown(exc)

    @router.post("/v1/agents/{name}/reactivate")
    def reactivate(name: str) -> Any:
        """End the agent's drain or deactivation: it takes tasks again."""
        try:
            backend.submit(ReactivateAgent(name))
            return one(name)
        except UnknownAgentError as exc:
            return unknown(exc)

    return router
