"""``POST /v1/plan``: Halyard's dry run of placement against the live cluster; nothing changes."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ..cluster.agents import load_cluster
from ..errors import Problem, ValidationError
from ..placement import Planner, StrategyRegistry, requests_for
from ..placement.compare import compare as compare_plans
from ..placement.compare import parse_names
from ..placement.compare import to_json as comparison_json
from ..runtime.backend import Backend
from ..spec.app import StrategyRef
from ..spec.validation import app_problems, raw_apps
from .inputs import body_json


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/plan")
    async def dry_run(request: Request, strategy: str | None = None, seed: int = 0,
                      compare: str | None = None) -> Any:
        """Where would these apps' missing instances go on the live cluster, and why would any not
        fit? Body: one app definition, or ``{"apps": [...]}``. Nothing changes.

        ``compare=a,b``: plan the apps under each strategy instead (each replacing the apps'
        own), one entry per strategy: ``{"strategies": [{"strategy", "placed", "unplaced",
        "agents_used", "lower_bound", "max_min_per_agent", "max_min_per_zone", "largest_fit":
        {"cpus", "mem"}, "seconds"}]}``."""
        if compare is not None and strategy:
            raise ValidationError([Problem("compare", "give strategy or compare, not both")])
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
        contenders = []
        if compare is not None:
            for name in parse_names(compare):
                try:
                    registry.check(name)
                except ValidationError as exc:
                    raise ValidationError([Problem("compare", f"{name}: {p.message}") for p in exc.problems]) from None
                contenders.append((name, StrategyRef(name=name)))
        agents = load_cluster(await run_in_threadpool(backend.master().state))
        if contenders:
            rows = compare_plans(Planner(registry, seed), agents, requests_for(specs, agents, None), contenders)
            return comparison_json(rows)
        return Planner(registry, seed).plan(agents, requests_for(specs, agents, strategy)).to_json()

    return router
