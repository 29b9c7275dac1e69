"""Pods (``/v2/pods``): refused, with the reason. Halyard runs apps; a pod's containers sharing
one network namespace and volumes need Mesos' default executor and task groups, which it does
not launch. Reads answer as for a Marathon without pods, so listing clients keep working."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..errors import Problem, ValidationError
from ..runtime.backend import Backend
from .errors import error_response

REASON = ("not supported by Halyard: pods (containers sharing a network and volumes need Mesos task groups); "
          "run each container as an app")


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/v2/pods")
    def list_pods() -> Any:
        return []

    @router.get("/v2/pods/::status")
    def list_statuses() -> Any:
        return []

    @router.get("/v2/pods/{pod_id:path}")
    def get_pod(pod_id: str) -> Any:
        return error_response(404, f"Pod '/{pod_id.strip('/').removesuffix('::status').removesuffix('::versions')}'"
                                   " does not exist")

    def refuse(pod_id: str = "") -> Any:
        raise ValidationError([Problem("", REASON)])

    for path in ("/v2/pods", "/v2/pods/{pod_id:path}"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):  # one operation id each, for the OpenAPI document
            name = f"refuse_{method.lower()}_{'pod' if '{' in path else 'pods'}"
            router.add_api_route(path, refuse, methods=[method], operation_id=name, name=name)

    return router
