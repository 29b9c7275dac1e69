"""Built-in filters every plan uses: roles and scalar resources, then host ports."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ..cluster.agents import SCALARS
from .base import OK, Filter, Scope, Status, unfit
from .context import PlacementContext
from .state import EPSILON, AgentState

_UNITS = {"cpus": "", "mem": " MB", "disk": " MB", "gpus": ""}


class ResourcesFilter(Filter):
    """The agent has the CPUs, memory, disk and GPUs in the roles the workload accepts.

    A refusal names every resource the agent is short of, in one reason:
    ``insufficient cpus (needs 2), mem (needs 4096 MB)``.
    """

    name = "resources"
    scope = Scope.AGENT

    def prepare(self, ctx: PlacementContext) -> None:
        demand = ctx.demand
        self._roles = demand.roles
        self._needs = [(k, need) for k, need in enumerate(demand.vector) if need > 0]
        self._parts = {k: f"{SCALARS[k]} (needs {need:g}{_UNITS[SCALARS[k]]})" for k, need in self._needs}
        # The reason for each set of short resources (a bit per resource), built when first seen.
        self._short: dict[int, Status] = {}
        self._after = {k: self._needs[i + 1:] for i, (k, _) in enumerate(self._needs)}
        roles = ", ".join(self._roles)
        self._no_role = unfit(f"no resources in accepted role(s) {roles}")

    def compile(self, ctx: PlacementContext) -> Callable[[AgentState], bool]:
        if len(self._roles) != 1:
            return lambda agent: self.filter(ctx, agent).reason is None
        role, needs = self._roles[0], tuple(self._needs)
        if len(needs) == 2:  # CPUs and memory: the common case, unrolled
            (k1, n1), (k2, n2) = needs

            def fits_two(agent: AgentState) -> bool:
                free = agent.free.get(role)
                return free is not None and not free[k1] + EPSILON < n1 and not free[k2] + EPSILON < n2
            return fits_two

        def fits(agent: AgentState) -> bool:
            free = agent.free.get(role)
            if free is None:
                return False
            for k, need in needs:
                if free[k] + EPSILON < need:
                    return False
            return True
        return fits

    def filter(self, ctx: PlacementContext, agent: AgentState) -> Status:
        if len(self._roles) == 1:
            free = agent.free.get(self._roles[0])
            if free is None:
                return self._no_role
        else:
            pools = [agent.free[r] for r in self._roles if r in agent.free]
            if not pools:
                return self._no_role
            free = [sum(p[k] for p in pools) for k in range(len(SCALARS))]
        for k, need in self._needs:
            if free[k] + EPSILON < need:
                return self._refusal(free, k)
        return OK

    def _refusal(self, free: Sequence[float], first: int) -> Status:
        """The reason naming every resource ``free`` lacks, ``first`` being the first of them."""
        short = 1 << first
        for k, need in self._after[first]:
            if free[k] + EPSILON < need:
                short |= 1 << k
        status = self._short.get(short)
        if status is None:  # in the order cpus, mem, disk, gpus
            parts = [text for k, text in self._parts.items() if short >> k & 1]
            status = self._short[short] = unfit("insufficient " + ", ".join(parts))
        return status


class PortsFilter(Filter):
    """The agent has the fixed host ports the app requires, and enough free ports for the rest."""

    name = "ports"
    scope = Scope.AGENT

    def prepare(self, ctx: PlacementContext) -> None:
        wanted = ctx.demand.host_ports
        self._roles = ctx.demand.roles
        self._fixed = [p for p in wanted if p]
        self._count = len(wanted)
        self._missing = {p: unfit(f"host port {p} not free") for p in self._fixed}
        self._few = unfit(f"not enough free host ports (needs {self._count})")

    def compile(self, ctx: PlacementContext) -> Callable[[AgentState], bool]:
        if len(self._roles) != 1:
            return lambda agent: self.filter(ctx, agent).reason is None
        role, count, fixed = self._roles[0], self._count, tuple(self._fixed)

        if not fixed:
            return lambda agent: (pool := agent.ports.get(role)) is not None and pool.size >= count

        def free(agent: AgentState) -> bool:
            pool = agent.ports.get(role)
            if pool is None or pool.size < count:
                return False
            for port in fixed:
                if port not in pool:
                    return False
            return True
        return free

    def filter(self, ctx: PlacementContext, agent: AgentState) -> Status:
        if len(self._roles) == 1:
            pool = agent.ports.get(self._roles[0])
            if pool is None or len(pool) < self._count:
                return self._few
            for port in self._fixed:
                if port not in pool:
                    return self._missing[port]
            return OK
        if agent.free_ports(self._roles) < self._count:
            return self._few
        for port in self._fixed:
            if not any(port in agent.ports[r] for r in self._roles if r in agent.ports):
                return self._missing[port]
        return OK
