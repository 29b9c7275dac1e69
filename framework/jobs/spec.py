"""Job definitions: short-lived work run to completion on Halyard's own executor.

Field names follow the app definition where the meaning is the same (``cmd``, ``args``,
``container.docker``, ``cpus``, ``mem``, ``disk``, ``env`` with ``{value, secret: true}``,
``fetch``, ``constraints``, ``backoffSeconds``/``backoffFactor``,
``taskKillGracePeriodSeconds``); the job-only fields follow Metronome (``schedule`` with
``cron``, ``timezone``, ``concurrencyPolicy``, ``startingDeadlineSeconds``) and Eremetic
(``callbackUri``). Pure data: no I/O.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..placement.workload import Workload
from ..spec.app import Constraint, Definition, DockerParameter, FetchUri, PathProblems, SecretEnv, Spec, StrategyRef, Volume
from ..spec.parts import Network, SecretSource
from . import cron

DEFAULT_JOB_CPUS = 1.0     # Metronome's defaults
DEFAULT_JOB_MEM = 128.0
MAX_RETRIES = 100
DEFAULT_SCHEDULE_ID = "default"
_SCHEDULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")   # Metronome's schedule id
_JOB_ID = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


class JobDocker(Spec):
    """The image a job runs (the executor runs it with ``docker run``)."""

    image: str = Field(min_length=1)
    force_pull_image: bool = False
    privileged: bool = False
    parameters: list[DockerParameter] = Field(default_factory=list)


class JobContainer(Spec):
    type: Literal["DOCKER"] = "DOCKER"
    docker: JobDocker
    volumes: list[Volume] = Field(default_factory=list)


class Schedule(Spec):
    """When a job runs by itself (Metronome's schedule).

    ``concurrencyPolicy``: ``ALLOW`` starts a run even while an earlier one is active;
    ``FORBID`` skips the firing. A firing missed while no scheduler led is still run if it is at
    most ``startingDeadlineSeconds`` late.
    """

    #: Metronome's schedule id (a job has at most one schedule, as in Metronome).
    id: str = DEFAULT_SCHEDULE_ID
    cron: str
    timezone: str = "UTC"
    concurrency_policy: Literal["ALLOW", "FORBID"] = "ALLOW"
    starting_deadline_seconds: float = Field(900.0, gt=0)
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _SCHEDULE_ID.match(value):
            raise ValueError("use lowercase letters, digits and '-', at least 2 characters, starting and ending "
                             "with a letter or digit")
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        cron.check_expression(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        cron.check_timezone(value)
        return value


class JobSpec(Definition):
    """One job: what to run, with what, where it may go, and what to do when it fails or ends."""

    id: str
    description: str | None = None
    cmd: str | None = None
    args: list[str] | None = None
    container: JobContainer | None = None
    cpus: float = Field(DEFAULT_JOB_CPUS, gt=0)
    mem: float = Field(DEFAULT_JOB_MEM, gt=0)
    disk: float = Field(0.0, ge=0)
    env: dict[str, str | SecretEnv] = Field(default_factory=dict)
    #: Marathon's (and Metronome's) ``secrets``: name -> ``{source}``, referred to by ``env`` values
    #: ``{secret: NAME}`` and filled in from the scheduler's secret store by the API.
    secrets: dict[str, SecretSource] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    #: The Docker network of an image job: one of ``host`` (the default), ``container/bridge``
    #: (Docker's bridge) or ``container`` with ``name`` (a Docker network made on the agents).
    networks: list[Network] = Field(default_factory=list)
    fetch: list[FetchUri] = Field(default_factory=list)
    constraints: list[Constraint] = Field(default_factory=list)
    accepted_resource_roles: list[str] | None = None
    strategy: StrategyRef | None = None
    user: str | None = None
    timeout_seconds: float | None = Field(None, gt=0)
    retries: int = Field(0, ge=0, le=MAX_RETRIES)
    #: No retry starts later than this many seconds after the run was created (Metronome's
    #: ``restart.activeDeadlineSeconds``).
    retry_deadline_seconds: float | None = Field(None, gt=0)
    backoff_seconds: float = Field(1.0, ge=0)
    backoff_factor: float = Field(2.0, ge=1.0)
    max_backoff_seconds: float = Field(300.0, ge=0)
    task_kill_grace_period_seconds: float = Field(3.0, ge=0)
    schedule: Schedule | None = None
    callback_uri: str | None = None
    #: Which task states are posted to ``callbackUri``: ``terminal`` ones, or ``all`` (every
    #: status change of the run's tasks, as Eremetic posts them).
    callback_states: Literal["terminal", "all"] = "terminal"
    environments: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not isinstance(value, str) or not _JOB_ID.match(value):
            raise ValueError("use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit "
                             "(e.g. reports.daily)")
        return value

    @field_validator("callback_uri")
    @classmethod
    def _http_uri(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> JobSpec:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.cmd is None and self.container is None:
            problems.append((("cmd",), "one of cmd or container.docker.image is required"))
        if self.args is not None and self.container is None:
            problems.append((("args",), "args needs a Docker image (container.docker.image); use cmd for commands"))
        if self.cmd is not None and self.args is not None:
            problems.append((("args",), "give cmd or args, not both"))
        if self.networks and self.container is None:
            problems.append((("networks",), "a network needs a Docker image (container.docker.image): commands "
                                            "run on the agent's host network"))
        if len(self.networks) > 1:
            problems.append((("networks",), "give one network (Docker joins one network)"))
        if any(n.mode != "host" for n in self.networks) and self.container is not None and any(
                p.key in ("network", "net") for p in self.container.docker.parameters):
            problems.append((("networks",), "give the network in networks or as a docker parameter, not both"))
        problems += self._role_problems()
        if problems:
            raise PathProblems(problems)
        return self

    def network(self) -> str:
        """The Docker network an image job joins: ``host``, ``bridge`` or a network's name."""
        if not self.networks or self.networks[0].mode == "host":
            return "host"
        return "bridge" if self.networks[0].mode == "container/bridge" else str(self.networks[0].name)

    def public_json(self) -> dict[str, Any]:
        """As :meth:`Definition.public_json`, without an empty ``environments``."""
        data = super().public_json()
        if not data.get("environments"):
            data.pop("environments", None)
        return data

    def workload(self, key: str, extra_cpus: float, extra_mem: float) -> Workload:
        """What the planner places for one run, under ``key`` (``/halyard-jobs/<job>/<run>``):
        one task with the job's resources plus its executor's, and no host ports."""
        return Workload(id=key, kind="job", instances=1, cpus=self.cpus + extra_cpus, mem=self.mem + extra_mem,
                        disk=self.disk, roles=tuple(self.accepted_resource_roles or ("*",)),
                        constraints=tuple(self.constraints), strategy=self.strategy, labels=self.labels)
