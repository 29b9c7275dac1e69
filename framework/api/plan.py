"""``POST /v1/plan``: Halyard's dry run of placement against the live cluster; nothing changes."""
from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ..backend import Backend
from ..cluster import load_cluster
from ..errors import ValidationError
from ..placement import Planner, StrategyRegistry, requests_for
from ..validation import app_problems, raw_apps
from .inputs import body_json


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
            registry.check(strategy)
        for spec in specs:
            if spec.strategy is not None:
                registry.check(spec.strategy)  # a broken plugin: the plan says so, for the apps it fails
        agents = load_cluster(await run_in_threadpool(backend.master().state))
        return Planner(registry, seed).plan(agents, requests_for(specs, agents, strategy)).to_json()

    return router
