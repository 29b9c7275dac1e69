"""Groups: ``/v2/groups[/{id}]`` (show, create, change, scale, destroy), in Marathon's shapes.

Halyard keeps no group records: a group is the tree its apps' ids imply (``/prod/db`` is in
``/prod``), so a group exists while it has apps, and a group change is a change of its apps, in
one deployment (:class:`~halyard.engine.messages.ChangeApps`, ordered by their dependencies).

What a group update means, as in Marathon (``GroupApiService``, ``UpdateGroupStructureOp``):

* ``apps`` given: the group's own apps become exactly those (each a whole definition, its id
  relative to the group); apps of the group not listed are destroyed. Not given: they stay.
* ``groups`` given: the group's subgroups become exactly those, each updated the same way;
  subgroups not listed are destroyed with their apps. Not given: they stay.
* ``dependencies`` of a group (ids relative to it) are given to every app listed with it, below it
  included (an app of the group depends on them: Marathon's group dependencies), as app
  ``dependencies``: they order the deployment.
* ``scaleBy`` (alone): every app under the group scaled by it (rounded up).
* ``?dryRun=true`` on ``PUT``: the steps the update would take (``{"steps": [...]}``), nothing changed.

Refused, with the reason: ``version`` (a group rollback: Halyard keeps app versions, not group
versions; roll apps back with ``PUT /v2/apps/{id}`` ``{version}``), ``enforceRole: true`` (roles
are not enforced) and ``pods``.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..backend import Backend
from ..engine.app_records import AppRecord
from ..engine.messages import ChangeApps
from ..engine.plans import absolute, dependency_layers, parent
from ..engine.view import EngineView
from ..errors import ConflictError, NotFoundError, Problem, ValidationError
from ..model import AppSpec, normalize_app_id
from ..timestamps import iso
from ..validation import app_problems, format_path
from .app_lists import app_id_at, deployment_answer
from .apps import app_json
from .inputs import body_json, new_id

FIELDS = {"id", "apps", "groups", "dependencies", "enforceRole", "scaleBy", "version", "pods"}
EMBED_ALL = {"group.apps", "group.groups", "group.pods"}


def group_id(text: str, base: str = "/") -> str:
    """A group id, absolute (relative ones read from ``base``); ``/`` is the root; a malformed one is a 422."""
    path = absolute(text, base)
    if path == "/":
        return path
    try:
        return normalize_app_id(path)
    except ValueError as exc:
        raise ValidationError([Problem("id", str(exc))]) from None


def under(app_id: str, group: str) -> bool:
    """The app is in the group or below it."""
    return group == "/" or app_id.startswith(group + "/")


def live_apps(view: EngineView) -> list[AppRecord]:
    """The apps the groups are made of (an app being destroyed has left its group, as in Marathon)."""
    return sorted((a for a in view.apps() if not a.deleting), key=lambda a: a.app_id)


def group_json(view: EngineView, gid: str, apps: list[AppRecord], embed: set[str]) -> dict[str, Any]:
    """Marathon's GroupInfo for ``gid`` out of ``apps`` (every app under it): its own apps and its
    subgroups, as ``embed`` asks (both, when it asks nothing)."""
    inside = [a for a in apps if under(a.app_id, gid)]
    data: dict[str, Any] = {"id": gid, "dependencies": [],
                            "version": iso(max((a.version for a in inside), default=view.now()))}
    embed = embed or EMBED_ALL
    if "group.apps" in embed:
        data["apps"] = [app_json(view, a, embed_tasks="group.apps.tasks" in embed,
                                 readiness="group.apps.readiness" in embed)
                        for a in inside if parent(a.app_id) == gid]
    if "group.groups" in embed:
        depth = len([s for s in gid.split("/") if s])
        children = sorted({"/" + "/".join(a.app_id.strip("/").split("/")[:depth + 1])
                           for a in inside if parent(a.app_id) != gid})
        data["groups"] = [group_json(view, child, inside, embed) for child in children]
    if "group.pods" in embed:
        data["pods"] = []
    return data


def dry_action(old: Optional[AppSpec], new: AppSpec) -> str:
    """Marathon's action for an app a change creates or changes."""
    if old is None or old.model_copy(update={"instances": new.instances}) == new:
        return "ScaleApplication"  # a new app is started, then scaled; a scale only is a scale
    return "RestartApplication"


class GroupChange:
    """A group update (Marathon's GroupUpdate) turned into the apps to put and the apps to keep."""

    def __init__(self, current: Mapping[str, AppSpec]):
        self.current = current
        self.puts: list[AppSpec] = []
        self.kept: set[str] = set()
        self.problems: list[Problem] = []

    def apply(self, gid: str, body: Any, where: tuple[str | int, ...], inherited: tuple[str, ...] = ()) -> None:
        if not isinstance(body, dict):
            self.problems.append(Problem(format_path(where), "expected a group (a mapping)"))
            return
        self._check_fields(body, where)
        dependencies = inherited + tuple(absolute(d, gid) for d in body.get("dependencies") or () if isinstance(d, str))
        if "apps" in body:
            for i, raw in enumerate(self._list(body, "apps", where)):
                self._app(gid, raw, where + ("apps", i), dependencies)
        else:
            self.kept |= {a for a in self.current if parent(a) == gid}
        if "groups" in body:
            for j, sub in enumerate(self._list(body, "groups", where)):
                at = where + ("groups", j)
                if not isinstance(sub, dict) or not isinstance(sub.get("id"), str):
                    self.problems.append(Problem(format_path(at + ("id",)), "required: the group's id"))
                    continue
                try:
                    child = group_id(sub["id"], gid)
                except ValidationError as exc:
                    self.problems += [Problem(format_path(at + ("id",)), p.message) for p in exc.problems]
                    continue
                if parent(child) != gid:
                    self.problems.append(Problem(format_path(at + ("id",)), f"Identifier is not child of '{gid}'"))
                    continue
                self.apply(child, sub, at, dependencies)
        else:
            self.kept |= {a for a in self.current if under(a, gid) and parent(a) != gid}

    def _check_fields(self, body: dict, where: tuple[str | int, ...]) -> None:
        for key in sorted(set(body) - FIELDS):
            self.problems.append(Problem(format_path(where + (key,)), "unknown field"))
        if body.get("pods"):
            self.problems.append(Problem(format_path(where + ("pods",)), "pods are not supported by Halyard"))
        if body.get("enforceRole") is True:
            self.problems.append(Problem(format_path(where + ("enforceRole",)),
                                         "roles are not enforced by Halyard (give acceptedResourceRoles per app)"))
        deps = body.get("dependencies")
        if deps is not None and not (isinstance(deps, list) and all(isinstance(d, str) for d in deps)):
            self.problems.append(Problem(format_path(where + ("dependencies",)), "expected a list of ids"))

    def _list(self, body: dict, key: str, where: tuple[str | int, ...]) -> list:
        value = body.get(key) or []
        if not isinstance(value, list):
            self.problems.append(Problem(format_path(where + (key,)), "expected a list"))
            return []
        return value

    def _app(self, gid: str, raw: Any, where: tuple[str | int, ...], dependencies: tuple[str, ...]) -> None:
        app_id, found = app_id_at(raw, where, gid)
        if app_id is not None and parent(app_id) != gid:
            found = [Problem(format_path(where + ("id",)), f"Identifier is not child of '{gid}'")]
        if found or app_id is None:
            self.problems += found
            return
        own = raw.get("dependencies") if isinstance(raw.get("dependencies"), list) else []
        merged = list(dict.fromkeys([*own, *dependencies]))
        definition = {k: v for k, v in raw.items() if k != "version"}
        spec, found = app_problems({**definition, "id": app_id, **({"dependencies": merged} if merged else {})},
                                   None, where)
        self.problems += found
        if spec is not None:
            if app_id in self.kept:
                self.problems.append(Problem(format_path(where + ("id",)), f"app {app_id} appears more than once"))
            self.puts.append(spec)
            self.kept.add(app_id)


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    def current() -> dict[str, AppSpec]:
        with backend.reading() as view:
            return {a.app_id: a.spec for a in live_apps(view)}

    def dry_run(gid: str, body: dict) -> list[dict[str, Any]]:
        """The steps a group update would take (Marathon's ``?dryRun=true``), changing nothing."""
        apps = current()
        change = GroupChange(apps)
        change.apply(gid, body, ())
        if change.problems:
            raise ValidationError(change.problems)
        deletes = sorted(a for a in apps if under(a, gid) and a not in change.kept)
        puts = {s.id: s for s in change.puts}
        changed = [s.id for s in change.puts if apps.get(s.id) != s]
        targets = {**{a: s for a, s in apps.items() if a not in deletes}, **puts}
        steps = ([[{"action": "StopApplication", "app": a} for a in deletes]] if deletes else [])
        for layer in dependency_layers(targets, changed):
            steps.append([{"action": dry_action(apps.get(a), puts[a]), "app": a} for a in layer])
        return [{"actions": actions} for actions in steps]

    def structural(gid: str, body: dict, force: bool) -> dict[str, Any]:
        apps = current()
        change = GroupChange(apps)
        change.apply(gid, body, ())
        if change.problems:
            raise ValidationError(change.problems)
        deletes = tuple(a for a in apps if under(a, gid) and a not in change.kept)
        return deployment_answer(backend, ChangeApps(tuple(change.puts), deletes, deployment_id=new_id(), force=force))

    def refuse_rollback_and_scale(body: dict) -> Optional[float]:
        """``version`` is refused; ``scaleBy`` must come alone (with ``id``): its factor."""
        if "version" in body:
            raise ValidationError([Problem("version", "group versions are not kept by Halyard (its apps' versions "
                                                      "are: roll an app back with PUT /v2/apps/{id} {\"version\": ...})")])
        if "scaleBy" not in body:
            return None
        scale = body["scaleBy"]
        if set(body) - {"id", "scaleBy"}:
            raise ValidationError([Problem("scaleBy", "may only be combined with 'id'")])
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale < 0:
            raise ValidationError([Problem("scaleBy", f"expected a number >= 0, got {scale!r}")])
        return float(scale)

    async def read_body(request: Request) -> dict:
        raw = await body_json(request)
        if not isinstance(raw, dict):
            raise ValidationError([Problem("", "expected a group (a JSON object)")])
        return raw

    @router.get("/v2/groups")
    def root(embed: Optional[list[str]] = Query(None)) -> Any:
        with backend.reading() as view:
            return group_json(view, "/", live_apps(view), set(embed or ()))

    @router.get("/v2/groups/{gid:path}")
    def show(gid: str, embed: Optional[list[str]] = Query(None)) -> Any:
        gid = group_id(gid)
        with backend.reading() as view:
            apps = live_apps(view)
            if gid != "/" and not any(under(a.app_id, gid) for a in apps):
                raise NotFoundError(f"Group '{gid}' does not exist")
            return group_json(view, gid, apps, set(embed or ()))

    @router.post("/v2/groups", status_code=201)
    @router.post("/v2/groups/{path:path}", status_code=201)
    async def create(request: Request, path: str = "/", force: bool = False) -> Any:
        body = await read_body(request)
        base = group_id(path)
        gid = group_id(body["id"], base) if isinstance(body.get("id"), str) else base
        refuse_rollback_and_scale(body)
        apps = current()
        if gid in apps:
            raise ConflictError(f"An app with the path {gid} already exists.")
        if gid == "/" or any(under(a, gid) for a in apps):
            raise ConflictError(f"Group {gid} is already created. Use PUT to change this group.")
        if not body.get("apps") and not body.get("groups"):
            raise ValidationError([Problem("apps", "a group without apps is not kept by Halyard: its groups are "
                                                   "the tree its apps' ids imply")])
        return JSONResponse(structural(gid, body, force), status_code=201)

    @router.put("/v2/groups")
    @router.put("/v2/groups/{path:path}")
    async def update(request: Request, path: str = "/", force: bool = False, dryRun: bool = False) -> Any:  # noqa: N803
        body = await read_body(request)
        base = group_id(path)
        gid = group_id(body["id"], base) if isinstance(body.get("id"), str) else base
        scale = refuse_rollback_and_scale(body)
        if dryRun and scale is None:
            return {"steps": dry_run(gid, body)}
        if scale is None:
            return structural(gid, body, force)
        apps = current()
        inside = [s for a, s in apps.items() if under(a, gid)]
        if not inside:
            raise NotFoundError(f"Group '{gid}' does not exist")
        scaled = tuple(s.model_copy(update={"instances": math.ceil(s.instances * scale)}) for s in inside)
        return deployment_answer(backend, ChangeApps(scaled, deployment_id=new_id(), force=force))

    @router.delete("/v2/groups")
    @router.delete("/v2/groups/{path:path}")
    def destroy(path: str = "/", force: bool = False) -> Any:
        gid = group_id(path)
        apps = [a for a in current() if under(a, gid)]
        if not apps and gid != "/":
            raise NotFoundError(f"Group '{gid}' does not exist")
        return deployment_answer(backend, ChangeApps((), tuple(apps), deployment_id=new_id(), force=force))

    return router
