"""Rebalancing the live cluster: plan on the master's state and the scheduler's task records, then
start the moves (``POST /v1/rebalance``, and the scheduler's own runs when agents join).

Reads the master (I/O) and submits to the engine through the :class:`~halyard.runtime.backend.Backend`;
the planning itself is pure (:mod:`halyard.rebalance.planner`), the moves run in the engine
(:mod:`halyard.engine.rebalance_moves`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ..cluster.agents import AgentInfo, load_cluster
from ..engine.messages import StartRebalance
from ..engine.view import EngineView
from ..errors import NotFoundError
from ..placement import Planner, StrategyRegistry
from ..rebalance.planner import Move, RebalanceApp, RebalancePlan, RebalancePlanner
from ..rebalance.state import RunningTask
from .backend import Backend


def rebalance_apps(view: EngineView, wanted: Sequence[str] | None, force: bool = False) -> list[RebalanceApp]:
    """The apps to plan for (all, or ``wanted``: an unknown one is a NotFoundError), with their
    live instances (a running one's start time; None for one not running yet: it never moves).
    An app whose deployment is under way is left alone, unless ``force``."""
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
        busy = f"deployment {deployment.id} under way" if deployment is not None and not force else None
        out.append(RebalanceApp(app.spec.workload(), tasks, busy))
    return out


def rebalance(backend: Backend, wanted: Sequence[str] | None, dry_run: bool, max_moves: int | None,
              min_age: float, new_id: Callable[[], str],
              agents: Sequence[AgentInfo] | None = None, force: bool = False) -> tuple[RebalancePlan, dict[str, str]]:
    """Plan on the live cluster (``agents``, when the caller has just read them from the master)
    and, unless ``dry_run``, start one ``rebalance`` deployment per app with moves: the plan, and
    the deployments' ids by app. ``force``: apps whose deployment is under way are moved too,
    the rebalance superseding it."""
    if agents is None:
        agents = load_cluster(backend.master().state())
    with backend.reading() as view:
        apps = rebalance_apps(view, wanted, force)
        now = view.now()
        leaving = view.leaving_agents()
    agents = [a for a in agents if a.id not in leaving]  # being drained: nothing moves there
    planner = RebalancePlanner(Planner(StrategyRegistry.discover()), min_age=min_age, max_moves=max_moves)
    plan = planner.plan(apps, agents, now)
    ids: dict[str, str] = {}
    if not dry_run and plan.moves:
        by_app: dict[str, list[Move]] = {}
        for move in plan.moves:
            by_app.setdefault(move.app_id, []).append(move)
        ids = {app_id: new_id() for app_id in by_app}
        backend.submit(StartRebalance(tuple((a, ids[a], tuple(m)) for a, m in by_app.items()), force=force))
    return plan, ids
