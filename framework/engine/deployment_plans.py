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

:func:`deployment_steps` computes the steps, a pure function of the apps and the change: the
engine's :class:`PlanCommands` deploys what it returns, and the API's dry run
(``PUT /v2/groups?dryRun=true``, through :meth:`~.view.EngineView.deployment_steps`) shows it,
so a dry run promises what the engine then does.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from ..errors import ConflictError, NotFoundError, Problem, ValidationError
from ..spec.app import AppSpec
from ..spec.paths import absolute, parent
from .app_commands import AppCommands, change_kind
from .app_records import AppRecord
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


def targets_after(apps: Mapping[str, AppRecord], puts: Mapping[str, AppSpec] = {},
                  deletes: Collection[str] = ()) -> dict[str, AppSpec]:
    """Every app there will be after a change: the apps neither being deleted nor deleted by it,
    and the ones it puts."""
    kept = {a.app_id: a.spec for a in apps.values() if not a.deleting and a.app_id not in deletes}
    return {**kept, **puts}


@dataclass(frozen=True)
class StepAction:
    """What a deployment does to one app: the kind its deployment record gets (``stop``, or for
    an app created or changed ``start``, ``scale`` or ``deploy``: :func:`~.app_commands.change_kind`)."""

    app_id: str
    kind: str


def deployment_steps(apps: Mapping[str, AppRecord], puts: Sequence[AppSpec],
                     deletes: Collection[str] = ()) -> list[list[StepAction]]:
    """The steps of a change of several apps (``ChangeApps``: ``puts`` and ``deletes`` of the
    ``apps`` there are) as one deployment: the removals first, together, then the apps it creates
    or changes, in the layers of their dependencies (:func:`dependency_layers`). An app put as it
    is (service ports given as 0 are its earlier ones) is no part of it; no steps: nothing to deploy.

    Refused as a whole, naming the first problem: an app given twice, or both changed and removed
    (ValidationError); the removal of an app that does not exist (NotFoundError); a change of an
    app being deleted (ConflictError); a cycle of dependencies (ValidationError). What else the
    engine refuses depends on more than the apps (a deployment under way, an unknown placement
    strategy): its caller checks that."""
    problems = [Problem("apps", f"app id {i} appears more than once")
                for i in sorted({s.id for s in puts if sum(t.id == s.id for t in puts) > 1})]
    removed = sorted(set(deletes))
    problems += [Problem("apps", f"app {i} is both changed and removed") for i in removed if i in {s.id for s in puts}]
    if problems:
        raise ValidationError(problems)
    for app_id in removed:
        if app_id not in apps:
            raise NotFoundError(f"App '{app_id}' does not exist")
    kinds: dict[str, str] = {}
    for spec in puts:
        old = apps.get(spec.id)
        new = with_earlier_ports(spec, old.spec if old is not None else None)
        if old is not None and new == old.spec:
            continue  # as it is
        if old is not None and old.deleting:
            raise ConflictError(f"App '{spec.id}' is being deleted")
        kinds[spec.id] = change_kind(old.spec if old is not None else None, new)
    layers = dependency_layers(targets_after(apps, {s.id: s for s in puts}, removed), list(kinds))
    return ([[StepAction(app_id, "stop") for app_id in removed]] if removed else []) + \
        [[StepAction(app_id, kinds[app_id]) for app_id in layer] for layer in layers]


class PlanCommands:
    """The ``ChangeApps`` command, over :class:`~.app_commands.AppCommands`."""

    def __init__(self, commands: AppCommands, clock: Callable[[], float]):
        self.commands, self.clock = commands, clock

    def check_dependencies(self, spec: AppSpec) -> None:
        """A change of one app that would close a cycle of dependencies is refused."""
        dependency_layers(targets_after(self.commands.apps, {spec.id: spec}), ())

    def change(self, event: ChangeApps) -> list[Instruction]:
        """Deploy the change in the steps :func:`deployment_steps` gives; every id and conflict is
        checked first: a refused change changes nothing."""
        c = self.commands
        steps = deployment_steps(c.apps, event.puts, event.deletes)
        puts = {spec.id: spec for spec in event.puts}
        planned = {action.app_id for step in steps for action in step}
        for app_id in sorted(set(event.deletes)):
            c.deployments.check_free(app_id, event.force)
        changed = [s for s in event.puts if s.id in planned]
        for spec in changed:
            c.check_strategy(spec)
            c.deployments.check_free(spec.id, event.force)
        count = len(planned)
        if count == 0:
            self._group_changed(event)
            return []  # nothing changes: nothing to deploy
        deployment_id = event.deployment_id or c.deployments.new_id()
        persist = Persist()
        for n, step in enumerate(steps):
            for action in step:
                where = None if count == 1 else n  # one app: an ordinary deployment of it
                if action.kind == "stop":
                    c.stop(c.app(action.app_id), persist, deployment_id, event.force, step=where)
                else:
                    c._put(puts[action.app_id], persist, deployment_id=deployment_id, force=event.force, step=where,
                           held=n > 0)
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
