"""The OpenAPI document: FastAPI's, plus the app and job definition schemas (Halyard's, Metronome's
JobSpec and ScheduleSpec, Eremetic's request) for the routes that take one."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..jobs.spec import JobSpec
from ..spec.app import AppSpec
from . import eremetic, metronome_jobs

APP_BODIES = {("/v2/apps", "post"), ("/v2/apps/{app_id}", "put"), ("/v2/apps/{app_id}", "patch")}
JOB_BODIES = {("/v1/jobs", "post"), ("/v1/jobs/{job_id}", "put")}
SCHEDULE_BODIES = {("/v1/jobs/{job_id}/schedules", "post"), ("/v1/jobs/{job_id}/schedules/{schedule_id}", "put")}
#: ``POST /v2/tasks/delete``'s body (Marathon's ``DeleteTasks``)
TASK_IDS = {"type": "object", "required": ["ids"],
            "properties": {"ids": {"type": "array", "items": {"type": "string"}}}}


def openapi_document(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the app definition schema for the routes that take one."""
    if api.openapi_schema:
        return api.openapi_schema
    doc = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
    app_schema = AppSpec.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    definitions = app_schema.pop("$defs", {})
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.update(definitions)
    components["AppDefinition"] = app_schema
    job_schema = JobSpec.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    components.update(job_schema.pop("$defs", {}))
    components["JobDefinition"] = job_schema
    components["MetronomeJobSpec"] = metronome_jobs.JOB.schema
    components["MetronomeScheduleSpec"] = metronome_jobs.SCHEDULE.schema
    components["EremeticRequest"] = eremetic.REQUEST.schema
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if (path, method) in APP_BODIES:
                operation["requestBody"] = {"required": method != "patch", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AppDefinition"}}}}
            elif (path, method) == ("/v2/tasks/delete", "post"):
                operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": TASK_IDS}}}
            elif (path, method) in JOB_BODIES:   # Metronome's JobSpec, or Halyard's flat definition
                operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"anyOf": [
                    {"$ref": "#/components/schemas/MetronomeJobSpec"}, {"$ref": "#/components/schemas/JobDefinition"}]}}}}
            elif (path, method) in SCHEDULE_BODIES:
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/MetronomeScheduleSpec"}}}}
            elif (path, method) == ("/api/v1/task", "post"):   # read whatever its Content-Type
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/EremeticRequest"}}}}
    api.openapi_schema = doc
    return doc
