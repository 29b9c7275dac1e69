"""What placement sees of a cluster: immutable agent views, and readers that build them.

Two sources are understood, both as parsed JSON/YAML (reading files or URLs is the caller's job):

* Halyard's cluster file: ``{agents: [{id, hostname, resources: {cpus, mem, disk, gpus,
  ports: [[31000, 31999]]}, reserved: {ROLE: {...}}, attributes: {...}, domain: {region, zone},
  used: {...}, tasks: [{app: /web}]}]}``. ``resources`` are the agent's unreserved totals,
  ``reserved`` its per-role reservations, ``used`` what is already taken (from the unreserved
  pool first).
* A Mesos master's ``/master/state`` (or ``/state``) document: agents under ``slaves``, running
  tasks under ``frameworks[].tasks``; a task's app is its ``HALYARD_APP_ID`` (or
  ``MARATHON_APP_ID``) label.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pydantic

from ..errors import Problem, ValidationError
from ..spec.app import Spec, normalize_app_id
from . import ranges as rng

if TYPE_CHECKING:  # its pydantic models cost ~80 ms to build: imported when a master state is read
    from .master_state import MesosState, MesosTask

SCALARS = ("cpus", "mem", "disk", "gpus")
UNRESERVED = "*"
APP_LABELS = ("HALYARD_APP_ID", "MARATHON_APP_ID")
LIVE_TASK_STATES = {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"}

AttributeValue = str | float
M = TypeVar("M", bound=pydantic.BaseModel)


@dataclass(frozen=True)
class Resources:
    """Scalar resources: CPUs, memory (MB), disk (MB), GPUs."""

    cpus: float = 0.0
    mem: float = 0.0
    disk: float = 0.0
    gpus: float = 0.0

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.cpus, self.mem, self.disk, self.gpus)

    def __add__(self, other: Resources) -> Resources:
        return Resources(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple())))

    def minus(self, other: Resources) -> Resources:
        """Subtract, never going below zero."""
        return Resources(*(max(0.0, a - b) for a, b in zip(self.as_tuple(), other.as_tuple())))

    def to_json(self) -> dict[str, float]:
        return dict(zip(SCALARS, self.as_tuple()))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Resources:
        return cls(*(float(data.get(name, 0) or 0) for name in SCALARS))


@dataclass(frozen=True)
class AgentInfo:
    """One agent as placement sees it: what is free per role, what it is, what runs there."""

    id: str
    hostname: str
    available: Mapping[str, Resources]
    ports: Mapping[str, tuple[rng.Range, ...]]
    capacity: Resources
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    region: str | None = None
    zone: str | None = None
    app_tasks: Mapping[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Halyard's cluster file

class _Scalars(Spec):
    cpus: float = pydantic.Field(0, ge=0)
    mem: float = pydantic.Field(0, ge=0)
    disk: float = pydantic.Field(0, ge=0)
    gpus: float = pydantic.Field(0, ge=0)
    ports: list[tuple[int, int]] = pydantic.Field(default_factory=list)

    @pydantic.field_validator("ports")
    @classmethod
    def _ordered(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        for i, (b, e) in enumerate(value):
            if not 0 < b <= e <= 65535:
                raise ValueError(f"range {i} [{b}, {e}] must satisfy 0 < begin <= end <= 65535")
        return value


class _Domain(Spec):
    region: str | None = None
    zone: str | None = None


class _Task(Spec):
    app: str

    @pydantic.field_validator("app")
    @classmethod
    def _app_id(cls, value: str) -> str:
        return normalize_app_id(value)


class _AgentFile(Spec):
    id: str = pydantic.Field(min_length=1)
    hostname: str = pydantic.Field(min_length=1)
    resources: _Scalars = pydantic.Field(default_factory=_Scalars)
    reserved: dict[str, _Scalars] = pydantic.Field(default_factory=dict)
    used: _Scalars = pydantic.Field(default_factory=_Scalars)
    attributes: dict[str, float | str] = pydantic.Field(default_factory=dict)
    domain: _Domain = pydantic.Field(default_factory=_Domain)
    tasks: list[_Task] = pydantic.Field(default_factory=list)


class _ClusterFile(Spec):
    agents: list[_AgentFile]


def _agent_from_file(a: _AgentFile) -> AgentInfo:
    unreserved = Resources.from_mapping(a.resources.model_dump())
    used = Resources.from_mapping(a.used.model_dump())
    available = {UNRESERVED: unreserved.minus(used)}
    ports = {UNRESERVED: rng.subtract(rng.normalize(a.resources.ports), rng.normalize(a.used.ports))}
    capacity = unreserved
    for role, res in a.reserved.items():
        available[role] = Resources.from_mapping(res.model_dump())
        ports[role] = rng.normalize(res.ports)
        capacity = capacity + available[role]
    counts: dict[str, int] = {}
    for t in a.tasks:
        app = t.app
        counts[app] = counts.get(app, 0) + 1
    return AgentInfo(
        id=a.id, hostname=a.hostname, available=available, ports=ports, capacity=capacity,
        attributes=dict(a.attributes), region=a.domain.region, zone=a.domain.zone, app_tasks=counts,
    )


# ---------------------------------------------------------------------------------------------
# A Mesos master's state

def _task_app(task: MesosTask) -> str | None:
    found = {lab.key: lab.value for lab in task.label_list()}
    for key in APP_LABELS:
        if found.get(key):
            return str(found[key])
    return None


def _agents_from_mesos(state: MesosState) -> list[AgentInfo]:
    counts: dict[str, dict[str, int]] = {}
    for fw in state.frameworks or []:
        for task in fw.tasks or []:
            app = _task_app(task)
            if app and task.state in LIVE_TASK_STATES:
                per = counts.setdefault(task.slave_id, {})
                per[app] = per.get(app, 0) + 1
    agents = []
    for s in state.slaves or []:
        if s.active is False:
            continue
        unreserved_res = s.unreserved_resources or s.resources
        used = Resources.from_mapping(s.used_resources.scalars())
        available = {UNRESERVED: Resources.from_mapping(unreserved_res.scalars()).minus(used)}
        ports = {UNRESERVED: rng.subtract(unreserved_res.port_ranges(), s.used_resources.port_ranges())}
        for role, res in (s.reserved_resources or {}).items():
            available[role], ports[role] = Resources.from_mapping(res.scalars()), res.port_ranges()
        fault = s.domain.fault_domain if s.domain else None
        agents.append(AgentInfo(
            id=s.id, hostname=s.hostname, available=available, ports=ports,
            capacity=Resources.from_mapping(s.resources.scalars()), attributes=dict(s.attributes or {}),
            region=fault.region.name if fault and fault.region else None,
            zone=fault.zone.name if fault and fault.zone else None,
            app_tasks=counts.get(s.id, {}),
        ))
    return agents


def load_cluster(document: Any, source: str | None = None) -> list[AgentInfo]:
    """Agents from a parsed cluster file or Mesos master state; invalid input raises ValidationError."""
    if isinstance(document, Mapping) and "slaves" in document:
        from .master_state import MesosState

        return _agents_from_mesos(_validated(MesosState, document, source))
    if not isinstance(document, Mapping) or "agents" not in document:
        raise ValidationError([Problem("", "expected a cluster file ({agents: [...]}) or a Mesos master "
                                           "state document (with slaves)")], source)
    parsed = _validated(_ClusterFile, document, source)
    ids = [a.id for a in parsed.agents]
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dupes:
        raise ValidationError([Problem("agents", f"duplicate agent id(s): {', '.join(dupes)}")], source)
    return [_agent_from_file(a) for a in parsed.agents]


def _validated(model: type[M], document: Any, source: str | None) -> M:
    try:
        return model.model_validate(document)
    except pydantic.ValidationError as exc:
        from ..spec.validation import problems_from_pydantic

        raise ValidationError(problems_from_pydantic(exc), source) from None


def cluster_to_json(agents: Sequence[AgentInfo]) -> dict[str, Any]:
    """Render agents in Halyard's cluster-file format (what is available becomes ``resources``)."""
    out = []
    for a in agents:
        entry: dict[str, Any] = {"id": a.id, "hostname": a.hostname}
        star = a.available.get(UNRESERVED, Resources())
        entry["resources"] = {**star.to_json(), "ports": [list(r) for r in a.ports.get(UNRESERVED, ())]}
        reserved = {role: {**res.to_json(), "ports": [list(r) for r in a.ports.get(role, ())]}
                    for role, res in a.available.items() if role != UNRESERVED}
        if reserved:
            entry["reserved"] = reserved
        if a.attributes:
            entry["attributes"] = dict(a.attributes)
        if a.region or a.zone:
            entry["domain"] = {"region": a.region, "zone": a.zone}
        if a.app_tasks:
            entry["tasks"] = [{"app": app} for app, n in a.app_tasks.items() for _ in range(n)]
        out.append(entry)
    return {"agents": out}
