"""Mutable per-plan agent state and the task demand it is checked against.

An :class:`AgentState` is a working copy of an :class:`~halyard.cluster.agents.AgentInfo`: each
placement subtracts from it and bumps its ``stamp`` so cached evaluations can tell they are stale.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..cluster.agents import SCALARS, UNRESERVED, AgentInfo, AttributeValue
from ..cluster.ranges import PortSet
from .workload import Workload

EPSILON = 1e-9


def format_scalar(value: float) -> str:
    """A scalar attribute as constraints see it: rounded half-even to 3 decimals, no trailing zeros."""
    text = f"{round(value, 3):.3f}".rstrip("0").rstrip(".")
    return text or "0"


def field_values(hostname: str, attributes: Mapping[str, AttributeValue], region: str | None = None,
                 zone: str | None = None) -> dict[str, str]:
    """An agent's value for each constraint field: ``hostname``/``@hostname``, ``@region``,
    ``@zone`` and its attributes (scalars as :func:`format_scalar` writes them)."""
    values = {k: format_scalar(v) if isinstance(v, float) else v for k, v in attributes.items()}
    values["hostname"] = values["@hostname"] = hostname
    if region is not None:
        values["@region"] = region
    if zone is not None:
        values["@zone"] = zone
    return values


@dataclass(frozen=True)
class Demand:
    """What one task of a workload needs from an agent; ``app_id`` is the workload's id."""

    app_id: str
    vector: tuple[float, float, float, float]
    roles: tuple[str, ...]
    host_ports: tuple[int, ...]
    # Derived once, for AgentState.allocate: the resources asked for, as (index, amount), and
    # the host ports fixed ones first, so that picking the lowest free port never takes one of them.
    needs: tuple[tuple[int, float], ...] = field(init=False, repr=False, compare=False)
    port_order: tuple[int, ...] = field(init=False, repr=False, compare=False)
    one_any_port: bool = field(init=False, repr=False, compare=False)  # host_ports == (0,)
    named_needs: tuple[tuple[int, float, str], ...] = field(init=False, repr=False, compare=False)
    role: str | None = field(init=False, repr=False, compare=False)  # the one role, if one

    def __post_init__(self) -> None:
        ports = self.host_ports
        object.__setattr__(self, "needs", tuple((k, need) for k, need in enumerate(self.vector) if need > 0))
        object.__setattr__(self, "port_order", tuple(sorted(range(len(ports)), key=lambda i: ports[i] == 0)))
        object.__setattr__(self, "one_any_port", ports == (0,))
        object.__setattr__(self, "named_needs", tuple((k, need, SCALARS[k]) for k, need in self.needs))
        object.__setattr__(self, "role", self.roles[0] if len(self.roles) == 1 else None)

    @classmethod
    def of(cls, workload: Workload) -> Demand:
        """The per-task demand of ``workload``, roles in the order resources are taken from them."""
        # Reserved roles first, the unreserved pool last: use what was set aside for us first.
        roles = tuple(sorted(workload.roles, key=lambda r: r == UNRESERVED))
        return cls(workload.id, (workload.cpus, workload.mem, workload.disk, float(workload.gpus)), roles,
                   workload.host_ports)


class AgentState:
    """One agent during planning: free resources per role, free ports, app task counts."""

    __slots__ = ("info", "index", "id", "hostname", "free", "free_total", "capacity", "ports",
                 "app_counts", "values", "scalars", "stamp")

    def __init__(self, info: AgentInfo, index: int):
        self.info = info
        self.index = index
        self.id = info.id
        self.hostname = info.hostname
        self.free: dict[str, list[float]] = {r: list(res.as_tuple()) for r, res in info.available.items()}
        self.free_total = [sum(f[k] for f in self.free.values()) for k in range(len(SCALARS))]
        self.capacity = info.capacity.as_tuple()
        self.ports: dict[str, PortSet] = {r: PortSet(p) for r, p in info.ports.items()}
        self.app_counts: dict[str, int] = dict(info.app_tasks)
        self.scalars: dict[str, float] = {k: v for k, v in info.attributes.items() if isinstance(v, float)}
        self.values = field_values(info.hostname, info.attributes, info.region, info.zone)
        self.stamp = 0

    def value(self, field: str) -> str | None:
        """The agent's value for a constraint field (``hostname``, ``@zone``, an attribute)."""
        return self.values.get(field)

    def free_ports(self, roles: tuple[str, ...]) -> int:
        return sum(len(self.ports[r]) for r in roles if r in self.ports)

    def allocate(self, demand: Demand) -> tuple[tuple[tuple[str, str, float], ...], tuple[int, ...]]:
        """Take one task's resources (the caller checked they fit).

        Returns the allocation as ``(resource, role, amount)`` triples and the host ports, in
        the order of ``demand.host_ports``.
        """
        taken: list[tuple[str, str, float]] = []
        free, free_total, roles, role = self.free, self.free_total, demand.roles, demand.role
        pool = free.get(role) if role is not None else None
        if role is not None and pool is not None:  # one role: what the loop below does, without it
            for k, need, name in demand.named_needs:
                left = free_total[k] - need
                free_total[k] = left if left > 0.0 else 0.0
                if need > EPSILON:
                    have = pool[k]
                    if have > need:
                        pool[k] = have - need
                        taken.append((name, role, need))
                    elif have > EPSILON:  # all that is left
                        pool[k] = 0.0
                        taken.append((name, role, have))
            if demand.one_any_port:  # one host port, any number: _finish unrolled
                ports_pool = self.ports.get(role)
                port = ports_pool.take_lowest() if ports_pool is not None else None
                if port is not None:
                    counts, app_id = self.app_counts, demand.app_id
                    counts[app_id] = counts.get(app_id, 0) + 1
                    self.stamp += 1
                    return tuple(taken), (port,)
            return tuple(taken), self._finish(demand)
        for k, need in demand.needs:
            free_total[k] = max(0.0, free_total[k] - need)
            for role in roles:
                if need <= EPSILON:
                    break
                pool = free.get(role)
                if pool is None or pool[k] <= EPSILON:
                    continue
                amount = min(need, pool[k])
                pool[k] = max(0.0, pool[k] - amount)
                taken.append((SCALARS[k], role, amount))
                need -= amount
        return tuple(taken), self._finish(demand)

    def _finish(self, demand: Demand) -> tuple[int, ...]:
        """Take the task's host ports (in the order of ``demand.host_ports``) and count the task."""
        ports: list[int] = [0] * len(demand.host_ports)
        for i in demand.port_order:  # fixed ports first
            ports[i] = self._take_port(demand.host_ports[i], demand.roles)
        self.app_counts[demand.app_id] = self.app_counts.get(demand.app_id, 0) + 1
        self.stamp += 1
        return tuple(ports)

    def _take_port(self, wanted: int, roles: tuple[str, ...]) -> int:
        for role in roles:
            pool = self.ports.get(role)
            if pool is None:
                continue
            if wanted:
                if pool.take(wanted):
                    return wanted
            else:
                got = pool.take_lowest()
                if got is not None:
                    return got
        raise AssertionError(f"port {wanted or 'any'} vanished on {self.id}")  # pragma: no cover
