"""``POST /v1/rebalance``: move running instances toward their strategy's goal (or say how, dry).

Body: ``{"apps": ["/web", ...], "dryRun": bool, "maxMoves": N, "minAge": seconds}``, every field
optional (no ``apps``: every app). The plan is made on the live cluster (the master's state: what
is free, what each agent is) and the scheduler's own task records (which instance runs where and
since when); without ``dryRun`` each app with moves gets a ``rebalance`` deployment. The answer:
``{"dryRun", "moves": [{app, task, fromAgent, fromHost, toAgent, toHost, reason, goal,
scoreBefore, scoreAfter}], "skipped": [{app, reason}], "deploymentIds": [...], "deployments":
[{"app", "id"}]}``.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ..backend import Backend
from ..cluster import load_cluster
from ..engine.messages import StartRebalance
from ..engine.rebalance import DEFAULT_MIN_AGE, Move, RebalanceApp, RebalancePlan, RebalancePlanner
from ..engine.rebalance_state import RunningTask
from ..engine.view import EngineView
from ..errors import NotFoundError, Problem, ValidationError
from ..model import normalize_app_id
from ..placement import Planner, StrategyRegistry
from .inputs import body_json, new_id


def parse_request(raw: Any) -> tuple[Optional[list[str]], bool, Optional[int], float]:
    """(apps or None for all, dryRun, maxMoves, minAge) from a request body, or a 422 naming each bad field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError([Problem("", "expected an object such as {\"apps\": [\"/web\"], \"dryRun\": true}")])
    problems: list[Problem] = []
    unknown = sorted(set(raw) - {"apps", "dryRun", "maxMoves", "minAge"})
    problems += [Problem(k, "unknown field (expected apps, dryRun, maxMoves, minAge)") for k in unknown]
    apps: Optional[list[str]] = None
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
    dry = raw.get("dryRun", False)
    if not isinstance(dry, bool):
        problems.append(Problem("dryRun", "must be true or false"))
    max_moves = raw.get("maxMoves")
    if max_moves is not None and (isinstance(max_moves, bool) or not isinstance(max_moves, int) or max_moves < 0):
        problems.append(Problem("maxMoves", "must be an integer >= 0"))
    min_age = raw.get("minAge", DEFAULT_MIN_AGE)
    if isinstance(min_age, bool) or not isinstance(min_age, (int, float)) or min_age < 0:
        problems.append(Problem("minAge", "must be a number of seconds >= 0"))
    if problems:
        raise ValidationError(problems)
    return apps, bool(dry), max_moves, float(min_age)


def rebalance_apps(view: EngineView, wanted: Optional[Sequence[str]]) -> list[RebalanceApp]:
    """The apps to plan for (all, or ``wanted``: unknown ones are a 404), with their running instances."""
    records = {a.app_id: a for a in view.apps()}
    for app_id in wanted or ():
        if app_id not in records:
            raise NotFoundError(f"App '{app_id}' does not exist")
    out = []
    for app_id in (wanted if wanted else sorted(records)):
        app = records[app_id]
        if app.deleting:
            continue
        tasks = tuple(RunningTask(t.task_id, t.agent_id, t.started_at if t.running else None, t.resources)
                      for t in view.tasks_of(app_id) if t.live)
        deployment = next(iter(view.deployments_of(app_id)), None)
        busy = f"deployment {deployment.id} under way" if deployment is not None else None
        out.append(RebalanceApp(app.spec.workload(), tasks, busy))
    return out


def rebalance(backend: Backend, wanted: Optional[Sequence[str]], dry_run: bool, max_moves: Optional[int],
              min_age: float, make_id: Callable[[], str] = new_id) -> dict[str, Any]:
    """Plan on the live cluster and, unless ``dry_run``, start the moves: the answer's JSON.
    (Also what the scheduler runs by itself when agents join, see ``auto_rebalance.py``.)"""
    agents = load_cluster(backend.master().state())
    with backend.reading() as view:
        apps = rebalance_apps(view, wanted)
        now = view.now()
    plan = RebalancePlanner(Planner(StrategyRegistry.discover()), min_age=min_age, max_moves=max_moves).plan(
        apps, agents, now)
    ids: dict[str, str] = {}
    if not dry_run and plan.moves:
        by_app: dict[str, list[Move]] = {}
        for move in plan.moves:
            by_app.setdefault(move.app_id, []).append(move)
        ids = {app_id: make_id() for app_id in by_app}
        backend.submit(StartRebalance(tuple((a, ids[a], tuple(m)) for a, m in by_app.items())))
    return answer(plan, dry_run, ids)


def answer(plan: RebalancePlan, dry_run: bool, ids: dict[str, str]) -> dict[str, Any]:
    return {"dryRun": dry_run, **plan.to_json(), "deploymentIds": list(ids.values()),
            "deployments": [{"app": app, "id": i} for app, i in ids.items()]}


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/rebalance")
    async def start(request: Request) -> Any:
        """Move running instances toward their strategy's goal; ``dryRun``: only say which moves."""
        wanted, dry_run, max_moves, min_age = parse_request(await body_json(request))
        return await run_in_threadpool(rebalance, backend, wanted, dry_run, max_moves, min_age)

    return router
