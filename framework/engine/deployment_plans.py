"""Changes of several apps in one deployment (a group change, ``PUT /v2/apps`` with a list):
Marathon's DeploymentPlan.

The steps, as in Marathon (``DeploymentPlan.apply``):

1. the apps the change removes are stopped, together;
2. then the apps it creates or changes, in layers of their dependency graph: an app starts only
   after every app it depends on is deployed (running, healthy if checked, ready if it has a
   readiness check). Apps whose longest chain of dependencies is as long go together (Marathon's
   ``runSpecsGroupedByLongestPath``).

A dependency names an app or a group (all the apps under it), absolute or relative to the
dependent app's group (``../db``). Dependencies on nothing known order nothing (as in Marathon);
a cycle is refused.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from ..errors import ConflictError, Problem, ValidationError
from ..spec.app import AppSpec
from ..spec.paths import absolute, parent
from .app_commands import AppCommands
from .domain_events import AppChanged, GroupChanged
from .messages import ChangeApps, Instruction, Persist
from .service_ports import with_earlier_ports


def resolve(dependency: str, app_id: str) -> str:
    """A dependency of ``app_id`` as an absolute id: ``/db`` stays, ``db`` and ``../db`` are read
    from the app's group."""
    return absolute(dependency, parent(app_id))


def depends_on(targets: Mapping[str, AppSpec]) -> dict[str, set[str]]:
    """App id -> the apps it depends on, among ``targets`` (a group dependency means all of its apps)."""
    out: dict[str, set[str]] = {}
    for app_id, spec in targets.items():
        found: set[str] = set()
        for dependency in spec.dependencies:  # absolute (the model normalizes them)
            wanted = resolve(dependency, app_id)
            found |= {other for other in targets if other == wanted or other.startswith(wanted.rstrip("/") + "/")}
        found.discard(app_id)
        out[app_id] = found
    return out


def dependency_layers(targets: Mapping[str, AppSpec], affected: Collection[str]) -> list[list[str]]:
    """The ``affected`` apps in the order their dependencies among ``targets`` (every app there
    will be) give: layers to deploy one after the other. A cycle is a ValidationError."""
    edges = depends_on(targets)
    depth: dict[str, int] = {}
    visiting: list[str] = []

    def longest(app_id: str) -> int:
        if app_id in depth:
            return depth[app_id]
        if app_id in visiting:
            cycle = visiting[visiting.index(app_id):] + [app_id]
            raise ValidationError([Problem("dependencies", "cyclic dependencies: " + " -> ".join(cycle))])
        visiting.append(app_id)
        depth[app_id] = 1 + max((longest(d) for d in sorted(edges[app_id])), default=0)
        visiting.pop()
        return depth[app_id]

    for app_id in sorted(targets):
        longest(app_id)
    layers: dict[int, list[str]] = {}
    for app_id in sorted(affected):
        layers.setdefault(depth[app_id], []).append(app_id)
    return [layers[k] for k in sorted(layers)]


class PlanCommands:
    """The ``ChangeApps`` command, over :class:`~.app_commands.AppCommands`."""

    def __init__(self, commands: AppCommands, clock: Callable[[], float]):
        self.commands, self.clock = commands, clock

    def targets(self, puts: Mapping[str, AppSpec] = {}, deletes: Collection[str] = ()) -> dict[str, AppSpec]:
        """Every app there will be after the change."""
        apps = self.commands.apps
        kept = {a.app_id: a.spec for a in apps.values() if not a.deleting and a.app_id not in deletes}
        return {**kept, **puts}

    def check_dependencies(self, spec: AppSpec) -> None:
        """A change of one app that would close a cycle of dependencies is refused."""
        dependency_layers(self.targets({spec.id: spec}), ())

    def change(self, event: ChangeApps) -> list[Instruction]:
        c = self.commands
        puts = {spec.id: spec for spec in event.puts}
        deletes = sorted(set(event.deletes))
        problems = [Problem("apps", f"app id {i} appears more than once")
                    for i in sorted({s.id for s in event.puts if sum(t.id == s.id for t in event.puts) > 1})]
        problems += [Problem("apps", f"app {i} is both changed and removed") for i in deletes if i in puts]
        if problems:
            raise ValidationError(problems)
        for app_id in deletes:  # every id and conflict first: a refused change changes nothing
            c.app(app_id)
            c.deployments.check_free(app_id, event.force)
        changed = [s for s in event.puts
                   if s.id not in c.apps or c.apps[s.id].spec != with_earlier_ports(s, c.apps[s.id].spec)]
        for spec in changed:
            c.check_strategy(spec)
            if spec.id in c.apps and c.apps[spec.id].deleting:
                raise ConflictError(f"App '{spec.id}' is being deleted")
            c.deployments.check_free(spec.id, event.force)
        layers = dependency_layers(self.targets(puts, deletes), [s.id for s in changed])
        steps = ([deletes] if deletes else []) + layers
        count = sum(len(step) for step in steps)
        if count == 0:
            self._group_changed(event)
            return []  # nothing changes: nothing to deploy
        deployment_id = event.deployment_id or c.deployments.new_id()
        persist = Persist()
        for n, step in enumerate(steps):
            for app_id in step:
                where = None if count == 1 else n  # one app: an ordinary deployment of it
                if app_id in puts:
                    c._put(puts[app_id], persist, deployment_id=deployment_id, force=event.force, step=where,
                           held=n > 0)
                else:
                    c.stop(c.app(app_id), persist, deployment_id, event.force, step=where)
        if count > 1:
            c.deployments.begin(deployment_id)
        now = self.clock()
        for spec in changed:
            c.emit(AppChanged(spec, now))
        self._group_changed(event)
        return [persist]

    def _group_changed(self, event: ChangeApps) -> None:
        """Marathon's ``group_change_success``: the change was accepted (deployed or not)."""
        if event.group_id is not None:
            now = self.clock()
            self.commands.emit(GroupChanged(event.group_id, now, now))
