"""A rebalance move's new instance, launched with its target agent's offer (pinned there). Pure.

The move waits in the ``launch`` phase of :mod:`.rebalance_moves`. When its target offers, the
placement pipeline checks the new instance still fits there, counting the old instance as gone
where it runs (the constraints see the app as the move leaves it); if it no longer fits, the move
is dropped with the planner's reasons. The offers no move takes are left for everything else.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from ..cluster.agents import AgentInfo
from ..cluster.mesos_types import Offer
from ..placement import PlacementRequest, Planner
from ..rebalance.planner import Move
from .agents import KnownAgents
from .app_records import AppRecord
from .launch import app_task, task_id_for
from .messages import Instruction, Launch, Persist
from .offers import agent_view, group_offers
from .rebalance_moves import MoveRunner
from .task_index import TaskIndex


class MoveLauncher:
    """Places and launches the new instance of each move that waits for its target's offer."""

    def __init__(self, moves: MoveRunner, index: TaskIndex, planner: Planner, clock: Callable[[], float],
                 new_id: Callable[[], str], refuse_busy: float):
        self.moves, self.index, self.planner, self.clock, self.new_id = moves, index, planner, clock, new_id
        self.refuse_busy = refuse_busy   # the decline filter of a launch's unused resources (work is pending)

    def launch(self, offers: tuple[Offer, ...], apps: Mapping[str, AppRecord], known: KnownAgents,
               persist: Persist) -> tuple[list[Instruction], tuple[Offer, ...]]:
        """Launch each waiting move's new instance with its target agent's offers; returns the
        Launches and the offers left for everything else."""
        waiting = self.moves.waiting_for_offers()
        if not waiting:
            return [], offers
        agents = group_offers(offers)
        used: set[str] = set()
        out: list[Instruction] = []
        for active in waiting:
            move = active.move
            offered = agents.get(move.to_agent)
            app = apps.get(move.app_id)
            if offered is None or move.to_agent in used or app is None:
                continue
            view = agent_view(offered, self.index.on_agent(move.to_agent))
            context = [_without_old(a, move) for a in known.elsewhere([move.to_agent], self.index.by_agent())]
            plan = self.planner.plan([view], [PlacementRequest(app.spec.workload(), 1)], context)
            if not plan.placements:
                reasons = "; ".join(r for u in plan.unplaced for r in u.reasons)
                self.moves.drop(move.app_id, f"{move.to_host} no longer fits: {reasons}", persist)
                continue
            used.add(move.to_agent)
            task_id = task_id_for(app.app_id, self.new_id())
            launch, record = app_task(app, plan.placements[0], offered, task_id, self.clock())
            self.index.set(record)
            persist.tasks.append(record)
            self.moves.launched(active, task_id)
            out.append(Launch(record.agent_id, tuple(offered.offer_ids), (launch,), self.refuse_busy))
        rest = tuple(o for o in offers if o.agent_id not in used)
        return out, rest


def _without_old(agent: AgentInfo, move: Move) -> AgentInfo:
    """The old instance counts as gone where it runs (constraints see the app after the move)."""
    if agent.id != move.from_agent or not agent.app_tasks.get(move.app_id):
        return agent
    counts = dict(agent.app_tasks)
    counts[move.app_id] -= 1
    return replace(agent, app_tasks=counts)
