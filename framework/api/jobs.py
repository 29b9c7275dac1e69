"""The job API on ``/v1/jobs``: Metronome's v1 API (its shapes in :mod:`.metronome_jobs` and
:mod:`.metronome_runs`) over Halyard's jobs, with Halyard's own view beside it, and the executor
artifact agents fetch (``/v1/executor``).

Every answer has Metronome's shape, so Metronome's clients (dcos-metronome parses strictly) read
them. Halyard's own view comes only when asked, as Marathon's embeds do: ``?embed=halyard`` adds
``halyard`` to each job (``{id, definition, version, nextRunAt, activeRuns, lastRun}``, the flat
definition) and each run (``{id, status, exitCode, signal, message, attempt, history, ...}``), and
makes ``GET /v1/jobs/{id}/runs`` list the kept ended runs too. Input may be Metronome's JobSpec
(with ``run``) or Halyard's flat definition (today's job files): the shape decides the rules (a
Metronome ``POST`` of an existing id is a 409 and its ``PUT`` keeps the schedule and Halyard's own
parts; Halyard's ``POST`` defines or replaces).
"""
from __future__ import annotations

import json
from typing import Any

import pydantic
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..engine.messages import DeleteJob, KillRun, PutJob, StartRun
from ..engine.view import EngineView
from ..errors import ConflictError, NotFoundError, Problem, ValidationError
from ..jobs import cron
from ..jobs.book import run_id_for
from ..jobs.records import JobRecord, RunRecord
from ..jobs.spec import JobSpec, Schedule
from ..mesos.artifact import FILE_NAME, executor_artifact
from ..runtime.backend import Backend
from ..spec.validation import SecretInputs, job_problems, problems_from_pydantic
from ..timestamps import iso
from . import metronome_jobs as mj
from . import metronome_runs as mr
from . import scopes
from .eremetic import PREFIX as EREMETIC_PREFIX
from .inputs import app_inputs, body_json
from .job_output import run_output
from .tokens import job_path

HALYARD = "halyard"


def halyard_run(run: RunRecord, waiting: tuple[str, ...] = ()) -> dict[str, Any]:
    """A run as Halyard shows it: ``id``, ``status``, ``exitCode``, ``message`` and its history."""
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


def halyard_job(view: EngineView, job: JobRecord) -> dict[str, Any]:
    """A job as Halyard shows it: its flat definition, version, next scheduled run, active runs and
    the last run's outcome."""
    runs = view.runs_of(job.job_id)
    last = runs[-1] if runs else None
    return {"id": job.job_id, "definition": job.spec.public_json(), "version": iso(job.version),
            "nextRunAt": iso(job.next_fire) if job.next_fire else None,
            "activeRuns": [r.run_id for r in runs if r.active],
            "lastRun": {"id": last.run_id, "status": last.status, "exitCode": last.exit_code} if last else None}


def schedules_json(view: EngineView, job: JobRecord) -> list[dict[str, Any]]:
    """The job's schedule (none or one) as Metronome's ScheduleSpecs; ``nextRunAt`` is the next
    firing (computed from now for a disabled schedule, as Metronome shows it)."""
    schedule = job.spec.schedule
    if schedule is None:
        return []
    next_at = job.next_fire if job.next_fire is not None else cron.next_fire(schedule.cron, schedule.timezone,
                                                                              view.now())
    return [mj.schedule_json(schedule, next_at)]


def job_answer(view: EngineView, job: JobRecord, asked: frozenset[str]) -> dict[str, Any]:
    """A job as Metronome's JobSpec with the embeds asked for (``halyard`` among them)."""
    runs = view.runs_of(job.job_id)
    body = mr.with_embeds(mj.job_json(job.spec), job, runs, asked, schedules_json(view, job))
    if HALYARD in asked:
        body[HALYARD] = halyard_job(view, job)
    return body


def run_answer(view: EngineView, run: RunRecord, asked: frozenset[str]) -> dict[str, Any]:
    """A run as Metronome's JobRun, with Halyard's view when asked (``halyard``)."""
    body = mr.run_json(run)
    if HALYARD in asked:
        body[HALYARD] = halyard_run(run, view.run_waiting(run.run_id))
    return body


def last_lines(text: str, lines: int | None) -> str:
    """The last ``lines`` lines of ``text`` (all of it for None)."""
    if lines is None:
        return text
    kept = text.splitlines(keepends=True)[-lines:] if lines > 0 else []
    return "".join(kept)


def answer(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


EMBED = Query(default=[], description="activeRuns, schedules, history, historySummary (Metronome's), halyard")


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    def secret_inputs(request: Request, previous: JobSpec | None) -> SecretInputs:
        previous_env = (previous.to_json().get("env") or {}) if previous is not None else {}
        return SecretInputs(app_inputs(request).secrets, previous_env)

    def flat_spec(raw: Any, request: Request, previous: JobSpec | None) -> JobSpec:
        """Halyard's flat definition as a spec, or a 422 in Halyard's shape."""
        spec, problems = job_problems(raw, secrets=secret_inputs(request, previous))
        if problems or spec is None:
            raise ValidationError(problems)
        return spec

    def metronome_spec(raw: Any, request: Request, previous: JobSpec | None) -> JobSpec | JSONResponse:
        """Metronome's JobSpec as a spec, or a 422 in Metronome's shape."""
        problems = mj.schema_problems(raw)
        if problems:
            return mr.invalid(problems)
        flat, problems = mj.definition(raw)
        spec, found = job_problems(flat, secrets=secret_inputs(request, previous))
        problems += mj.spec_problems(found)
        if problems or spec is None:
            return mr.invalid(problems)
        return mj.keep_halyard_parts(spec, previous, raw)

    def reserved(job_id: str) -> None:
        if job_id.startswith(EREMETIC_PREFIX):
            raise ValidationError([Problem("id", f"ids starting with {EREMETIC_PREFIX!r} are Eremetic's tasks "
                                                 "(/api/v1/task)")])

    def stored(job_id: str) -> JobSpec | None:
        with backend.reading() as view:
            return view.job(job_id).spec if view.has_job(job_id) else None

    @router.get("/v1/executor/{digest}/" + FILE_NAME)
    def artifact(digest: str) -> Response:
        """Halyard's executor as one zipapp (agents fetch it; no token needed)."""
        built = executor_artifact()
        if not built.digest.startswith(digest):
            raise NotFoundError(f"no executor artifact {digest} (this scheduler serves {built.digest[:16]})")
        return Response(built.data, media_type="application/zip")

    @router.get("/v1/jobs")
    def list_jobs(embed: list[str] = EMBED) -> Any:
        """Every job as Metronome's JobSpec (Eremetic's tasks only in Halyard's view)."""
        asked = mr.embeds(embed)
        with backend.reading() as view:
            return [job_answer(view, j, asked) for j in view.jobs()
                    if HALYARD in asked or not j.job_id.startswith(EREMETIC_PREFIX)]

    @router.post("/v1/jobs")
    async def define(request: Request, embed: list[str] = EMBED) -> Any:
        """Create a job: Metronome's JobSpec (201; 409 when the id exists), or Halyard's flat
        definition (201 when new, 200 when it replaced one)."""
        raw = await body_json(request)
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            scopes.require([job_path(raw["id"])])   # a scoped token: 403 before 422
            reserved(raw["id"])
        existing = stored(raw["id"]) if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
        if mj.is_metronome(raw):
            made = metronome_spec(raw, request, None)
            if isinstance(made, JSONResponse):
                return made
            if existing is not None:
                return mr.error(409, "Job with this id already exists")
            spec = made
        else:
            spec = flat_spec(raw, request, existing)
        backend.submit(PutJob(spec))
        with backend.reading() as view:
            body = job_answer(view, view.job(spec.id), mr.embeds(embed))
        return answer(body, 200 if existing is not None else 201)

    @router.put("/v1/jobs/{job_id}")
    async def replace(job_id: str, request: Request, embed: list[str] = EMBED) -> Any:
        """Replace a job's definition: Metronome's JobSpec (its schedule and Halyard's own parts
        kept) or Halyard's flat definition."""
        raw = await body_json(request)
        previous = stored(job_id)
        if previous is None:
            return mr.unknown_job(job_id)
        if isinstance(raw, dict):
            raw = {**raw, "id": raw.get("id", job_id)}
            if raw["id"] != job_id:
                problem = Problem("/id" if mj.is_metronome(raw) else "id", f"does not match the URL ({job_id!r})")
                if mj.is_metronome(raw):
                    return mr.invalid([problem])
                raise ValidationError([problem])
        if mj.is_metronome(raw):
            made = metronome_spec(raw, request, previous)
            if isinstance(made, JSONResponse):
                return made
            spec = made
        else:
            spec = flat_spec(raw, request, previous)
        backend.submit(PutJob(spec))
        with backend.reading() as view:
            return job_answer(view, view.job(job_id), mr.embeds(embed))

    @router.get("/v1/jobs/{job_id}")
    def show(job_id: str, embed: list[str] = EMBED) -> Any:
        with backend.reading() as view:
            if not view.has_job(job_id):
                return mr.unknown_job(job_id)
            return job_answer(view, view.job(job_id), mr.embeds(embed))

    @router.delete("/v1/jobs/{job_id}")
    def delete(job_id: str, stopCurrentJobRuns: bool = False) -> Any:  # noqa: N803 - Metronome's name
        """Remove a job (409 while runs are active, unless ``stopCurrentJobRuns=true`` kills them);
        answers the deleted JobSpec, as Metronome."""
        with backend.reading() as view:
            if not view.has_job(job_id):
                return mr.unknown_job(job_id)
            body = mj.job_json(view.job(job_id).spec)
            if not stopCurrentJobRuns and any(r.active for r in view.runs_of(job_id)):
                return mr.error(409, "There are active job runs. Override with stopCurrentJobRuns=true")
        backend.submit(DeleteJob(job_id, stop_runs=stopCurrentJobRuns))
        return body

    # --- schedules (Metronome's: at most one per job) -------------------------------------------

    def put_schedule(job_id: str, previous: JobSpec, schedule: dict[str, Any] | None) -> JobSpec | JSONResponse:
        raw = previous.to_json()
        raw.pop("schedule", None)
        if schedule is not None:
            raw["schedule"] = schedule
        spec, problems = job_problems(raw)
        if problems or spec is None:
            return mr.invalid([Problem("/" + "/".join(map(str, p.loc[1:])), p.message, p.loc) for p in problems
                               if p.loc[:1] == ("schedule",)] or [Problem("/", str(p)) for p in problems])
        # Secrets were resolved when the job was defined: keep its env as it is.
        return spec.model_copy(update={"env": previous.env})

    def store_schedule(job_id: str, previous: JobSpec, schedule: dict[str, Any] | None) -> JSONResponse | None:
        """Submit the job with ``schedule`` (or none) in place of its own; the refusal, if any."""
        spec = put_schedule(job_id, previous, schedule)
        if isinstance(spec, JSONResponse):
            return spec
        backend.submit(PutJob(spec))
        return None

    def schedule_body(job_id: str, raw: Any, schedule_id: str | None) -> dict[str, Any] | JSONResponse:
        if isinstance(raw, dict) and schedule_id is not None:
            raw = {**raw, "id": schedule_id}
        problems = mj.schema_problems(raw, mj.SCHEDULE)
        if problems:
            return mr.invalid(problems)
        made = mj.schedule_raw(raw, schedule_id)
        try:
            Schedule.model_validate(made)
        except pydantic.ValidationError as exc:   # a bad cron or time zone: 422 before any 409, as Metronome
            return mr.invalid([Problem("/" + "/".join(map(str, p.loc)), p.message, p.loc)
                               for p in problems_from_pydantic(exc)])
        return made

    @router.get("/v1/jobs/{job_id}/schedules")
    def schedules(job_id: str) -> Any:
        with backend.reading() as view:
            if not view.has_job(job_id):
                return mr.unknown_job(job_id)
            return schedules_json(view, view.job(job_id))

    @router.post("/v1/jobs/{job_id}/schedules")
    async def add_schedule(job_id: str, request: Request) -> Any:
        """Give the job its schedule (201); 409 when it has one (Metronome allows one)."""
        raw = await body_json(request)
        previous = stored(job_id)
        if previous is None:
            return mr.unknown_job(job_id)
        made = schedule_body(job_id, raw, None)
        if isinstance(made, JSONResponse):
            return made
        if previous.schedule is not None:
            message = (f"A schedule with id {made['id']} already exists" if previous.schedule.id == made["id"]
                       else "Only one schedule supported at the moment")
            return mr.error(409, message)
        refused = store_schedule(job_id, previous, made)
        if refused is not None:
            return refused
        with backend.reading() as view:
            return answer(schedules_json(view, view.job(job_id))[0], 201)

    @router.get("/v1/jobs/{job_id}/schedules/{schedule_id}")
    def schedule(job_id: str, schedule_id: str) -> Any:
        with backend.reading() as view:
            if not view.has_job(job_id):
                return mr.unknown_job(job_id)
            found = [s for s in schedules_json(view, view.job(job_id)) if s["id"] == schedule_id]
            return found[0] if found else mr.unknown_schedule(schedule_id)

    @router.put("/v1/jobs/{job_id}/schedules/{schedule_id}")
    async def replace_schedule(job_id: str, schedule_id: str, request: Request) -> Any:
        raw = await body_json(request)
        previous = stored(job_id)
        if previous is None:
            return mr.unknown_job(job_id)
        made = schedule_body(job_id, raw, schedule_id)
        if isinstance(made, JSONResponse):
            return made
        if previous.schedule is None or previous.schedule.id != schedule_id:
            return mr.unknown_schedule(schedule_id)
        refused = store_schedule(job_id, previous, made)
        if refused is not None:
            return refused
        with backend.reading() as view:
            return schedules_json(view, view.job(job_id))[0]

    @router.delete("/v1/jobs/{job_id}/schedules/{schedule_id}")
    def delete_schedule(job_id: str, schedule_id: str) -> Any:
        """Remove the schedule: 200 with no body, as Metronome."""
        previous = stored(job_id)
        if previous is None:
            return mr.unknown_job(job_id)
        if previous.schedule is None or previous.schedule.id != schedule_id:
            return mr.unknown_schedule(schedule_id)
        refused = store_schedule(job_id, previous, None)
        if refused is not None:
            return refused
        return Response(status_code=200)

    # --- runs -----------------------------------------------------------------------------------

    @router.post("/v1/jobs/{job_id}/runs", status_code=201)
    def start(job_id: str, embed: list[str] = EMBED) -> Any:
        with backend.reading() as view:
            if not view.has_job(job_id):
                return mr.unknown_job(job_id)
            run_id = run_id_for(view.now(), view.new_id())
        backend.submit(StartRun(job_id, run_id))
        with backend.reading() as view:
            return run_answer(view, view.run(job_id, run_id), mr.embeds(embed))

    @router.get("/v1/jobs/{job_id}/runs")
    def runs(job_id: str, embed: list[str] = EMBED) -> Any:
        """The job's active runs (Metronome's); with ``embed=halyard`` every kept run, newest first."""
        asked = mr.embeds(embed)
        with backend.reading() as view:
            if not view.has_job(job_id) and not view.runs_of(job_id):
                return mr.unknown_job(job_id)
            kept = list(reversed(view.runs_of(job_id)))
            return [run_answer(view, r, asked) for r in kept if HALYARD in asked or r.active]

    def found_run(view: EngineView, job_id: str, run_id: str) -> RunRecord | None:
        try:
            return view.run(job_id, run_id)
        except NotFoundError:
            return None

    @router.get("/v1/jobs/{job_id}/runs/{run_id}")
    def run(job_id: str, run_id: str, embed: list[str] = EMBED) -> Any:
        """One run: an active one, or one of the ended runs Halyard keeps."""
        with backend.reading() as view:
            found = found_run(view, job_id, run_id)
            return run_answer(view, found, mr.embeds(embed)) if found else mr.unknown_run(job_id, run_id)

    def stop_run(job_id: str, run_id: str, asked: frozenset[str]) -> Any:
        with backend.reading() as view:
            if not view.has_job(job_id) and not view.runs_of(job_id):
                return mr.unknown_job(job_id)
            if found_run(view, job_id, run_id) is None:
                return mr.unknown_run(job_id, run_id)
        try:
            backend.submit(KillRun(job_id, run_id))
        except ConflictError as exc:
            return mr.error(409, str(exc))
        with backend.reading() as view:
            return run_answer(view, view.run(job_id, run_id), asked)

    @router.post("/v1/jobs/{job_id}/runs/{run_id}/actions/stop")
    def stop(job_id: str, run_id: str, embed: list[str] = EMBED) -> Any:
        """Stop a run (Metronome's): a queued one ends at once, a launched one is killed."""
        return stop_run(job_id, run_id, mr.embeds(embed))

    @router.delete("/v1/jobs/{job_id}/runs/{run_id}")
    def kill(job_id: str, run_id: str, embed: list[str] = EMBED) -> Any:
        """Halyard's spelling of the same stop."""
        return stop_run(job_id, run_id, mr.embeds(embed))

    def output(job_id: str, run_id: str, name: str, lines: int | None, bytes_: int) -> PlainTextResponse:
        with backend.reading() as view:
            found = view.run(job_id, run_id)
            framework_id = view.framework_id
        return PlainTextResponse(last_lines(run_output(backend, found, framework_id, name, bytes_), lines))

    @router.get("/v1/jobs/{job_id}/runs/{run_id}/stdout", response_class=PlainTextResponse)
    def stdout(job_id: str, run_id: str, lines: int | None = None, bytes: int = 65536) -> Any:  # noqa: A002
        """The tail of the current attempt's standard output (``lines``: only the last lines)."""
        return output(job_id, run_id, "stdout", lines, bytes)

    @router.get("/v1/jobs/{job_id}/runs/{run_id}/stderr", response_class=PlainTextResponse)
    def stderr(job_id: str, run_id: str, lines: int | None = None, bytes: int = 65536) -> Any:  # noqa: A002
        return output(job_id, run_id, "stderr", lines, bytes)

    return router

