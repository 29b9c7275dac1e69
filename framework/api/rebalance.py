"""``POST /v1/rebalance``: move running instances toward their strategy's goal (or say how, dry).

Body: ``{"apps": ["/web", ...], "dryRun": bool, "maxMoves": N, "minAge": seconds, "force": bool}``,
every field optional (no ``apps``: every app; ``force``: apps whose deployment is under way are
moved too, superseding it, instead of being skipped). The plan is made on the live cluster (the master's state: what
is free, what each agent is) and the scheduler's own task records (which instance runs where and
since when); without ``dryRun`` each app with moves gets a ``rebalance`` deployment. The answer:
``{"dryRun", "moves": [{app, task, fromAgent, fromHost, toAgent, toHost, reason, goal,
scoreBefore, scoreAfter}], "skipped": [{app, reason}], "deploymentIds": [...], "deployments":
[{"app", "id"}]}``.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ..errors import Problem, ValidationError
from ..rebalance.planner import DEFAULT_MIN_AGE, RebalancePlan
from ..runtime.backend import Backend
from ..runtime.rebalancing import rebalance
from ..spec.app import normalize_app_id
from .inputs import body_json, new_id


def parse_request(raw: Any) -> tuple[list[str] | None, bool, int | None, float, bool]:
    """(apps or None for all, dryRun, maxMoves, minAge, force) from a request body, or a 422 naming each bad field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError([Problem("", "expected an object such as {\"apps\": [\"/web\"], \"dryRun\": true}")])
    problems: list[Problem] = []
    unknown = sorted(set(raw) - {"apps", "dryRun", "maxMoves", "minAge", "force"})
    problems += [Problem(k, "unknown field (expected apps, dryRun, maxMoves, minAge, force)") for k in unknown]
    apps: list[str] | None = None
    if raw.get("apps") is not None:
        if not isinstance(raw["apps"], list):
            problems.append(Problem("apps", "must be a list of app ids"))
        else:
            apps = []
            for i, item in enumerate(raw["apps"]):
                try:
                    apps.append(normalize_app_id(item))
                except ValueError as exc:
                    problems.append(Problem(f"apps[{i}]", str(exc)))
    dry, force = raw.get("dryRun", False), raw.get("force", False)
    problems += [Problem(k, "must be true or false") for k, v in (("dryRun", dry), ("force", force))
                 if not isinstance(v, bool)]
    max_moves = raw.get("maxMoves")
    if max_moves is not None and (isinstance(max_moves, bool) or not isinstance(max_moves, int) or max_moves < 0):
        problems.append(Problem("maxMoves", "must be an integer >= 0"))
    min_age = raw.get("minAge", DEFAULT_MIN_AGE)
    if isinstance(min_age, bool) or not isinstance(min_age, (int, float)) or min_age < 0:
        problems.append(Problem("minAge", "must be a number of seconds >= 0"))
    if problems:
        raise ValidationError(problems)
    return apps, bool(dry), max_moves, float(min_age), bool(force)


def answer(plan: RebalancePlan, dry_run: bool, ids: dict[str, str]) -> dict[str, Any]:
    """The answer's JSON: the moves, the apps left alone, the deployments started."""
    return {"dryRun": dry_run, **plan.to_json(), "deploymentIds": list(ids.values()),
            "deployments": [{"app": app, "id": i} for app, i in ids.items()]}


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/rebalance")
    async def start(request: Request) -> Any:
        """Move running instances toward their strategy's goal; ``dryRun``: only say which moves."""
        wanted, dry_run, max_moves, min_age, force = parse_request(await body_json(request))
        plan, ids = await run_in_threadpool(rebalance, backend, wanted, dry_run, max_moves, min_age, new_id, force=force)
        return answer(plan, dry_run, ids)

    return router
