"""What the scheduler persists: one record per app and one per task, as plain JSON-able data."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..cluster.mesos_types import LAUNCHING, TERMINAL, CheckResult, IpAddress
from ..spec.app import AppSpec
from ..timestamps import parse_iso
from .task_health import TaskHealth  # the type of TaskRecord.health: exported with the records


@dataclass(frozen=True)
class TaskFailure:
    """The last task of an app that ended by itself (Marathon's ``lastTaskFailure``)."""

    app_id: str
    task_id: str
    state: str
    message: str
    host: str
    agent_id: str
    at: float
    version: float   # the app's version when it failed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TaskFailure | None:
        """A persisted failure; records written before it was typed held Marathon's JSON, and are
        read as well."""
        if not data:
            return None
        if "taskId" in data:
            return cls(app_id=data.get("appId", ""), task_id=data["taskId"], state=data.get("state", ""),
                       message=data.get("message", ""), host=data.get("host", ""), agent_id=data.get("slaveId", ""),
                       at=parse_iso(data["timestamp"]) if data.get("timestamp") else 0.0,
                       version=parse_iso(data["version"]) if data.get("version") else 0.0)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class AppRecord:
    """An app's desired state and its restart backoff.

    ``version`` changes with every change; ``config_version`` only when something other than
    ``instances`` changes (a scale keeps tasks; a config change or restart replaces them).
    """

    spec: AppSpec
    version: float
    config_version: float
    delay: float = 0.0          # current backoff delay, seconds (0: none)
    launch_after: float = 0.0   # wall clock before which no task of the app is launched
    deleting: bool = False
    last_failure: TaskFailure | None = None

    @property
    def app_id(self) -> str:
        return self.spec.id

    @property
    def service_ports(self) -> tuple[int, ...]:
        """The app's service ports (Marathon's ``servicePorts``), as assigned when it was put:
        kept in its definition, so persisted with it (see ``service_ports.py``)."""
        return self.spec.service_port_requests()

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.spec.to_json(), "version": self.version, "config_version": self.config_version,
                "delay": self.delay, "launch_after": self.launch_after, "deleting": self.deleting,
                "last_failure": self.last_failure.to_json() if self.last_failure else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppRecord:
        return cls(spec=AppSpec.model_validate(data["spec"]), version=data["version"],
                   config_version=data["config_version"], delay=data.get("delay", 0.0),
                   launch_after=data.get("launch_after", 0.0), deleting=data.get("deleting", False),
                   last_failure=TaskFailure.from_json(data.get("last_failure")))


@dataclass(frozen=True)
class AppVersion:
    """One stored version of an app: its definition as it was at ``version``."""

    app_id: str
    version: float
    spec: AppSpec

    def to_json(self) -> dict[str, Any]:
        return {"app_id": self.app_id, "version": self.version, "spec": self.spec.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppVersion:
        return cls(app_id=data["app_id"], version=data["version"], spec=AppSpec.model_validate(data["spec"]))


@dataclass(frozen=True)
class TaskRecord:
    """One task instance: where it runs, what Mesos last said, and what we asked of it."""

    task_id: str
    app_id: str
    config_version: float
    agent_id: str
    hostname: str
    ports: tuple[int, ...]
    state: str = LAUNCHING
    staged_at: float = 0.0
    started_at: float | None = None
    killing: bool = False                 # we asked Mesos to kill it
    unreachable_since: float | None = None
    expired: bool = False                 # unreachable past the grace period: replaced
    message: str = ""
    resources: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    healthy: bool | None = None        # from the executor's health check; None: no result yet
    ready: bool | None = None          # from the app's readiness check; None: no result yet
    health: TaskHealth | None = None   # the health checks' history (Marathon's healthCheckResults)
    check: CheckResult | None = None   # the last result of the app's Mesos check (Marathon's checkResult)
    ip_addresses: tuple[IpAddress, ...] = ()  # as Mesos reported them; empty: none reported (the host's)
    shard: int | None = None           # its stable instance index (service discovery: engine/discovery.py)

    @property
    def live(self) -> bool:
        """Counts towards the app's instances: not gone, not being killed, not given up on."""
        return self.state not in TERMINAL and not self.killing and not self.expired

    @property
    def running(self) -> bool:
        return self.state == "TASK_RUNNING" and not self.killing

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-able data: every field by name (what ``dataclasses.asdict`` gives,
        written out: asdict's deep copy was a tenth of the leader loop in a 10,000-task launch)."""
        health, check = self.health, self.check
        return {
            "task_id": self.task_id, "app_id": self.app_id, "config_version": self.config_version,
            "agent_id": self.agent_id, "hostname": self.hostname, "ports": list(self.ports), "state": self.state,
            "staged_at": self.staged_at, "started_at": self.started_at, "killing": self.killing,
            "unreachable_since": self.unreachable_since, "expired": self.expired, "message": self.message,
            "resources": list(self.resources), "healthy": self.healthy, "ready": self.ready,
            "health": None if health is None else health.to_json(),
            "check": None if check is None else {"kind": check.kind, "exit_code": check.exit_code,
                                                 "status_code": check.status_code, "succeeded": check.succeeded},
            "ip_addresses": [{"address": ip.address, "protocol": ip.protocol} for ip in self.ip_addresses],
            "shard": self.shard,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskRecord:
        data = dict(data)
        data["ports"] = tuple(data.get("ports", ()))
        data["resources"] = tuple(data.get("resources", (0.0, 0.0, 0.0, 0.0)))
        data["health"] = TaskHealth.from_json(data.get("health"))
        data["check"] = CheckResult(**data["check"]) if data.get("check") else None
        data["ip_addresses"] = tuple(IpAddress(**ip) for ip in data.get("ip_addresses") or ())
        return cls(**data)

    def evolve(self, **changes: Any) -> TaskRecord:
        """This record with ``changes`` (``dataclasses.replace``, without its generic path: a
        record evolves at every status update). An unknown field raises TypeError, as replace does."""
        unknown = changes.keys() - _TASK_FIELDS
        if unknown:
            raise TypeError(f"TaskRecord has no field(s) {', '.join(sorted(unknown))}")
        new = object.__new__(TaskRecord)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new


_TASK_FIELDS = frozenset(f.name for f in fields(TaskRecord))


@dataclass(frozen=True)
class DeploymentRecord:
    """A change of one app under way: it ends, by succeeding, failing (then rolling back) or being cancelled.

    ``kind``: ``start`` (a new app), ``deploy`` (a config change), ``scale``, ``restart``,
    ``stop`` (destroy), ``rollback`` or ``rebalance`` (moves of running instances, never rolled back). ``previous`` is the app's definition before the change
    (None for a new app): what a rollback restores; ``target`` the definition it deploys (None
    when the app goes away). Both are kept only while it runs (the event stream's plans show them).

    One deployment may change several apps (a group, ``PUT /v2/apps`` with a list: Marathon's
    DeploymentPlan): then it is one record per app, all with the deployment's ``id``, each with
    its ``step`` (0, 1, ...: the order dependencies give). A record whose step has not come is
    ``held``: its app has its new definition, but nothing of it is launched or killed until every
    app of the steps before it is deployed. ``key`` tells the records apart.
    """

    id: str
    app_id: str
    kind: str
    version: float
    started_at: float
    previous: dict | None = None
    failures: tuple[str, ...] = ()
    target: dict | None = None
    status: str = "running"   # running | succeeded | failed | cancelled
    ended_at: float | None = None
    step: int | None = None                   # None: a deployment of this app alone
    held: bool = False                           # its step has not come yet
    previous_config_version: float | None = None  # the app's config_version before the change
    moves: tuple[str, ...] = ()                  # a rebalance: what became of each move, in order

    @property
    def ended(self) -> bool:
        return self.status != "running"

    @property
    def key(self) -> str:
        """Unique among records (the deployment's id, with the app's for a multi-app one)."""
        return self.id if self.step is None else f"{self.id}:{self.app_id}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["failures"] = list(self.failures)
        data["moves"] = list(self.moves)
        if self.ended:
            data.pop("previous")  # only a running deployment may roll back: an ended one is history
            data.pop("target")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeploymentRecord:
        return cls(**{**data, "failures": tuple(data.get("failures", ())), "moves": tuple(data.get("moves", ()))})


@dataclass(frozen=True)
class DrainRecord:
    """An agent's drain as persisted (``engine/drains.py``), so that a new leader continues it:
    where it is (``phase``: moving, master, drained), its deadline, and the ``drain`` deployment
    of each app that had tasks there, with how many."""

    agent_id: str
    hostname: str
    started_at: float
    deadline_at: float
    force: bool
    deployments: tuple[tuple[str, str], ...] = ()   # (app id, its drain deployment's id)
    initial: tuple[tuple[str, int], ...] = ()       # (app id, its tasks there at the start)
    phase: str = "moving"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["deployments"] = dict(self.deployments)
        data["initial"] = dict(self.initial)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DrainRecord:
        return cls(**{**data, "deployments": tuple(sorted(data.get("deployments", {}).items())),
                      "initial": tuple(sorted(data.get("initial", {}).items()))})


@dataclass
class Snapshot:
    """Everything the store holds: loaded by a new leader."""

    framework_id: str | None = None
    apps: dict[str, AppRecord] = field(default_factory=dict)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    deployments: dict[str, DeploymentRecord] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)   # job id -> JobRecord
    runs: dict[str, Any] = field(default_factory=dict)   # run id -> RunRecord
    app_versions: dict[str, list[float]] = field(default_factory=dict)  # app id -> its stored versions
    drains: dict[str, DrainRecord] = field(default_factory=dict)  # agent id -> its drain

