"""Metronome's job definitions (``dcos/metronome``'s v1 JobSpec and ScheduleSpec), read into
Halyard's jobs and written from them. The one owner of that JSON.

Reading: a Metronome JobSpec (``id``, ``description``, ``labels``, ``run``, ``schedules``) is
checked against Metronome's JSON schema (types, enums, minimums, unknown fields: each problem at
its JSON pointer, ``/run/cpus``), then becomes Halyard's flat definition, which Halyard validates
(its problems mapped back to Metronome's paths). What Halyard cannot honour is refused with the
reason, never ignored (``gpus``, ``ucr``, ``dependencies``, secret volumes).

The mapping: ``run.cpus|mem|disk|cmd|args|user|env|secrets|taskKillGracePeriodSeconds`` are
Halyard's fields; ``placement.constraints[{attribute, operator, value}]`` are constraints
(``EQ`` and ``IS`` are Halyard's ``IS``); ``artifacts`` are ``fetch``; ``docker`` and ``volumes``
are ``container``; ``networks`` are ``networks``; ``maxLaunchDelay`` (the longest delay before a
relaunch, as in Metronome, 3600 by default) is ``maxBackoffSeconds``; ``restart.policy``
``ON_FAILURE`` is ``retries`` (100, Halyard's most, unless the job already had some) and
``restart.activeDeadlineSeconds`` is ``retryDeadlineSeconds``; the schedule is ``schedule``.

Writing: only the fields Metronome's clients know; the newer ones (``gpus`` never, as Halyard has
none; ``taskKillGracePeriodSeconds``, ``secrets``, ``networks``, Docker's ``forcePullImage``,
``privileged`` and ``parameters``) only when they hold something, as Metronome 0.x wrote them, so
dcos-metronome's strict parser reads every job it can define. Halyard's own parts (retry counts
and backoff, timeouts, callbacks, strategies, other constraint operators, inline secret values,
environments) are not shown; a Metronome ``PUT`` keeps them (:func:`keep_halyard_parts`).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..errors import Problem
from ..jobs.spec import MAX_RETRIES, JobSpec, Schedule
from ..spec.app import Operator
from .json_checks import Check, array, boolean, enum, mapping, number, obj, problem, string

DEFAULT_MAX_LAUNCH_DELAY = 3600       # Metronome's JobRunSpec.DefaultMaxLaunchDelay (1 hour)
HALYARD_KILL_GRACE = 3.0
_METRONOME_OPERATORS = {"IS": Operator.IS, "EQ": Operator.IS, "LIKE": Operator.LIKE, "UNLIKE": Operator.UNLIKE}
_SHOWN_OPERATORS = {Operator.IS: "EQ", Operator.LIKE: "LIKE", Operator.UNLIKE: "UNLIKE"}
_NETWORK_MODES = ("host", "container/bridge", "container")
_CONCURRENCY = ("ALLOW", "FORBID")


def metronome_time(ts: float) -> str:
    """Metronome's timestamps: ``2016-07-15T13:02:59.735+0000`` (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}+0000"


def is_metronome(raw: Any) -> bool:
    """A Metronome JobSpec (it has ``run``), rather than Halyard's flat definition."""
    return isinstance(raw, Mapping) and "run" in raw


# --- Metronome's JSON schema, as far as it is checked -------------------------------------------

def _env_value(value: Any, path: str, problems: list[Problem]) -> None:
    if isinstance(value, str):
        return
    if isinstance(value, dict) and set(value) == {"secret"} and isinstance(value["secret"], str):
        return
    problem(problems, path, 'expected a string or {"secret": NAME}')


ENV_VALUE = Check(_env_value, {"oneOf": [{"type": "string"}, {
    "type": "object", "required": ["secret"], "properties": {"secret": {"type": "string"}}, "additionalProperties": False}]})


SCHEDULE = obj({
    "id": string(1), "cron": string(), "timezone": string(), "startingDeadlineSeconds": number(60, integer=True),
    "concurrencyPolicy": enum(*_CONCURRENCY), "enabled": boolean,
    "nextRunAt": string(),   # read-only: what GET answered may be sent back
}, required=("id", "cron"))

RUN = obj({
    "cpus": number(0.01), "mem": number(32), "disk": number(0), "gpus": number(0, integer=True),
    "cmd": string(1), "args": array(string()), "user": string(), "env": mapping(ENV_VALUE),
    "placement": obj({"constraints": array(obj(
        {"attribute": string(), "operator": enum("IS", "EQ", "LIKE", "UNLIKE"), "value": string()},
        required=("attribute", "operator")))}),
    "artifacts": array(obj({"uri": string(), "executable": boolean, "extract": boolean, "cache": boolean},
                               required=("uri",))),
    "maxLaunchDelay": number(1, integer=True),
    "docker": obj({"image": string(), "forcePullImage": boolean, "privileged": boolean,
                       "parameters": array(obj({"key": string(), "value": string()}, required=("key", "value")))},
                      required=("image",)),
    "ucr": obj({}, closed=False),   # refused with its reason, once read
    "volumes": array(obj({"containerPath": string(1), "hostPath": string(1), "mode": enum("RO", "RW"),
                              "secret": string(1)}, required=("containerPath",))),
    "restart": obj({"policy": enum("NEVER", "ON_FAILURE"), "activeDeadlineSeconds": number(integer=True)},
                       required=("policy",)),
    "taskKillGracePeriodSeconds": number(0),
    "secrets": mapping(obj({"source": string(1)}, required=("source",))),
    "networks": array(obj({"name": string(), "mode": enum(*_NETWORK_MODES), "labels": mapping(string())},
                              required=("mode",))),
}, required=("cpus", "mem", "disk"))

JOB = obj({
    "id": string(1), "description": string(), "dependencies": array(obj({"id": string()}, closed=False)),
    "labels": mapping(string()), "schedules": array(SCHEDULE), "run": RUN,
}, required=("id", "run"))


def schema_problems(raw: Any, check: Check = JOB) -> list[Problem]:
    """What Metronome's JSON schema refuses in ``raw``, each at its JSON pointer."""
    problems: list[Problem] = []
    check(raw, "", problems)
    return problems


# --- reading ------------------------------------------------------------------------------------

def schedule_definition(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A Metronome ScheduleSpec as Halyard's ``schedule`` (a sixth cron field is Metronome's year)."""
    cron = raw["cron"]
    fields = cron.split() if isinstance(cron, str) else []
    if len(fields) == 6:
        cron = " ".join(fields[:5] + ["0", fields[5]])   # croniter: seconds, then the year
    out: dict[str, Any] = {"id": raw["id"], "cron": cron}
    for key in ("timezone", "startingDeadlineSeconds", "concurrencyPolicy", "enabled"):
        if key in raw:
            out[key] = raw[key]
    return out


def definition(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """A Metronome JobSpec (schema-valid) as Halyard's flat definition, and what Halyard refuses in it."""
    run: Mapping[str, Any] = raw["run"]
    problems: list[Problem] = []
    flat: dict[str, Any] = {"id": raw["id"], "cpus": run["cpus"], "mem": run["mem"], "disk": run["disk"],
                            "maxBackoffSeconds": run.get("maxLaunchDelay", DEFAULT_MAX_LAUNCH_DELAY)}
    for key in ("description", "labels"):
        if key in raw:
            flat[key] = raw[key]
    for key in ("cmd", "args", "user", "env", "secrets", "taskKillGracePeriodSeconds", "networks"):
        if key in run:
            flat[key] = run[key]
    if run.get("gpus"):
        problem(problems, "/run/gpus", "not supported by Halyard: GPUs for jobs")
    if "ucr" in run:
        problem(problems, "/run/ucr", "not supported by Halyard: the UCR (Mesos containerizer images); give "
                                       "docker.image (the executor runs it with Docker)")
    if raw.get("dependencies"):
        problem(problems, "/dependencies", "not supported by Halyard: job dependencies")
    schedules = raw.get("schedules") or []
    if len(schedules) > 1:
        problem(problems, "/schedules", "Only one schedule supported at the moment")
    elif schedules:
        flat["schedule"] = schedule_definition(schedules[0])
    constraints = (run.get("placement") or {}).get("constraints") or []
    flat["constraints"] = [[c["attribute"], _METRONOME_OPERATORS[c["operator"]].value]
                           + ([c["value"]] if c.get("value") is not None else []) for c in constraints]
    flat["fetch"] = [dict(a) for a in run.get("artifacts") or []]
    volumes = run.get("volumes") or []
    for i, volume in enumerate(volumes):
        if "secret" in volume:
            problem(problems, f"/run/volumes/{i}/secret", "not supported by Halyard: file-based secrets "
                                                           "(Metronome has them for the UCR only); use env")
    if "docker" in run:
        flat["container"] = {"docker": dict(run["docker"]), "volumes": [dict(v) for v in volumes]}
    elif volumes:
        problem(problems, "/run/volumes", "volumes need a Docker image (run.docker.image): commands run on the "
                                           "agent's own filesystem")
    restart = run.get("restart") or {"policy": "NEVER"}
    if restart["policy"] == "ON_FAILURE":
        flat["retries"] = MAX_RETRIES
        if restart.get("activeDeadlineSeconds") is not None:
            flat["retryDeadlineSeconds"] = restart["activeDeadlineSeconds"]
    return flat, problems


#: Halyard's problem paths (the first key) in Metronome's JobSpec.
_PATHS = {"id": "/id", "description": "/description", "labels": "/labels", "schedule": "/schedules/0",
          "container": "/run", "constraints": "/run/placement/constraints", "fetch": "/run/artifacts",
          "maxBackoffSeconds": "/run/maxLaunchDelay", "retries": "/run/restart/policy",
          "retryDeadlineSeconds": "/run/restart/activeDeadlineSeconds"}


def metronome_path(loc: tuple) -> str:
    """Where a problem Halyard found in the flat definition sits in Metronome's JobSpec."""
    if not loc:
        return "/run"
    head, rest = str(loc[0]), [str(part) for part in loc[1:]]
    if head == "container":
        rest = rest[1:] if rest[:1] == ["docker"] else rest   # container.docker.image -> /run/docker/image
        base = "/run/docker" if loc[1:2] == ("docker",) else "/run"
    else:
        base = _PATHS.get(head, f"/run/{head}")
    return "/".join([base, *rest])


def spec_problems(problems: list[Problem]) -> list[Problem]:
    """Halyard's problems with a flat definition, at Metronome's paths."""
    return [Problem(metronome_path(p.loc), p.message, p.loc) for p in problems]


def keep_halyard_parts(new: JobSpec, old: JobSpec | None, raw: Mapping[str, Any]) -> JobSpec:
    """A Metronome ``PUT``: ``new`` with what Metronome's shape cannot carry kept from ``old`` (the
    schedule, as Metronome keeps it; retry counts and backoff, timeouts, callbacks, strategies,
    constraints of other operators, inline secret values, environments)."""
    if old is None:
        return new
    run = raw["run"]
    on_failure = (run.get("restart") or {}).get("policy") == "ON_FAILURE"
    env = {**{k: v for k, v in old.env.items() if _inline_secret(v)}, **new.env}
    hidden = [c for c in old.constraints if c.operator not in _SHOWN_OPERATORS]
    changes: dict[str, Any] = {
        "schedule": old.schedule, "backoff_seconds": old.backoff_seconds, "backoff_factor": old.backoff_factor,
        "timeout_seconds": old.timeout_seconds, "callback_uri": old.callback_uri,
        "callback_states": old.callback_states, "strategy": old.strategy,
        "accepted_resource_roles": old.accepted_resource_roles, "environments": old.environments,
        "constraints": list(new.constraints) + hidden, "env": env,
    }
    if on_failure and old.retries > 0:
        changes["retries"] = old.retries
    if "taskKillGracePeriodSeconds" not in run:
        changes["task_kill_grace_period_seconds"] = old.task_kill_grace_period_seconds
    return new.model_copy(update=changes)


def _inline_secret(value: Any) -> bool:
    return not isinstance(value, str) and getattr(value, "reference", None) is None


# --- writing ------------------------------------------------------------------------------------

def job_json(spec: JobSpec) -> dict[str, Any]:
    """A job as Metronome's JobSpec (``id``, ``description``, ``labels``, ``run``)."""
    out: dict[str, Any] = {"id": spec.id}
    if spec.description is not None:
        out["description"] = spec.description
    out["labels"] = dict(spec.labels)
    out["run"] = run_spec_json(spec)
    return out


def run_spec_json(spec: JobSpec) -> dict[str, Any]:
    """The job's ``run``: Metronome 0.x's fields always, the newer ones only when they hold something."""
    run: dict[str, Any] = {"cpus": spec.cpus, "mem": spec.mem, "disk": spec.disk}
    if spec.cmd is not None:
        run["cmd"] = spec.cmd
    if spec.args is not None:
        run["args"] = list(spec.args)
    if spec.user is not None:
        run["user"] = spec.user
    env: dict[str, Any] = {}
    references: set[str] = set()
    for key, value in spec.env.items():
        if isinstance(value, str):
            env[key] = value
        elif value.reference is not None:
            env[key] = {"secret": value.reference}
            references.add(value.reference)
    run["env"] = env
    run["placement"] = {"constraints": [
        {"attribute": c.field, "operator": _SHOWN_OPERATORS[c.operator], **({"value": c.value} if c.value else {})}
        for c in spec.constraints if c.operator in _SHOWN_OPERATORS]}
    run["artifacts"] = [{"uri": f.uri, "extract": f.extract, "executable": f.executable, "cache": f.cache}
                        for f in spec.fetch]
    run["maxLaunchDelay"] = int(round(spec.max_backoff_seconds))
    run["volumes"] = []
    if spec.container is not None:
        docker = spec.container.docker
        shown: dict[str, Any] = {"image": docker.image}
        if docker.force_pull_image:
            shown["forcePullImage"] = True
        if docker.privileged:
            shown["privileged"] = True
        if docker.parameters:
            shown["parameters"] = [{"key": p.key, "value": p.value} for p in docker.parameters]
        run["docker"] = shown
        run["volumes"] = [{"containerPath": v.container_path, "hostPath": v.host_path, "mode": v.mode}
                          for v in spec.container.volumes]
    restart: dict[str, Any] = {"policy": "ON_FAILURE" if spec.retries > 0 else "NEVER"}
    if spec.retries > 0 and spec.retry_deadline_seconds is not None:
        restart["activeDeadlineSeconds"] = int(round(spec.retry_deadline_seconds))
    run["restart"] = restart
    if spec.task_kill_grace_period_seconds != HALYARD_KILL_GRACE:
        run["taskKillGracePeriodSeconds"] = spec.task_kill_grace_period_seconds
    if references:
        run["secrets"] = {name: {"source": spec.secrets[name].source} for name in sorted(references)
                          if name in spec.secrets}
    if spec.networks:
        run["networks"] = [{"mode": n.mode, **({"name": n.name} if n.name else {}),
                            **({"labels": dict(n.labels)} if n.labels else {})} for n in spec.networks]
    return run


def schedule_json(schedule: Schedule, next_run_at: float) -> dict[str, Any]:
    """A schedule as Metronome's ScheduleSpec, with ``nextRunAt`` (a year Halyard keeps as a seventh
    field is Metronome's sixth)."""
    fields = schedule.cron.split()
    cron = " ".join(fields[:5] + [fields[6]]) if len(fields) == 7 and fields[5] == "0" else schedule.cron
    return {"id": schedule.id, "cron": cron, "timezone": schedule.timezone,
            "startingDeadlineSeconds": int(round(schedule.starting_deadline_seconds)),
            "concurrencyPolicy": schedule.concurrency_policy, "enabled": schedule.enabled,
            "nextRunAt": metronome_time(next_run_at)}


def schedule_raw(raw: Mapping[str, Any], schedule_id: str | None = None) -> dict[str, Any]:
    """A ScheduleSpec body as Halyard's schedule (its ``id`` forced to ``schedule_id`` on a PUT)."""
    body = dict(raw)
    body.pop("nextRunAt", None)
    if schedule_id is not None:
        body["id"] = schedule_id
    return schedule_definition(body)

