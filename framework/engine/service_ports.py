"""Service ports: the cluster-wide ports a load balancer listens on for an app (Marathon's
``servicePorts``), as Marathon assigns them (``AssignDynamicServiceLogic``).

A service port given as 0 gets a port from the scheduler's range (``--local-port-min`` ..
``--local-port-max``, Marathon's 10000-20000) that no app uses. The assignment is written into
the definition (``portDefinitions[].port`` or ``portMappings[].servicePort``), as Marathon does,
so it is persisted with the app, survives failover and shows in ``GET /v2/apps``; a later
definition that gives 0 again gets the app's earlier ports back, first come first served. An
explicit port is used as given; unlike Marathon, which leaves that to the user, Halyard refuses
one that another app already uses. Ports are freed when the app is gone.

Pure: the engine calls :func:`assign_service_ports` while it changes an app, before anything
is changed, so a refusal (a clash, an exhausted range) changes nothing.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import Problem, ValidationError
from ..spec.app import AppSpec
from ..spec.validation import format_path

DEFAULT_RANGE = (10000, 20000)


@dataclass(frozen=True)
class PortRange:
    """The ports service ports are assigned from, both ends included."""

    low: int = DEFAULT_RANGE[0]
    high: int = DEFAULT_RANGE[1]

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.high <= 65535:
            raise ValueError(f"service port range {self.low}-{self.high} must be within 1-65535, low <= high")

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


@dataclass(frozen=True)
class PortOwner:
    """Another app's claim on service ports: ``active`` is False for an app being deleted (its
    ports are not handed out again until it is gone, but an explicit request may take them)."""

    app_id: str
    ports: tuple[int, ...]
    active: bool = True


def assign_service_ports(spec: AppSpec, old: AppSpec | None, others: Iterable[PortOwner],
                         ports: PortRange, check_clashes: bool = True) -> AppSpec:
    """``spec`` with every service port assigned (0s replaced), or :class:`ValidationError`.

    ``old`` is the app's current definition (its ports are reused first for the 0s);
    ``others`` are the other apps' claims. ``check_clashes`` False (a rollback) lets an explicit
    port that another app took meanwhile stand, rather than fail the rollback.
    """
    requests = spec.service_port_requests()
    if not requests:
        return spec
    others = list(others)
    problems: list[Problem] = []
    explicit = [p for p in requests if p != 0]
    seen: set[int] = set()
    for i, port in enumerate(requests):
        if port == 0:
            continue
        if port in seen:
            problems.append(_problem(spec, i, f"service port {port} is given twice"))
        seen.add(port)
        owner = next((o for o in others if o.active and port in o.ports), None)
        if check_clashes and owner is not None:
            problems.append(_problem(spec, i, f"service port {port} is already used by app '{owner.app_id}'"))
    if problems:
        raise ValidationError(problems)
    if 0 not in requests:
        return spec
    old_ports = old.service_port_requests() if old is not None else ()
    used = {p for o in others for p in o.ports} | set(old_ports) | set(explicit)
    reusable = [p for p in old_ports if p in ports and p not in explicit]
    free = _free(reusable, ports, used)
    assigned: list[int] = []
    for i, port in enumerate(requests):
        if port == 0:
            port = next(free, 0)
            if port == 0:
                raise ValidationError([_problem(spec, i, f"no free service port: all ports in {ports} are in use "
                                                          f"(the scheduler's --local-port-min/--local-port-max)")])
        assigned.append(port)
    return spec.with_service_ports(tuple(assigned))


def with_earlier_ports(spec: AppSpec, old: AppSpec | None) -> AppSpec:
    """``spec`` with the 0s it shares with ``old`` as ``old``'s ports: what a change would keep, so
    that a definition resent with 0s compares equal to the stored one (no range, no clash check)."""
    if old is None:
        return spec
    return assign_service_ports(spec, old, (), PortRange(), check_clashes=False)


def _free(reusable: list[int], ports: PortRange, used: set[int]) -> Iterator[int]:
    """The app's own earlier ports first, then the range's unused ports, lowest first."""
    yield from reusable
    yield from (p for p in range(ports.low, ports.high + 1) if p not in used)


def _problem(spec: AppSpec, index: int, message: str) -> Problem:
    loc = spec.service_port_path(index)
    return Problem(format_path(loc), message, loc)
