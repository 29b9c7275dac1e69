"""App definitions as typed, immutable data.

Field names are Marathon's app JSON names (camelCase on the wire, snake_case in Python), so a
Marathon app definition is accepted unchanged for every field Halyard supports. Halyard adds
``strategy`` (placement strategy by name, with args) and ``environments`` (per-environment
overlays, resolved by :mod:`halyard.spec.validation`).

Pure data: no I/O. Turning raw input into an :class:`AppSpec` (with readable problems) is the job
of :mod:`halyard.spec.validation`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from .base import PathProblems, Spec

# The parts of an app definition have modules of their own (app_*.py); they are imported from
# here too, as are PathProblems, Spec and SecretEnv.
from .checks import CommandCheck, HealthCheck, ReadinessCheck  # noqa: F401 (re-exported)
from .constraints import Constraint, Operator  # noqa: F401 (re-exported)
from .container import Container, Docker, DockerParameter, PortDefinition, PortMapping, Volume  # noqa: F401
from .lb_labels import label_problems
from .lifecycle import UNLIMITED, ResourceLimits, UnreachableStrategy, UpgradeStrategy  # noqa: F401
from .parts import DOCKER_NETWORK, AppCheck, Network, SecretEnv, SecretSource
from .rules import MarathonRules

# Marathon's defaults (AppDefinition.scala / RAML): see shared NOTES.md.
#: Marathon reads ``instances`` as a 32-bit integer: more is refused, as Marathon refuses it.
INT32_MAX = 2**31 - 1
DEFAULT_CPUS = 1.0
DEFAULT_MEM = 128.0
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_BACKOFF_FACTOR = 1.15
DEFAULT_MAX_LAUNCH_DELAY_SECONDS = 300.0
DEFAULT_STRATEGY = "binpack"
#: The fields of :class:`AppSpec` that Marathon's app definition does not have (Halyard's own):
#: accepted on input, kept in the stored definition, left out of Marathon's v2 answers (the API
#: shows them on request: ``embed=app.halyard``), since Marathon's strict clients refuse them.
HALYARD_FIELDS = ("minReadySeconds", "drainSeconds", "pinDigest", "strategy", "environments")

_ID_SEGMENT = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")


# ---------------------------------------------------------------------------------------------
# Fetch, env, strategy

class FetchUri(Spec):
    """A URI the agent's fetcher downloads into the sandbox."""

    uri: str = Field(min_length=1)
    extract: bool = True
    executable: bool = False
    cache: bool = False
    dest_path: str | None = None


def coerce_env(value: Any) -> Any:
    """An ``env`` mapping's values as strings or :class:`SecretEnv`; problems name the key."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for key, item in value.items():
        if isinstance(item, (str, SecretEnv)):
            out[key] = item
        elif isinstance(item, dict):
            try:
                out[key] = SecretEnv.model_validate(item)
            except Exception as exc:  # pydantic's error: keep its first message
                errors = exc.errors() if hasattr(exc, "errors") else [{"msg": str(exc)}]
                problems.append(((key,), errors[0]["msg"].removeprefix("Value error, ")))
        else:
            problems.append(((key,), f"expected a string (quote numbers and booleans in YAML) or "
                                     f"{{value: ..., secret: true}}, got {item!r}"))
    if problems:
        raise PathProblems(problems)
    return out


class StrategyRef(Spec):
    """Which placement strategy to use: a plugin name and the plugin's own arguments."""

    name: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def coerce(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


# ---------------------------------------------------------------------------------------------
# What apps and jobs share

# --- what placement places: a demand neutral of apps and jobs ------------------------------

WorkloadKind = Literal["app", "job"]
KINDS: tuple[str, ...] = ("app", "job")


@dataclass(frozen=True)
class Workload:
    """The tasks of one app or one job run, as placement sees them.

    Field names match the app definition where the meaning is the same, so a plugin that read
    ``ctx.app.cpus`` or ``ctx.app.constraints`` keeps working.
    """

    #: The key placements are reported under: an app id (``/team/web``), or for a job run
    #: ``/halyard-jobs/<job>/<run>``. Tasks on agents are counted per this key.
    id: str
    kind: WorkloadKind
    #: Desired total of tasks (existing + new): what ``GROUP_BY`` quotas and ``ctx.target`` use.
    instances: int
    cpus: float
    mem: float
    disk: float = 0.0
    gpus: float = 0.0
    #: Roles whose resources a task may use, as given (``("*",)``: the unreserved pool).
    roles: tuple[str, ...] = ("*",)
    #: One entry per host port a task needs: 0 means any port, otherwise that exact port.
    host_ports: tuple[int, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    #: The workload's own strategy choice; a request's strategy overrides it.
    strategy: StrategyRef | None = field(default=None, hash=False)
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not self.roles:
            raise ValueError("roles must name at least one role")
        # A copy, so the caller's containers cannot change the workload afterwards.
        object.__setattr__(self, "labels", dict(self.labels))
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "host_ports", tuple(self.host_ports))
        object.__setattr__(self, "constraints", tuple(self.constraints))

    def host_port_requests(self) -> tuple[int, ...]:
        """Deprecated: :attr:`host_ports`, under the name :class:`~halyard.spec.app.AppSpec` uses."""
        return self.host_ports


class Definition(Spec):
    """Base of app and job definitions: ``env`` values (strings or secrets) and ``strategy`` (a
    name or ``{name, args}``), read the same way in both."""

    # Each subclass declares both fields (where they sit in its JSON); these validators read them.
    if TYPE_CHECKING:
        env: dict[str, str | SecretEnv]

    @field_validator("env", mode="before", check_fields=False)
    @classmethod
    def _env_values(cls, value: Any) -> Any:
        return coerce_env(value)

    @field_validator("strategy", mode="before", check_fields=False)
    @classmethod
    def _strategy_from_name(cls, value: Any) -> Any:
        return StrategyRef.coerce(value)

    def env_values(self) -> dict[str, str]:
        """The environment as the task sees it, secrets included (a secret reference only once
        resolved, which the API does before anything is deployed)."""
        values = ((k, v.value if isinstance(v, SecretEnv) else v) for k, v in self.env.items())
        return {k: value for k, value in values if value is not None}

    @model_validator(mode="after")
    def _secret_references(self) -> Definition:
        secrets = getattr(self, "secrets", None)
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for key, item in self.env.items():
            if not isinstance(item, SecretEnv) or item.reference is None:
                continue
            if secrets is None:
                problems.append((("env", key), "secret references are for apps (with secrets); give "
                                               "{value: ..., secret: true}"))
            elif item.reference not in secrets:
                declared = ", ".join(sorted(secrets)) or "none"
                problems.append((("env", key), f"no secret {item.reference!r} in secrets (declared: {declared})"))
        if problems:
            raise PathProblems(problems)
        return self

    def _role_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        roles = getattr(self, "accepted_resource_roles", None) or []
        return [(("acceptedResourceRoles", i), "must be a non-empty role name") for i, role in enumerate(roles) if not role]

    def secret_names(self) -> list[str]:
        return sorted(k for k, v in self.env.items() if isinstance(v, SecretEnv))

    def public_json(self) -> dict[str, Any]:
        """The definition as shown to people and API clients: secret env values replaced by
        ``{secret: true}`` (Marathon's references by ``{secret: NAME}``)."""
        data = self.to_json()
        for key in self.secret_names():
            data["env"][key] = self.env[key].public()  # type: ignore[union-attr]  # a secret name: a SecretEnv
        return data


# ---------------------------------------------------------------------------------------------
# The app

def _non_negative_number(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return value >= 0 and value != float("inf")


class AppSpec(MarathonRules, Definition):
    """One long-running app: what to run, how many, where it may go and how it is placed."""

    id: str
    cmd: str | None = None
    args: list[str] | None = None
    cpus: float = Field(DEFAULT_CPUS, ge=0)
    mem: float = Field(DEFAULT_MEM, ge=0)
    disk: float = Field(0.0, ge=0)
    gpus: int = Field(0, ge=0)
    instances: int = Field(1, ge=0, le=INT32_MAX)
    container: Container | None = None
    #: Marathon 1.5's networks (one: Docker joins one network); ``container.docker.network`` is the older form.
    networks: list[Network] | None = None
    port_definitions: list[PortDefinition] | None = None
    require_ports: bool = False
    env: dict[str, str | SecretEnv] = Field(default_factory=dict)
    #: Marathon's ``secrets``: name -> ``{source}``, referred to by ``env`` values ``{secret: NAME}``.
    secrets: dict[str, SecretSource] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    constraints: list[Constraint] = Field(default_factory=list)
    accepted_resource_roles: list[str] | None = None
    health_checks: list[HealthCheck] = Field(default_factory=list)
    check: AppCheck | None = None
    upgrade_strategy: UpgradeStrategy = Field(default_factory=UpgradeStrategy)
    #: Seconds a new task must have run before it counts (for a rolling upgrade and for the end of
    #: a deployment), on top of being healthy when checked: a command that exits at once then
    #: fails its deployment instead of passing through TASK_RUNNING. Kubernetes' name; not in
    #: Marathon. Unset: the scheduler's ``--min-healthy-time`` (0 by default, as in Marathon).
    min_ready_seconds: float | None = Field(None, ge=0)
    readiness_checks: list[ReadinessCheck] = Field(default_factory=list)
    #: Halyard's: seconds a kill of an announced task waits after its discovery member is removed
    #: (so clients stop sending to it first). Unset: the label ``HALYARD_DRAIN_SECONDS``, else 0.
    drain_seconds: float | None = Field(None, ge=0)
    #: Halyard's: ``false`` leaves the Docker image's tag as it is when ``deploy`` releases the app
    #: (for a registry the scheduler cannot reach); unset or ``true``: the tag is pinned to its digest.
    pin_digest: bool | None = None
    backoff_seconds: float = Field(DEFAULT_BACKOFF_SECONDS, ge=0)
    backoff_factor: float = Field(DEFAULT_BACKOFF_FACTOR, ge=1.0)
    max_launch_delay_seconds: float = Field(DEFAULT_MAX_LAUNCH_DELAY_SECONDS, ge=0)
    kill_selection: Literal["YOUNGEST_FIRST", "OLDEST_FIRST"] = "YOUNGEST_FIRST"
    #: Apps (or groups) this app needs deployed first, as in Marathon: ids absolute or relative to
    #: the app's group. They order a deployment of several apps (see ``engine/deployment_plans.py``).
    dependencies: list[str] = Field(default_factory=list)
    fetch: list[FetchUri] = Field(default_factory=list)
    user: str | None = None
    task_kill_grace_period_seconds: float | None = Field(None, ge=0)
    # --- unreachable tasks and resource limits (see UnreachableStrategy, ResourceLimits) ---
    #: None: the scheduler's ``--unreachable-grace`` (replaced after it, never forgotten).
    unreachable_strategy: UnreachableStrategy | None = None
    resource_limits: ResourceLimits | None = None
    #: Marathon's executor: only the default (``""`` or ``//cmd``) is supported.
    executor: str = ""
    tty: bool | None = None
    #: The Mesos role the tasks run under; the API accepts only the scheduler's own role.
    role: str | None = Field(None, min_length=1)
    strategy: StrategyRef | None = None
    environments: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _normalize_id(cls, value: str) -> str:
        return normalize_app_id(value)

    @field_validator("dependencies")
    @classmethod
    def _normalize_dependencies(cls, value: list[str]) -> list[str]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        out = []
        for i, dep in enumerate(value):
            try:
                out.append(normalize_app_id(dep))
            except ValueError as exc:
                problems.append(((i,), str(exc)))
        if problems:
            raise PathProblems(problems)
        return out

    @model_validator(mode="after")
    def _check(self) -> AppSpec:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.cmd is not None and self.args is not None:
            problems.append((("args",), "give cmd or args, not both"))
        if self.cmd is None and self.args is None and (self.container is None or self.container.docker is None):
            problems.append((("cmd",), "one of cmd, args or container.docker.image is required"))
        if self.args is not None and (self.container is None or self.container.docker is None):
            problems.append((("args",), "args needs a Docker image (container.docker.image); use cmd for commands"))
        network = self.network
        mappings = self.container.mappings if self.container is not None else None
        where_mapped = ("container", *self.container.mappings_path) if self.container is not None else ()
        if mappings is not None and network in ("HOST", "NONE"):
            problems.append((where_mapped, f"not allowed with {network} networking; use portDefinitions"))
        if self.port_definitions and network in ("BRIDGE", "USER"):
            problems.append((("portDefinitions",), f"not allowed with {network} networking; use container.portMappings"))
        names = [p.name for p in (self.port_definitions or mappings or []) if p.name]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            where = ("portDefinitions",) if self.port_definitions else where_mapped
            problems.append((where, f"duplicate port names: {', '.join(dupes)}"))
        if len(self.health_checks) > 1:
            problems.append((("healthChecks",), f"Halyard runs one health check per task (Mesos' limit); "
                                                f"got {len(self.health_checks)}"))
        for i, hc in enumerate(self.health_checks):
            ports = len(self.host_port_requests())
            if hc.protocol not in ("COMMAND", "TCP", "MESOS_TCP") and hc.port is None and hc.port_index is None and not ports:
                problems.append((("healthChecks", i), "needs portIndex or port: the app has no host ports"))
            if hc.port_index is not None and hc.port_index >= ports:
                problems.append((("healthChecks", i, "portIndex"), f"the app has {ports} host port(s)"))
        if len(self.readiness_checks) > 1:
            problems.append((("readinessChecks",), f"at most one readiness check (as Marathon), got "
                                                   f"{len(self.readiness_checks)}"))
        for i, rc in enumerate(self.readiness_checks):
            if rc.port_name not in names:
                problems.append((("readinessChecks", i, "portName"),
                                 f"no port named {rc.port_name!r} (ports: {', '.join(names) or 'none named'})"))
        problems += label_problems(self.labels, len(self.service_port_requests()))
        problems += self._limit_problems()
        problems += self._role_problems() + self._marathon_problems()
        drain = self.labels.get("HALYARD_DRAIN_SECONDS")
        if drain is not None and not _non_negative_number(drain):
            problems.append((("labels", "HALYARD_DRAIN_SECONDS"), f"must be a number of seconds >= 0, got {drain!r}"))
        if problems:
            raise PathProblems(problems)
        return self

    def _limit_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """A resource limit below what the task requests (Marathon refuses it, and so does Mesos)."""
        limits = self.resource_limits
        if limits is None:
            return []
        return [(("resourceLimits", name), f"resource limit must be greater than or equal to requested {name} "
                                           f"({request:g})")
                for name, limit, request in (("cpus", limits.cpus, self.cpus), ("mem", limits.mem, self.mem))
                if limit is not None and limit < request]

    def readiness_port(self, ports: tuple[int, ...]) -> int | None:
        """The host port a task's readiness check goes to (its check's ``portName``), if any."""
        if not self.readiness_checks:
            return None
        names = self.port_names()
        name = self.readiness_checks[0].port_name
        return ports[names.index(name)] if name in names and names.index(name) < len(ports) else None

    @property
    def network(self) -> str:
        """The task's network mode: HOST (also for command apps), BRIDGE, NONE or USER; from
        ``networks`` when given, else from ``container.docker.network``."""
        if self.networks:
            return DOCKER_NETWORK[self.networks[0].mode]
        return self.container.network if self.container is not None else "HOST"

    @property
    def is_docker(self) -> bool:
        return self.container is not None and self.container.docker is not None

    @property
    def image(self) -> str | None:
        return self.container.docker.image if self.is_docker else None  # type: ignore[union-attr]  # is_docker

    @property
    def roles(self) -> tuple[str, ...]:
        """Roles whose resources the app may use: ``acceptedResourceRoles``; else the unreserved
        ``*`` and, with a ``role`` (as in Marathon 1.9+), resources reserved for that role."""
        if self.accepted_resource_roles:
            return tuple(self.accepted_resource_roles)
        return ("*", self.role) if self.role not in (None, "*") else ("*",)

    def host_port_requests(self) -> tuple[int, ...]:
        """One entry per host port the task needs: 0 means any port, otherwise that exact port.

        With HOST networking the ports come from ``portDefinitions`` (Marathon's default when the
        field is absent: one port); they are fixed only with ``requirePorts``. With BRIDGE/USER
        they come from ``portMappings`` entries that have a ``hostPort``.
        """
        if self.network in ("BRIDGE", "USER"):
            mappings = self.container.mappings if self.container is not None else None
            if self.network == "BRIDGE":
                return tuple(m.host_port or 0 for m in mappings or [])
            return tuple(m.host_port for m in mappings or [] if m.host_port is not None)
        if self.network == "NONE":
            return ()
        defs = self.port_definitions if self.port_definitions is not None else [PortDefinition()]
        return tuple(d.port if self.require_ports else 0 for d in defs)

    def workload(self) -> Workload:
        """What the planner places for this app: its tasks' resources, roles, host ports,
        constraints and strategy, under the app id."""
        return Workload(id=self.id, kind="app", instances=self.instances, cpus=self.cpus, mem=self.mem,
                        disk=self.disk, gpus=float(self.gpus), roles=self.roles,
                        host_ports=self.host_port_requests(), constraints=tuple(self.constraints),
                        strategy=self.strategy, labels=self.labels)

    def host_port_specs(self) -> list[PortMapping | PortDefinition]:
        """The port mapping or definition behind each host port, in the order of
        :meth:`host_port_requests` (BRIDGE: every mapping; USER: those with a host port; NONE:
        none; otherwise the port definitions, one by default)."""
        if self.network in ("BRIDGE", "USER"):
            mappings = (self.container.mappings if self.container else None) or []
            return [m for m in mappings if self.network == "BRIDGE" or m.host_port is not None]
        if self.network == "NONE":
            return []
        return list(self.port_definitions if self.port_definitions is not None else [PortDefinition()])

    def port_names(self) -> tuple[str | None, ...]:
        """Names of the host ports, in the order of :meth:`host_port_requests`."""
        return tuple(p.name for p in self.host_port_specs())

    # --- service ports (Marathon's servicePorts; the engine assigns the 0s: engine/service_ports.py) ---

    def _service_port_owners(self) -> tuple[str, list[Any] | None]:
        """Where the service ports sit: ``portMappings`` (BRIDGE/USER) or ``portDefinitions``."""
        if self.network in ("BRIDGE", "USER"):
            return "portMappings", (self.container.mappings if self.container is not None else None) or []
        if self.network == "NONE":
            return "none", []
        return "portDefinitions", self.port_definitions

    def service_port_requests(self) -> tuple[int, ...]:
        """One entry per service port: 0 asks for one from the scheduler's range, otherwise that
        port. From ``portMappings[].servicePort`` with BRIDGE/USER networking, else from
        ``portDefinitions[].port`` (Marathon's default when absent: one port)."""
        kind, owners = self._service_port_owners()
        if kind == "portMappings":
            return tuple(m.service_port for m in owners or [])
        if kind == "none":
            return ()
        return tuple(d.port for d in owners) if owners is not None else (0,)

    def service_port_path(self, index: int) -> tuple[str | int, ...]:
        """Where service port ``index`` is given, as a problem's location (``portMappings`` where
        the definition has them: ``container`` or, the older place, ``container.docker``)."""
        if self._service_port_owners()[0] == "portMappings" and self.container is not None:
            return ("container", *self.container.mappings_path, index, "servicePort")
        return ("portDefinitions", index, "port")

    def with_service_ports(self, ports: tuple[int, ...]) -> AppSpec:
        """This definition with its service ports set, where Marathon keeps them: in
        ``portDefinitions[].port`` (an absent list becomes Marathon's default port, named
        ``default``) or ``portMappings[].servicePort``."""
        kind, owners = self._service_port_owners()
        if kind == "none" or not ports:
            return self
        if kind == "portDefinitions":
            defs = owners if owners is not None else [PortDefinition(name="default")]
            return self.model_copy(update={"port_definitions": [d.model_copy(update={"port": p})
                                                                for d, p in zip(defs, ports)]})
        container = self.container
        assert container is not None
        mappings = [m.model_copy(update={"service_port": p}) for m, p in zip(owners or [], ports)]
        if container.port_mappings is not None:
            container = container.model_copy(update={"port_mappings": mappings})
        else:
            assert container.docker is not None
            container = container.model_copy(update={"docker": container.docker.model_copy(
                update={"port_mappings": mappings})})
        return self.model_copy(update={"container": container})


def normalize_app_id(value: str) -> str:
    """Make an app id absolute (``web`` -> ``/web``) and check each segment as Marathon does."""
    if not isinstance(value, str) or not value.strip("/"):
        raise ValueError("must be a non-empty path such as /team/web")
    segments = value.strip("/").split("/")
    for seg in segments:
        if not _ID_SEGMENT.match(seg):
            raise ValueError(
                f"segment {seg!r} is not allowed: use lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit"
            )
    return "/" + "/".join(segments)
