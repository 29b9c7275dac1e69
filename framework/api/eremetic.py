"""Eremetic's API (``eremetic-framework/eremetic``'s ``/api/v1/task``: RequestV1, TaskV1, Status,
CallbackData) over Halyard's jobs, and the body of every job callback. The one owner of that JSON.

Each Eremetic task is a one-off run on Halyard's executor: a job ``eremetic-task.<uuid>`` (the
task's id, as Eremetic names them) defined and started in one step, whose callback gets every
status change. An ``image`` runs with Docker, as Halyard's image jobs do (``docker run`` by the
executor, limited to the task's cpus and mem); without one, ``command`` runs on the agent.

The request: ``cpu``, ``mem`` (Halyard's job defaults when absent), ``image``, ``command`` (through
``/bin/sh -c``), ``args`` (the image's arguments, without ``command``), ``env``, ``masked_env``
(secret values: never shown again), ``volumes`` (``{container_path, host_path}``, read-write),
``volumes_from`` and ``dns`` (Docker's parameters, as Eremetic passes them), ``network`` (``HOST``,
``BRIDGE`` (Eremetic's default), ``NONE``), ``ports`` (Eremetic maps them on a bridge network
only; Halyard's tasks take no host ports, so ``ports`` with a bridge network are refused),
``fetch``, ``agent_constraints`` (``{attribute_name, attribute_value}``: the attribute must have
that value), ``force_pull_image``, ``privileged``, ``name``, ``labels``, ``callback_uri``. Bodies
are read whatever their Content-Type (Eremetic's clients send none).

A task's ``status`` is its history as Eremetic tells it: ``TASK_QUEUED``, ``TASK_STAGING`` (launched),
``TASK_STARTING``, ``TASK_RUNNING``, ``TASK_TERMINATING`` (a kill asked for), and the end:
``TASK_FINISHED``, ``TASK_FAILED``, ``TASK_KILLED``, ``TASK_ERROR`` or ``TASK_LOST`` (every other
loss); a retried or relaunched task shows its end, then ``TASK_QUEUED`` again. Times are Unix seconds.
"""
from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..engine.messages import DeleteJob, KillRun, PutJob
from ..engine.view import EngineView
from ..errors import ConflictError, NotFoundError, Problem
from ..jobs.book import run_id_for
from ..jobs.domain_events import CallbackNotice
from ..jobs.records import RunRecord
from ..jobs.spec import JobSpec
from ..runtime.backend import Backend
from ..spec.validation import SecretInputs, job_problems
from . import scopes
from .inputs import app_inputs, body_json
from .job_output import run_output
from .json_checks import array, boolean, mapping, number, obj, string
from .tokens import job_path

PREFIX = "eremetic-task."
MASK = "******"
BAD_REQUEST = "Unable to parse body into a valid request."
_NETWORKS = {"HOST": None, "BRIDGE": {"mode": "container/bridge"}, "NONE": {"mode": "container", "name": "none"}}
_EREMETIC_STATES = {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED",
                    "TASK_LOST", "TASK_ERROR"}
_ACTIVE = {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_ERROR", "TASK_TERMINATING"}
_TERMINAL = {"TASK_LOST", "TASK_KILLED", "TASK_FAILED", "TASK_FINISHED"}

REQUEST = obj({
    "cpu": number(), "mem": number(), "image": string(), "command": string(), "args": array(string()),
    "volumes": array(obj({"container_path": string(), "host_path": string()})),
    "volumes_from": array(string()),
    "ports": array(obj({"container_port": number(0, integer=True), "host_port": number(0, integer=True),
                        "protocol": string()})),
    "name": string(), "network": string(), "dns": string(), "env": mapping(string()),
    "masked_env": mapping(string()), "labels": mapping(string()),
    "agent_constraints": array(obj({"attribute_name": string(), "attribute_value": string()})),
    "callback_uri": string(),
    "fetch": array(obj({"uri": string(), "executable": boolean, "extract": boolean, "cache": boolean})),
    "force_pull_image": boolean, "privileged": boolean,
}, closed=False)   # Go's encoding/json ignores fields it does not know


def is_task(job_id: str) -> bool:
    return job_id.startswith(PREFIX)


def _given(raw: dict[str, Any], key: str) -> Any:
    """A request field, Go's zero value (absent, null, empty) as None."""
    value = raw.get(key)
    return None if value in (None, "", [], {}) else value


def definition(raw: dict[str, Any], task_id: str) -> tuple[dict[str, Any], list[Problem]]:
    """An Eremetic request (type-checked) as Halyard's flat job definition, and what Halyard refuses."""
    problems: list[Problem] = []
    flat: dict[str, Any] = {"id": task_id, "callbackStates": "all"}
    for key, field in (("cpu", "cpus"), ("mem", "mem"), ("name", "description"), ("labels", "labels"),
                       ("callback_uri", "callbackUri")):
        if raw.get(key) is not None and (key in ("cpu", "mem") or _given(raw, key) is not None):
            flat[field] = raw[key]
    env: dict[str, Any] = dict(raw.get("env") or {})
    env.update({k: {"value": v, "secret": True} for k, v in (raw.get("masked_env") or {}).items()})
    if env:
        flat["env"] = env
    if _given(raw, "fetch"):
        flat["fetch"] = [{k: v for k, v in f.items() if k in ("uri", "executable", "extract", "cache")}
                         for f in raw["fetch"]]
    if _given(raw, "agent_constraints"):
        flat["constraints"] = [[c.get("attribute_name", ""), "IS", c.get("attribute_value", "")]
                               for c in raw["agent_constraints"]]
    command, args, image = _given(raw, "command"), _given(raw, "args"), _given(raw, "image")
    if command is not None:
        flat["cmd"] = command
    elif args is not None:
        flat["args"] = args
    network = raw.get("network") or "BRIDGE"
    if network not in _NETWORKS:
        problems.append(Problem("network", f"{network!r} is not one of {', '.join(_NETWORKS)}"))
    if _given(raw, "ports") and network != "HOST":
        problems.append(Problem("ports", "not supported by Halyard: port mappings (a task takes no host ports); "
                                         "use network HOST, where Eremetic does not map them either"))
    if image is None:
        for key in ("volumes", "volumes_from", "dns"):
            if _given(raw, key):
                problems.append(Problem(key, "needs an image (a command without one runs on the agent)"))
        return flat, problems
    parameters = ([{"key": "dns", "value": raw["dns"]}] if _given(raw, "dns") else []) + \
        [{"key": "volumes-from", "value": name} for name in raw.get("volumes_from") or [] if name]
    flat["container"] = {"docker": {"image": image, "forcePullImage": bool(raw.get("force_pull_image")),
                                    "privileged": bool(raw.get("privileged")), "parameters": parameters},
                         "volumes": [{"containerPath": v.get("container_path", ""), "hostPath": v.get("host_path", ""),
                                      "mode": "RW"} for v in raw.get("volumes") or []]}
    if _NETWORKS.get(network):
        flat["networks"] = [_NETWORKS[network]]
    return flat, problems


def statuses(run: RunRecord | None) -> list[dict[str, Any]]:
    """The run's history as Eremetic's ``status``: ``[{status, time}]``, oldest first."""
    if run is None:
        return []
    out: list[dict[str, Any]] = []

    def add(state: str, at: float) -> None:
        if not out or out[-1]["status"] != state:
            out.append({"status": state, "time": int(at)})

    for entry in run.history:
        status, state, at = entry["status"], entry.get("taskState"), entry["time"]
        if entry.get("killing"):
            add("TASK_TERMINATING", at)
        elif status == "QUEUED":
            if state is not None and state != "TASK_LAUNCHING" and out:
                add(_eremetic_state(state), at)   # the end of the task before this relaunch
            add("TASK_QUEUED", at)
        elif status == "STARTING":
            add("TASK_STAGING" if state in (None, "TASK_LAUNCHING") else _eremetic_state(state), at)
        elif status == "RUNNING":
            add("TASK_RUNNING", at)
        else:   # FINISHED, FAILED, KILLED
            add(_eremetic_state(state) if state and state != "TASK_LAUNCHING" else "TASK_KILLED", at)
    return out


def _eremetic_state(state: str) -> str:
    if state in _EREMETIC_STATES:
        return state
    return "TASK_TERMINATING" if state == "TASK_KILLING" else "TASK_LOST"


def task_json(spec: JobSpec, run: RunRecord | None, framework_id: str | None) -> dict[str, Any]:
    """A task as Eremetic's TaskV1."""
    docker = spec.container.docker if spec.container is not None else None
    params = docker.parameters if docker is not None else []
    network = "HOST" if not spec.networks or spec.networks[0].mode == "host" else \
        "BRIDGE" if spec.networks[0].mode == "container/bridge" else "NONE"
    return {
        "cpu": spec.cpus, "mem": spec.mem, "command": spec.cmd or "", "args": list(spec.args or []),
        "user": spec.user or "", "env": {k: v for k, v in spec.env.items() if isinstance(v, str)},
        "masked_env": {k: MASK for k in spec.secret_names()}, "labels": dict(spec.labels),
        "image": docker.image if docker is not None else "",
        "volumes": [{"container_path": v.container_path, "host_path": v.host_path}
                    for v in (spec.container.volumes if spec.container is not None else [])],
        "volumes_from": [p.value for p in params if p.key == "volumes-from"], "ports": [],
        "status": statuses(run), "id": spec.id, "name": spec.description or "", "network": network,
        "dns": next((p.value for p in params if p.key == "dns"), ""), "framework_id": framework_id or "",
        "agent_id": (run.agent_id if run else None) or "",
        "agent_constraints": [{"attribute_name": c.field, "attribute_value": c.value or ""} for c in spec.constraints],
        "hostname": (run.hostname if run else None) or "", "retry": max((run.launches if run else 0) - 1, 0),
        "callback_uri": spec.callback_uri or "", "sandbox_path": "", "agent_ip": "", "agent_port": 0,
        "force_pull_image": bool(docker and docker.force_pull_image), "privileged": bool(docker and docker.privileged),
        "fetch": [{"uri": f.uri, "executable": f.executable, "extract": f.extract, "cache": f.cache} for f in spec.fetch],
    }


def callback_json(notice: CallbackNotice) -> dict[str, Any]:
    """A job callback's body: Eremetic's ``{time, status, task_id}`` (an Eremetic task's own id),
    and for Halyard's jobs also ``jobId``, ``runId``, ``attempt``, ``exitCode``, ``message`` (its
    ``task_id`` then the Mesos task's)."""
    if notice.every_state and is_task(notice.job_id):
        return {"time": int(notice.at), "status": notice.state, "task_id": notice.job_id}
    return {"time": int(notice.at), "status": notice.state, "task_id": notice.task_id, "jobId": notice.job_id,
            "runId": notice.run_id, "attempt": notice.attempt, "exitCode": notice.exit_code, "message": notice.message}


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def _task_run(view: EngineView, task_id: str) -> RunRecord | None:
    runs = view.runs_of(task_id)
    return runs[-1] if runs else None


def _current(task: dict[str, Any]) -> str:
    return task["status"][-1]["status"] if task["status"] else ""


def _matches(task: dict[str, Any], states: str, name: str | None) -> bool:
    if name and task["name"] != name:
        return False
    current = _current(task)
    wanted = {s.strip() for s in states.split(",")}
    return ("active" in wanted and current in _ACTIVE) or ("queued" in wanted and current == "TASK_QUEUED") or \
        ("terminated" in wanted and (current == "" or current in _TERMINAL))


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/task")
    async def add_task(request: Request) -> Any:
        """Run a task: 202 with its id (a JSON string) and ``Location``, as Eremetic."""
        raw = await body_json(request)
        problems: list[Problem] = []
        spec: JobSpec | None = None
        REQUEST(raw, "", problems)
        task_id = PREFIX + str(uuid.uuid4())
        scopes.require([job_path(task_id)])
        if not problems:
            flat, problems = definition(raw, task_id)
        if not problems:
            spec, problems = job_problems(flat, secrets=SecretInputs(app_inputs(request).secrets, {}))
        if problems or spec is None:
            return _answer(422, {"error": "; ".join(str(p) for p in problems), "message": BAD_REQUEST})
        with backend.reading() as view:
            run_id = run_id_for(view.now(), view.new_id())
        backend.submit(PutJob(spec, run_id=run_id))
        location = str(request.url_for("task", task_id=task_id))
        return _answer(202, task_id, {"Location": location})

    @router.get("/api/v1/task")
    def list_tasks(state: str = "active,queued", name: str | None = None) -> Any:
        """The tasks in ``state`` (``active``, ``queued``, ``terminated``, comma-separated; Eremetic's
        default ``active,queued``), or of that ``name``."""
        with backend.reading() as view:
            tasks = [task_json(j.spec, _task_run(view, j.job_id), view.framework_id) for j in view.jobs()
                     if is_task(j.job_id)]
        return [t for t in tasks if _matches(t, state, name)]

    @router.get("/api/v1/task/{task_id}", name="task")
    def task(task_id: str) -> Any:
        with backend.reading() as view:
            if not is_task(task_id) or not view.has_job(task_id):
                return _answer(404, None)
            return task_json(view.job(task_id).spec, _task_run(view, task_id), view.framework_id)

    @router.post("/api/v1/task/{task_id}/kill")
    def kill(task_id: str) -> Any:
        """Kill the task: 202 (a queued one ends at once); 409 when it already ended."""
        with backend.reading() as view:
            run = _task_run(view, task_id) if is_task(task_id) and view.has_job(task_id) else None
        if run is None:
            return _answer(404, f"task {task_id} not found")
        try:
            backend.submit(KillRun(task_id, run.run_id))
        except ConflictError:
            return _answer(409, "you can not kill that which is already dead")
        return _answer(202, "")

    @router.delete("/api/v1/task/{task_id}")
    def delete(task_id: str) -> Any:
        """Remove an ended task: 202; 409 while it runs."""
        with backend.reading() as view:
            if not is_task(task_id) or not view.has_job(task_id):
                return _answer(404, f"task {task_id} not found")
            active = any(r.active for r in view.runs_of(task_id))
        if active:
            return _answer(409, f"Cannot delete the task [{task_id}]. As it is still running.")
        backend.submit(DeleteJob(task_id))
        return _answer(202, "")

    def sandbox_file(task_id: str, name: str) -> Response:
        with backend.reading() as view:
            run = _task_run(view, task_id) if is_task(task_id) and view.has_job(task_id) else None
            framework_id = view.framework_id
        if run is None:
            return Response(status_code=204)
        try:
            text = run_output(backend, run, framework_id, name, 1 << 20)
        except NotFoundError:
            return Response(status_code=204)   # Eremetic: no sandbox yet
        return PlainTextResponse(text)

    @router.get("/api/v1/task/{task_id}/stdout")
    def stdout(task_id: str) -> Any:
        return sandbox_file(task_id, "stdout")

    @router.get("/api/v1/task/{task_id}/stderr")
    def stderr(task_id: str) -> Any:
        return sandbox_file(task_id, "stderr")

    return router
