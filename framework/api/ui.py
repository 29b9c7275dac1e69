"""The web dashboard: ``/ui/`` (the static files of :mod:`halyard.ui`), ``GET /`` -> ``/ui/``, and
two reads it needs: ``GET /v1/whoami`` (what the caller's token may do) and ``GET /v1/cluster``
(every agent with its tasks, for the cluster picture).

A standby serves ``/ui/`` and ``/v1/whoami`` itself; ``/v1/cluster`` reads the engine, so a standby
forwards it to the leader like every other read (``errors.py``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from ..cluster.mesos_types import TERMINAL
from ..engine.app_records import TaskRecord
from ..runtime.backend import Backend
from ..timestamps import iso
from ..ui import STATIC_DIR
from .auth import bearer
from .tasks import STATE_NAMES
from .tokens import TokenBook

UI_PATH = "/ui/"


def health_of(task: TaskRecord) -> str:
    """``healthy``/``unhealthy`` from the task's last health check; ``unknown`` without one."""
    return "unknown" if task.healthy is None else "healthy" if task.healthy else "unhealthy"


def task_json(task: TaskRecord) -> dict[str, Any]:
    """One task of ``/v1/cluster``: where it runs, what it takes, its state and health."""
    cpus, mem = task.resources[0], task.resources[1]
    return {"id": task.task_id, "appId": task.app_id, "agentId": task.agent_id, "host": task.hostname,
            "ports": list(task.ports), "cpus": cpus, "mem": mem, "state": STATE_NAMES.get(task.state, task.state),
            "health": health_of(task), "draining": task.killing,
            "unreachable": task.unreachable_since is not None, "version": task.config_version}


def _scalars(value: Any) -> dict[str, float]:
    value = value if isinstance(value, dict) else {}
    return {k: float(value.get(k) or 0.0) for k in ("cpus", "mem", "disk")}


def agent_json(agent: dict[str, Any]) -> dict[str, Any]:
    """One agent of the master's ``/master/slaves`` as ``/v1/cluster`` shows it."""
    domain = ((agent.get("domain") or {}).get("fault_domain") or {})
    attributes = agent.get("attributes") or {}
    zone = (domain.get("zone") or {}).get("name") or attributes.get("zone")
    rack = attributes.get("rack_id") or attributes.get("rack")
    return {"id": agent["id"], "hostname": agent.get("hostname", ""),
            "zone": zone if isinstance(zone, str) else None,
            "region": (domain.get("region") or {}).get("name"),
            "rack": rack if isinstance(rack, str) else None,
            # Mesos' ``active`` is false for a deactivated (or drained) agent too: that one is
            # connected, and its state (``halyard agents``') tells why it takes nothing.
            "reachable": bool(agent.get("active", True)) or bool(agent.get("deactivated", False)),
            "resources": _scalars(agent.get("resources")), "used": _scalars(agent.get("used_resources"))}


def cluster_json(state: dict[str, Any], tasks: list[TaskRecord],
                 states: dict[str, tuple[str, str | None]] | None = None) -> dict[str, Any]:
    """``/v1/cluster``: the master's agents (and, marked unreachable, agents only our tasks still
    name) and this framework's live tasks; ``states``: agent id -> (``halyard agents``' state, the
    start of its maintenance window), each agent's ``state`` and ``maintenanceStart``."""
    agents = [agent_json(a) for a in state.get("slaves") or []]
    for a in agents:
        a["state"], a["maintenanceStart"] = (states or {}).get(a["id"], ("active", None))
    known = {a["id"] for a in agents}
    for task in tasks:
        if task.agent_id not in known:
            known.add(task.agent_id)
            agents.append({"id": task.agent_id, "hostname": task.hostname, "zone": None, "region": None,
                           "rack": None, "reachable": False, "resources": _scalars(None), "used": _scalars(None),
                           "state": "gone", "maintenanceStart": None})
    return {"agents": agents, "tasks": [task_json(t) for t in tasks]}


def whoami_json(authorization: str | None, tokens: TokenBook, auth_reads: bool) -> dict[str, Any]:
    """``/v1/whoami``: whether the caller's token is known and what it may do (``access`` rw|ro,
    its ``name`` and, for a scoped token, the id ``prefixes`` it may change)."""
    token = bearer(authorization)
    grant = tokens.grant(token) if token is not None else None
    return {"authenticated": grant is not None, "access": grant.access if grant else None,
            "name": grant.name if grant else None, "prefixes": list(grant.prefixes) if grant else [],
            "tokensRequired": bool(tokens), "readsOpen": not (tokens and auth_reads)}


def routes(backend: Backend, tokens: Callable[[], TokenBook], auth_reads: bool) -> APIRouter:
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """The dashboard."""
        return RedirectResponse(UI_PATH, status_code=302)

    @router.get("/ui", include_in_schema=False)
    def ui_without_slash() -> RedirectResponse:
        return RedirectResponse(UI_PATH, status_code=302)

    @router.get("/v1/whoami")
    def whoami(request: Request) -> Any:
        """What the caller's token may do: ``{authenticated, access: rw|ro|null, tokensRequired, readsOpen}``."""
        return whoami_json(request.headers.get("authorization"), tokens(), auth_reads)

    @router.get("/v1/cluster")
    async def cluster() -> Any:
        """Every agent (zone, rack, resources, used, reachable) and this framework's live tasks."""
        def tasks() -> tuple[list[TaskRecord], dict[str, tuple[str, str | None]]]:
            with backend.reading() as view:  # NotLeaderError on a standby: forwarded to the leader
                states = {r.agent_id: (r.state, iso(r.window.start) if r.window is not None else None)
                          for r in view.agents()}
                return [t for t in view.tasks() if t.state not in TERMINAL and not t.expired], states
        live, states = await run_in_threadpool(tasks)
        state = await run_in_threadpool(backend.master().slaves)  # the agents only; ClusterSourceError: 502
        return cluster_json(state, live, states)

    return router


def install(api: FastAPI, backend: Backend, tokens: Callable[[], TokenBook], auth_reads: bool) -> None:
    """Mount the dashboard's files at ``/ui/`` and its routes (``tokens()``: the tokens in force now)."""
    api.include_router(routes(backend, tokens, auth_reads))
    api.mount(UI_PATH, StaticFiles(directory=STATIC_DIR, html=True), name="ui")
