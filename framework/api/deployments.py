"""Deployments: ``/v2/deployments`` (list, show, cancel), in Marathon's shape plus Halyard's status."""
from __future__ import annotations

from typing import Any, Sequence

from fastapi import APIRouter
from fastapi.responses import Response

from ..backend import Backend
from ..engine.app_records import DeploymentRecord
from ..engine.messages import CancelDeployment
from ..engine.readiness_checks import ReadinessResult
from ..timestamps import iso
from .inputs import new_id

ACTIONS = {"start": "StartApplication", "deploy": "RestartApplication", "scale": "ScaleApplication",
           "restart": "RestartApplication", "stop": "StopApplication", "rollback": "RestartApplication"}


def readiness_json(result: ReadinessResult) -> dict[str, Any]:
    """Marathon's ``readinessCheckResults`` entry (``lastResponse`` when the check preserves it)."""
    data: dict[str, Any] = {"name": result.name, "taskId": result.task_id, "ready": result.ready}
    if result.body is not None or result.status is not None:
        data["lastResponse"] = {"status": result.status, "body": result.body or ""}
    return data


def deployment_json(deployment: DeploymentRecord, halyard: bool = False,
                    readiness: Sequence[ReadinessResult] = ()) -> dict[str, Any]:
    """Marathon's deployment shape (exactly: strict clients build objects from every field); with
    ``halyard`` also Halyard's ``status``, ``kind`` and ``failures``."""
    action = {"action": ACTIONS.get(deployment.kind, "RestartApplication"), "app": deployment.app_id}
    data: dict[str, Any] = {
        "id": deployment.id, "version": iso(deployment.version), "affectedApps": [deployment.app_id],
        "affectedPods": [], "steps": [{"actions": [action]}],
        "currentActions": [{**action, "readinessCheckResults": [readiness_json(r) for r in readiness]}]
        if deployment.status == "running" else [],
        "currentStep": 1, "totalSteps": 1}
    if halyard:
        data.update({"status": deployment.status, "kind": deployment.kind, "failures": list(deployment.failures)})
    return data


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/v2/deployments")
    def deployments() -> Any:
        with backend.reading() as view:
            return [deployment_json(d, readiness=view.readiness_results(d.app_id)) for d in view.deployments()]

    @router.get("/v2/deployments/{deployment_id}")
    def deployment(deployment_id: str) -> Any:
        """Halyard's addition: a deployment, running or ended (succeeded, failed, cancelled)."""
        with backend.reading() as view:
            found = view.deployment(deployment_id)
            return deployment_json(found, halyard=True, readiness=view.readiness_results(found.app_id))

    @router.delete("/v2/deployments/{deployment_id}")
    def cancel_deployment(deployment_id: str, force: bool = False) -> Any:
        rollback_id = None if force else new_id()
        backend.submit(CancelDeployment(deployment_id, force=force, rollback_id=rollback_id))
        if force:
            return Response(status_code=202)
        with backend.reading() as view:
            return {"deploymentId": rollback_id, "version": iso(view.now())}

    return router
