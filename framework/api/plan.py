"""``POST /v1/plan``: Halyard's dry run of placement against the live cluster; nothing changes."""
from __future__ import annotations

from collections import Counter
from typing import Any, Optional

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ..backend import Backend
from ..cluster import AgentInfo, load_cluster
from ..errors import ValidationError
from ..model import AppSpec, StrategyRef
from ..placement import PlacementRequest, Planner, StrategyRegistry
from ..validation import app_problems, raw_apps
from .inputs import body_json


def missing_instances(apps: list[AppSpec], agents: list[AgentInfo], strategy: Optional[str]) -> list[PlacementRequest]:
    """One request per app for the instances it still lacks on the cluster."""
    ref = StrategyRef(name=strategy) if strategy else None
    running: Counter[str] = Counter()
    for agent in agents:
        running.update(agent.app_tasks)
    return [PlacementRequest(app, max(0, app.instances - running[app.id]), ref) for app in apps]


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/plan")
    async def dry_run(request: Request, strategy: Optional[str] = None, seed: int = 0) -> Any:
        """Where would these apps' missing instances go on the live cluster, and why would any not
        fit? Body: one app definition, or ``{"apps": [...]}``. Nothing changes."""
        raw = await body_json(request)
        specs, problems = [], []
        for prefix, item in raw_apps(raw):
            spec, found = app_problems(item, None, prefix)
            problems += found
            if spec is not None:
                specs.append(spec)
        if problems:
            raise ValidationError(problems)
        registry = StrategyRegistry.discover()
        if strategy:
            registry.create(strategy)
        for spec in specs:
            if spec.strategy is not None:
                registry.create(spec.strategy)
        agents = load_cluster(await run_in_threadpool(backend.master().state))
        return Planner(registry, seed).plan(agents, missing_instances(specs, agents, strategy)).to_json()

    return router
