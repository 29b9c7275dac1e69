"""What the planner places: a demand neutral of apps and jobs.

An app (:meth:`halyard.model.AppSpec.workload`) and a job run
(:meth:`halyard.jobs.spec.JobSpec.workload`) both turn into a :class:`Workload`; the planner and
its plugins see nothing else, so a job run no longer poses as an app.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional

from ..model import Constraint, StrategyRef

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
    strategy: Optional[StrategyRef] = field(default=None, hash=False)
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
        """Deprecated: :attr:`host_ports`, under the name :class:`~halyard.model.AppSpec` uses."""
        return self.host_ports
