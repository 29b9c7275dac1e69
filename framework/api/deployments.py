"""Deployments: ``/v2/deployments`` (list, show, cancel), in Marathon's shape plus Halyard's status,
and ``/v1/deployments`` (Halyard's: the recent ones, ended ones too, newest first)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ..engine.app_records import DeploymentRecord
from ..engine.messages import CancelDeployment
from ..engine.view import ReadinessResult
from ..runtime.backend import Backend
from ..timestamps import iso
from .inputs import new_id

ACTIONS = {"start": "StartApplication", "deploy": "RestartApplication", "scale": "ScaleApplication",
           "restart": "RestartApplication", "stop": "StopApplication", "rollback": "RestartApplication",
           "rebalance": "RestartApplication"}  # a rebalance replaces instances, as a restart does


def readiness_json(result: ReadinessResult) -> dict[str, Any]:
    """Marathon's ``readinessCheckResults`` entry (``lastResponse`` when the check preserves it)."""
    data: dict[str, Any] = {"name": result.name, "taskId": result.task_id, "ready": result.ready}
    if result.body is not None or result.status is not None:
        data["lastResponse"] = {"status": result.status, "body": result.body or ""}
    return data


def action_json(record: DeploymentRecord) -> dict[str, Any]:
    """One app's action in a deployment step, as Marathon shows it."""
    return {"action": ACTIONS.get(record.kind, "RestartApplication"), "app": record.app_id}


def plan_json(records: Sequence[DeploymentRecord], readiness: Callable[[str], Sequence[ReadinessResult]],
              halyard: bool = False) -> dict[str, Any]:
    """One deployment (the records of every app it changes, one step each or, for a deployment of
    several apps, in the steps their dependencies gave) as Marathon's DeploymentPlan: its steps,
    the current one (the first with an app under way; once ended, the step it failed or was
    cancelled at, or the last) and what that step does now."""
    first = records[0]
    steps: dict[int, list[DeploymentRecord]] = {}
    for record in records:
        steps.setdefault(record.step or 0, []).append(record)
    order = sorted(steps)
    active = [r for r in records if r.status == "running" and not r.held]
    current = min((r.step or 0 for r in active), default=None)
    if current is None:  # ended: the step it ended at is the first one not all succeeded
        current = min((r.step or 0 for r in records if r.ended and r.status != "succeeded"), default=None)
    data: dict[str, Any] = {
        "id": first.id, "version": iso(min(r.version for r in records)),
        "affectedApps": sorted({r.app_id for r in records}), "affectedPods": [],
        "steps": [{"actions": [action_json(r) for r in steps[n]]} for n in order],
        "currentActions": [{**action_json(r), "readinessCheckResults": [readiness_json(x) for x in readiness(r.app_id)]}
                           for r in active if (r.step or 0) == current],
        "currentStep": order.index(current) + 1 if current is not None else len(order), "totalSteps": len(order)}
    if halyard:
        statuses = {r.status for r in records}
        status = next((s for s in ("running", "failed", "cancelled") if s in statuses), "succeeded")
        several = len(records) > 1
        data.update({"status": status, "kind": "plan" if several else first.kind,
                     "failures": [f"{r.app_id}: {f}" if several else f for r in records for f in r.failures]})
        if any(r.kind == "rebalance" for r in records):
            data["moves"] = [m for r in records for m in r.moves]
    return data


def by_deployment(records: Sequence[DeploymentRecord]) -> list[list[DeploymentRecord]]:
    """Records grouped by deployment id, in the order the deployments first appear."""
    grouped: dict[str, list[DeploymentRecord]] = {}
    for record in records:
        grouped.setdefault(record.id, []).append(record)
    return [sorted(g, key=lambda r: (r.step or 0, r.app_id)) for g in grouped.values()]


def recent(running: Sequence[DeploymentRecord], ended: Sequence[DeploymentRecord],
           limit: int) -> list[list[DeploymentRecord]]:
    """The ``limit`` most recent deployments (running or ended), newest first, each as its records."""
    plans = by_deployment([*running, *ended])
    plans.sort(key=lambda plan: max(r.started_at for r in plan), reverse=True)
    return plans[:limit]


def history_json(records: Sequence[DeploymentRecord], readiness: Callable[[str], Sequence[ReadinessResult]]
                 ) -> dict[str, Any]:
    """One deployment as ``/v1/deployments`` lists it: Halyard's plan (with ``status``, ``kind``,
    ``failures``) plus when it started and, once ended, when it ended."""
    ends = [r.ended_at for r in records]
    return {**plan_json(records, readiness, halyard=True), "startedAt": iso(min(r.started_at for r in records)),
            "endedAt": iso(max(e for e in ends if e is not None)) if all(e is not None for e in ends) else None}


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/v2/deployments")
    def deployments() -> Any:
        with backend.reading() as view:
            return [plan_json(plan, view.readiness_results) for plan in by_deployment(view.deployments())]

    @router.get("/v1/deployments")
    def history(limit: int = Query(50, ge=1, le=500)) -> Any:
        """Halyard's addition: the most recent deployments, running and ended (succeeded, failed,
        cancelled, with their failures), newest first."""
        with backend.reading() as view:
            return [history_json(plan, view.readiness_results)
                    for plan in recent(view.deployments(), view.finished(), limit)]

    @router.get("/v2/deployments/{deployment_id}")
    def deployment(deployment_id: str) -> Any:
        """Halyard's addition: a deployment, running or ended (succeeded, failed, cancelled), as
        ``/v1/deployments`` lists it."""
        with backend.reading() as view:
            return history_json(view.plan(deployment_id), view.readiness_results)

    @router.delete("/v2/deployments/{deployment_id}")
    def cancel_deployment(deployment_id: str, force: bool = False) -> Any:
        """Marathon's cancel: roll back (200, the rollback's id), or with ``force`` just stop
        (202). The engine decides whether there is anything to roll back (not for a rollback nor
        a rebalance: ``NOT_ROLLED_BACK``); when it started no rollback, the answer carries the
        cancelled deployment's own id."""
        rollback_id = None if force else new_id()
        backend.submit(CancelDeployment(deployment_id, force=force, rollback_id=rollback_id))
        if rollback_id is None:  # forced
            return Response(status_code=202)
        with backend.reading() as view:
            started = view.deployment_known(rollback_id)
            return {"deploymentId": rollback_id if started else deployment_id, "version": iso(view.now())}

    return router
