"""Halyard's job API (``/v1/jobs``: definitions, runs, their output) and the executor artifact
agents fetch (``/v1/executor``)."""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from ..engine.messages import DeleteJob, KillRun, PutJob, StartRun
from ..engine.view import EngineView
from ..errors import NotFoundError, Problem, ValidationError
from ..jobs.book import run_id_for
from ..jobs.executor import executor_id_for
from ..jobs.records import JobRecord, RunRecord
from ..jobs.spec import JobSpec
from ..mesos import sandbox
from ..mesos.artifact import FILE_NAME, executor_artifact
from ..runtime.backend import Backend
from ..spec.validation import job_problems
from ..timestamps import iso
from . import scopes
from .inputs import body_json
from .tokens import job_path


def run_json(run: RunRecord, waiting: tuple[str, ...] = ()) -> dict[str, Any]:
    """A run as the API shows it: ``id``, ``status``, ``exitCode``, ``message`` and its history."""
    return {
        "id": run.run_id, "jobId": run.job_id, "status": run.status, "exitCode": run.exit_code, "signal": run.signal,
        "message": run.message, "attempt": run.attempt, "taskId": run.task_id, "agentId": run.agent_id,
        "host": run.hostname, "trigger": run.trigger,
        "scheduledFor": iso(run.scheduled_for) if run.scheduled_for else None, "createdAt": iso(run.created_at),
        "finishedAt": iso(run.finished_at) if run.finished_at else None,
        "history": [{"status": h["status"], "timestamp": iso(h["time"]), "attempt": h["attempt"],
                     "taskId": h["taskId"], "message": h["message"]} for h in run.history],
        **({"executorUsage": run.executor_usage} if run.executor_usage else {}),
        **({"waiting": list(waiting)} if waiting else {}),

    }


def job_json(view: EngineView, job: JobRecord) -> dict[str, Any]:
    """A job: its definition, version, next scheduled run, active runs and the last run's outcome."""
    runs = view.runs_of(job.job_id)
    last = runs[-1] if runs else None
    return {"id": job.job_id, "definition": job.spec.public_json(), "version": iso(job.version),
            "nextRunAt": iso(job.next_fire) if job.next_fire else None,
            "activeRuns": [r.run_id for r in runs if r.active],
            "lastRun": {"id": last.run_id, "status": last.status, "exitCode": last.exit_code} if last else None}


def last_lines(text: str, lines: int | None) -> str:
    """The last ``lines`` lines of ``text`` (all of it for None)."""
    if lines is None:
        return text
    kept = text.splitlines(keepends=True)[-lines:] if lines > 0 else []
    return "".join(kept)


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    def validated(raw: Any) -> JobSpec:
        spec, problems = job_problems(raw)
        if problems or spec is None:
            raise ValidationError(problems)
        return spec

    @router.get("/v1/executor/{digest}/" + FILE_NAME)
    def artifact(digest: str) -> Response:
        """Halyard's executor as one zipapp (agents fetch it; no token needed)."""
        built = executor_artifact()
        if not built.digest.startswith(digest):
            raise NotFoundError(f"no executor artifact {digest} (this scheduler serves {built.digest[:16]})")
        return Response(built.data, media_type="application/zip")

    @router.get("/v1/jobs")
    def list_jobs() -> Any:
        with backend.reading() as view:
            return [job_json(view, j) for j in view.jobs()]

    @router.post("/v1/jobs")
    async def define(request: Request) -> Any:
        """Create a job, or replace its definition (201 when new, 200 when replaced)."""
        raw = await body_json(request)
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            scopes.require([job_path(raw["id"])])   # a scoped token: 403 before 422
        spec = validated(raw)
        with backend.reading() as view:
            existed = view.has_job(spec.id)
        backend.submit(PutJob(spec))
        with backend.reading() as view:
            body = job_json(view, view.job(spec.id))
        return Response(json.dumps(body), status_code=200 if existed else 201, media_type="application/json")

    @router.put("/v1/jobs/{job_id}")
    async def replace(job_id: str, request: Request) -> Any:
        raw = await body_json(request)
        if isinstance(raw, dict):
            raw = {**raw, "id": raw.get("id", job_id)}
            if raw["id"] != job_id:
                raise ValidationError([Problem("id", f"does not match the URL ({job_id!r})")])
        with backend.reading() as view:
            view.job(job_id)  # 404
        spec = validated(raw)
        backend.submit(PutJob(spec))
        with backend.reading() as view:
            return job_json(view, view.job(job_id))

    @router.get("/v1/jobs/{job_id}")
    def show(job_id: str) -> Any:
        with backend.reading() as view:
            return job_json(view, view.job(job_id))

    @router.delete("/v1/jobs/{job_id}")
    def delete(job_id: str, stopCurrentJobRuns: bool = False) -> Any:  # noqa: N803 - Metronome's name
        backend.submit(DeleteJob(job_id, stop_runs=stopCurrentJobRuns))
        return {"id": job_id, "deleted": True}

    @router.post("/v1/jobs/{job_id}/runs", status_code=201)
    def start(job_id: str) -> Any:
        with backend.reading() as view:
            view.job(job_id)  # 404
            run_id = run_id_for(view.now(), view.new_id())
        backend.submit(StartRun(job_id, run_id))
        with backend.reading() as view:
            return run_json(view.run(job_id, run_id))

    @router.get("/v1/jobs/{job_id}/runs")
    def runs(job_id: str) -> Any:
        with backend.reading() as view:
            if not view.has_job(job_id) and not view.runs_of(job_id):
                view.job(job_id)  # 404
            return [run_json(r, view.run_waiting(r.run_id)) for r in reversed(view.runs_of(job_id))]

    @router.get("/v1/jobs/{job_id}/runs/{run_id}")
    def run(job_id: str, run_id: str) -> Any:
        with backend.reading() as view:
            return run_json(view.run(job_id, run_id), view.run_waiting(run_id))

    @router.delete("/v1/jobs/{job_id}/runs/{run_id}")
    def kill(job_id: str, run_id: str) -> Any:
        backend.submit(KillRun(job_id, run_id))
        with backend.reading() as view:
            return run_json(view.run(job_id, run_id))

    def output(job_id: str, run_id: str, name: str, lines: int | None, bytes_: int) -> PlainTextResponse:
        with backend.reading() as view:
            found = view.run(job_id, run_id)
            framework_id = view.framework_id
        if found.task_id is None or found.agent_id is None or framework_id is None:
            raise NotFoundError(f"run '{run_id}' has not been launched yet: no {name}")
        text = sandbox.tail(backend.master(), found.agent_id, framework_id, executor_id_for(found.task_id),
                            name, max_bytes=bytes_)
        for name_ in found.spec.secret_names():  # the job's output may print its secrets: never shown
            value = found.spec.env_values()[name_]
            if value:
                text = text.replace(value, "******")
        return PlainTextResponse(last_lines(text, lines))

    @router.get("/v1/jobs/{job_id}/runs/{run_id}/stdout", response_class=PlainTextResponse)
    def stdout(job_id: str, run_id: str, lines: int | None = None, bytes: int = 65536) -> Any:  # noqa: A002
        """The tail of the current attempt's standard output (``lines``: only the last lines)."""
        return output(job_id, run_id, "stdout", lines, bytes)

    @router.get("/v1/jobs/{job_id}/runs/{run_id}/stderr", response_class=PlainTextResponse)
    def stderr(job_id: str, run_id: str, lines: int | None = None, bytes: int = 65536) -> Any:  # noqa: A002
        return output(job_id, run_id, "stderr", lines, bytes)

    return router
