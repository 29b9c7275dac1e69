"""Rebalance planning: which running instances to move where, toward each app's strategy goal. Pure.

Given the live cluster (agents with what is free and what they are) and each app's running
instances, :class:`RebalancePlanner` finds moves, app by app, run to a fixed point:

1. any strategy: an instance that violates one of the app's constraints where it runs now (an
   agent's attributes changed, say) moves to where the placement pipeline would put it;
2. ``spread`` (by hostname, or the strategy's ``by`` field): instances move from the fullest to
   the emptiest eligible group until max - min <= 1, per zone too when the eligible agents are
   in several zones (score: :func:`~.rebalance_state.imbalance` per agent plus per zone);
   an agent is eligible when it passes the app's constraints and either runs an instance or
   can take one;
3. ``binpack``: the least used of the agents the app runs on is emptied when the others can take
   all its instances (score: agents in use); one such consolidation is a group of moves.

A move is planned only when it lowers the app's score by at least ``threshold``, and only where
the placement pipeline (constraints, resources, ports, the strategy's filters) accepts the
instance, so a second plan right after a finished run finds nothing to do. Never moved: jobs,
apps labelled ``halyard.rebalance=false``, instances younger than ``min_age`` seconds.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..cluster.agents import AgentInfo
from ..placement import Placement, PlacementRequest, Planner
from ..placement.constraints import constraint_filter
from ..placement.context import PlacementContext
from ..placement.state import AgentState, Demand
from ..spec.app import DEFAULT_STRATEGY, Workload
from .state import RunningTask, WorkingCluster, imbalance, total_imbalance

REBALANCE_LABEL = "halyard.rebalance"
DEFAULT_MIN_AGE = 300.0   # seconds an instance must have run before it may move
DEFAULT_THRESHOLD = 1.0   # the least improvement of an app's score that is worth a move


@dataclass(frozen=True)
class RebalanceApp:
    """An app as the rebalance planner sees it: what places it, its running instances, and why
    it may not move now (``busy``: a deployment under way), if so."""

    workload: Workload
    tasks: tuple[RunningTask, ...]
    busy: str | None = None


@dataclass(frozen=True)
class Move:
    """One instance to move: from where to where, why, and the app's score before and after."""

    app_id: str
    task_id: str
    from_agent: str
    from_host: str
    to_agent: str
    to_host: str
    reason: str
    goal: str            # spread | binpack | constraint
    score_before: float
    score_after: float

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app_id, "task": self.task_id, "fromAgent": self.from_agent, "fromHost": self.from_host,
                "toAgent": self.to_agent, "toHost": self.to_host, "reason": self.reason, "goal": self.goal,
                "scoreBefore": self.score_before, "scoreAfter": self.score_after}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Move:
        return cls(data["app"], data["task"], data["fromAgent"], data["fromHost"], data["toAgent"], data["toHost"],
                   data["reason"], data["goal"], data["scoreBefore"], data["scoreAfter"])


@dataclass(frozen=True)
class RebalancePlan:
    """The moves, in order, and the apps left alone with why."""

    moves: tuple[Move, ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"moves": [m.to_json() for m in self.moves],
                "skipped": [{"app": app, "reason": why} for app, why in self.skipped]}


class RebalancePlanner:
    """Plans moves with the placement ``planner``; ``max_moves``: at most this many in all."""

    def __init__(self, planner: Planner, min_age: float = DEFAULT_MIN_AGE, threshold: float = DEFAULT_THRESHOLD,
                 max_moves: int | None = None):
        self.planner, self.min_age, self.threshold, self.max_moves = planner, min_age, threshold, max_moves

    def plan(self, apps: Sequence[RebalanceApp], agents: Sequence[AgentInfo], now: float) -> RebalancePlan:
        """The moves for ``apps`` (in order) on ``agents``, whose state each planned move changes."""
        cluster = WorkingCluster(agents, {a.workload.id: a.tasks for a in apps if a.workload.kind == "app"})
        moves: list[Move] = []
        skipped: list[tuple[str, str]] = []
        for app in apps:
            why = self.skip_reason(app)
            if why is not None:
                skipped.append((app.workload.id, why))
                continue
            moves += self._app_moves(app.workload, cluster, now)
        if self.max_moves is not None:
            moves = moves[:self.max_moves]
        return RebalancePlan(tuple(moves), tuple(skipped))

    def skip_reason(self, app: RebalanceApp) -> str | None:
        """Why the app is never moved (or not now); None: it may be."""
        w = app.workload
        if w.kind != "app":
            return "jobs never move"
        if str(w.labels.get(REBALANCE_LABEL, "")).lower() == "false":
            return f"label {REBALANCE_LABEL}=false"
        return app.busy

    # --- one app ------------------------------------------------------------------------------

    def _movable(self, task: RunningTask, now: float) -> bool:
        return task.started_at is not None and now - task.started_at >= self.min_age

    def _app_moves(self, w: Workload, cluster: WorkingCluster, now: float) -> list[Move]:
        moves = self._constraint_moves(w, cluster, now)
        strategy = w.strategy.name if w.strategy is not None else DEFAULT_STRATEGY
        if strategy == "spread":
            by = (w.strategy.args.get("by") if w.strategy is not None else None) or "hostname"
            moves += self._spread_moves(w, cluster, now, str(by))
        elif strategy == "binpack":
            moves += self._binpack_moves(w, cluster, now)
        return moves

    def _place(self, w: Workload, task: RunningTask, cluster: WorkingCluster,
               candidates: Sequence[str]) -> Placement | None:
        """Where the placement pipeline puts ``task`` among ``candidates`` (its own agent's count
        without it), or None."""
        pool = set(candidates) - {task.agent_id}
        infos = [a for a in cluster.infos() if a.id in pool]
        if not infos:
            return None
        context = [cluster.without(w.id, a.id) if a.id == task.agent_id else a
                   for a in cluster.infos() if a.id not in pool]
        placed = self.planner.plan(infos, [PlacementRequest(w, 1)], context).placements
        return placed[0] if placed else None

    def _move(self, w: Workload, task: RunningTask, p: Placement, cluster: WorkingCluster, reason: str, goal: str,
              before: float, after: float) -> Move:
        src = cluster.agents[task.agent_id]
        cluster.move(w.id, task, p.agent_id, p.allocation, p.ports)
        return Move(w.id, task.task_id, src.id, src.hostname, p.agent_id, p.hostname, reason, goal, before, after)

    # --- constraints --------------------------------------------------------------------------

    def violation(self, w: Workload, agent_id: str, cluster: WorkingCluster) -> str | None:
        """Which of the app's constraints an instance on ``agent_id`` violates (the others
        counted as they are), or None."""
        if not w.constraints:
            return None
        infos = [cluster.without(w.id, a.id) if a.id == agent_id else a for a in cluster.infos()]
        states = [AgentState(info, i) for i, info in enumerate(infos)]
        filters = [constraint_filter(c) for c in w.constraints]
        static = [f for f in filters if f.static]
        ctx: PlacementContext = PlacementContext(
            w, Demand.of(w), states, w.instances, random.Random(0),
            lambda: [a for a in states if all(f.filter(ctx, a).reason is None for f in static)])
        here = next(s for s in states if s.id == agent_id)
        for f in sorted(filters, key=lambda f: not f.static):
            f.prepare(ctx)
        for f in filters:
            why = f.filter(ctx, here).reason
            if why is not None:
                return why
        return None

    def _constraint_moves(self, w: Workload, cluster: WorkingCluster, now: float) -> list[Move]:
        if not w.constraints:
            return []
        moves: list[Move] = []
        tasks = sorted(cluster.tasks.get(w.id, {}).values(), key=lambda t: t.task_id)
        bad = [t for t in tasks if self.violation(w, t.agent_id, cluster) is not None]
        for task in bad:
            why = self.violation(w, task.agent_id, cluster)  # earlier moves may have mended it
            if why is None or not self._movable(task, now):
                continue
            p = self._place(w, task, cluster, list(cluster.agents))
            if p is None:
                continue
            before = sum(1 for t in cluster.tasks[w.id].values() if self.violation(w, t.agent_id, cluster))
            host = cluster.agents[task.agent_id].hostname
            moves.append(self._move(w, task, p, cluster, f"{w.id}: {host} {why} (constraint)", "constraint",
                                    before, before - 1))
        return moves

    # --- spread -------------------------------------------------------------------------------

    def _eligible(self, w: Workload, cluster: WorkingCluster) -> list[str]:
        """Agents that run an instance (not in violation) or could take one."""
        out = []
        for a in cluster.infos():
            if cluster.count(w.id, a.id):
                if self.violation(w, a.id, cluster) is None:
                    out.append(a.id)
            elif self.planner.plan([a], [PlacementRequest(w, 1)],
                                   [b for b in cluster.infos() if b.id != a.id]).placements:
                out.append(a.id)
        return out

    def spread_score(self, w: Workload, cluster: WorkingCluster, eligible: Sequence[str], by: str) -> int:
        """Imbalance per ``by`` value over the eligible agents, plus per zone when they are in several."""
        return total_imbalance(self._groups(w, cluster, eligible, by))

    def _groups(self, w: Workload, cluster: WorkingCluster, eligible: Sequence[str], by: str) -> list[dict[str, int]]:
        """The app's instances per ``by`` value, and per zone when the eligible agents are in several."""
        fields = [by]
        zones = {cluster.agents[a].zone for a in eligible} - {None}
        if by in ("hostname", "@hostname") and len(zones) > 1:
            fields.append("@zone")
        groups = []
        for name in fields:
            counts: dict[str, int] = {}
            for agent_id in eligible:
                value = cluster.values(agent_id).get(name)
                if value is not None:
                    counts[value] = counts.get(value, 0) + cluster.count(w.id, agent_id)
            groups.append(counts)
        return groups

    def _spread_moves(self, w: Workload, cluster: WorkingCluster, now: float, by: str) -> list[Move]:
        eligible = self._eligible(w, cluster)
        moves: list[Move] = []
        while True:
            groups = self._groups(w, cluster, eligible, by)   # once per step: every option's score reads them
            score = total_imbalance(groups)
            if score == 0:
                return moves
            options = []
            for src in eligible:
                task = next((t for t in cluster.on(w.id, src) if self._movable(t, now)), None)
                if task is None:
                    continue
                for dst in eligible:
                    if dst == src or cluster.count(w.id, dst) >= cluster.count(w.id, src) and by == "hostname":
                        continue
                    after = self._score_if(groups, cluster, by, src, dst)
                    if score - after >= self.threshold:
                        options.append((after, -cluster.count(w.id, src), cluster.count(w.id, dst),
                                        cluster.agents[src].hostname, cluster.agents[dst].hostname, src, dst, task))
            for after, _, _, src_host, dst_host, src, dst, task in sorted(options, key=lambda o: o[:5]):
                p = self._place(w, task, cluster, [dst])
                if p is None:
                    continue
                reason = (f"{w.id}: {src_host} has {cluster.count(w.id, src)}, "
                          f"{dst_host} has {cluster.count(w.id, dst)}")
                zone_src, zone_dst = cluster.agents[src].zone, cluster.agents[dst].zone
                if len(groups) > 1 and zone_src != zone_dst:
                    zones = groups[1]
                    reason += f"; zone {zone_src} has {zones.get(zone_src or '', 0)}, zone {zone_dst} has " \
                              f"{zones.get(zone_dst or '', 0)}"
                moves.append(self._move(w, task, p, cluster, reason + " (spread)", "spread", score, after))
                break
            else:
                return moves

    @staticmethod
    def _score_if(groups: list[dict[str, int]], cluster: WorkingCluster, by: str, src: str, dst: str) -> int:
        """The spread score of ``groups`` (:meth:`_groups`) if one instance moved from ``src`` to ``dst``."""
        total = 0
        for counts, name in zip(groups, (by, "@zone")):
            counts = dict(counts)
            a, b = cluster.values(src).get(name), cluster.values(dst).get(name)
            if a is not None and b is not None:
                counts[a] -= 1
                counts[b] = counts.get(b, 0) + 1
            total += imbalance(list(counts.values()))
        return total

    # --- binpack ------------------------------------------------------------------------------

    def _binpack_moves(self, w: Workload, cluster: WorkingCluster, now: float) -> list[Move]:
        moves: list[Move] = []
        while True:
            used = [a.id for a in cluster.infos() if cluster.count(w.id, a.id)]
            if len(used) <= 1 or 1 < self.threshold:
                return moves

            def load(agent_id: str) -> tuple[int, float]:
                a = cluster.agents[agent_id]
                free = sum(r.cpus for r in a.available.values())
                return cluster.count(w.id, agent_id), -(a.capacity.cpus - free)
            for src in sorted(used, key=load):
                tasks = cluster.on(w.id, src)
                if not all(self._movable(t, now) for t in tasks):
                    continue
                others = [a for a in cluster.infos() if a.id in used and a.id != src]
                context = [cluster.without(w.id, a.id, len(tasks)) if a.id == src else a
                           for a in cluster.infos() if a.id not in used or a.id == src]
                placed = self.planner.plan(others, [PlacementRequest(w, len(tasks))], context).placements
                if len(placed) < len(tasks):
                    continue
                host, n = cluster.agents[src].hostname, len(used)
                reason = f"{w.id}: {host} has {len(tasks)}, the other {n - 1} agent(s) in use can take them (binpack)"
                moves += [self._move(w, t, p, cluster, reason, "binpack", n, n - 1) for t, p in zip(tasks, placed)]
                break
            else:
                return moves
