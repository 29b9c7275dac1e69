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
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..engine.app_records import AppRecord
from ..engine.messages import ChangeApps
from ..engine.view import EngineView
from ..errors import ConflictError, NotFoundError, Problem, ValidationError
from ..runtime.backend import Backend
from ..spec.app import AppSpec
from ..spec.paths import parent
from ..timestamps import iso
from .app_lists import Publisher, deployment_answer
from .apps import app_json
from .deployments import ACTIONS
from .group_updates import GroupChange, group_id, under
from .inputs import body_json, new_id

EMBED_ALL = {"group.apps", "group.groups", "group.pods"}
#: A dry run's action for each kind of deployment, as Marathon's dry run names them: a new app is
#: shown scaled (it is started, then scaled), a config change restarted.
DRY_RUN_ACTIONS = {**ACTIONS, "start": "ScaleApplication"}


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
                                 readiness="group.apps.readiness" in embed, halyard="group.apps.halyard" in embed)
                        for a in inside if parent(a.app_id) == gid]
    if "group.groups" in embed:
        depth = len([s for s in gid.split("/") if s])
        children = sorted({"/" + "/".join(a.app_id.strip("/").split("/")[:depth + 1])
                           for a in inside if parent(a.app_id) != gid})
        data["groups"] = [group_json(view, child, inside, embed) for child in children]
    if "group.pods" in embed:
        data["pods"] = []
    return data


def routes(backend: Backend, publish: Publisher | None = None) -> APIRouter:
    """The groups' routes; ``publish`` puts a refused change on the event stream. Changes name
    the group Marathon's ``group_change_*`` events name: the parent of the request's path."""
    router = APIRouter()

    def current() -> dict[str, AppSpec]:
        with backend.reading() as view:
            return {a.app_id: a.spec for a in live_apps(view)}

    def changed_by(gid: str, body: dict) -> tuple[GroupChange, list[str]]:
        """The update applied to the apps now (refused if it has problems), and the apps it
        removes (by id)."""
        apps = current()
        change = GroupChange(apps)
        change.apply(gid, body, ())
        if change.problems:
            raise ValidationError(change.problems)
        return change, sorted(a for a in apps if under(a, gid) and a not in change.kept)

    def dry_run(gid: str, body: dict) -> list[dict[str, Any]]:
        """The steps a group update would take (Marathon's ``?dryRun=true``), changing nothing:
        the steps the engine would deploy the change in, computed by the engine's own function."""
        change, deletes = changed_by(gid, body)
        with backend.reading() as view:
            steps = view.deployment_steps(change.puts, deletes)
        return [{"actions": [{"action": DRY_RUN_ACTIONS[a.kind], "app": a.app_id} for a in step]} for step in steps]

    def structural(gid: str, body: dict, force: bool, path: str) -> dict[str, Any]:
        change, deletes = changed_by(gid, body)
        return deployment_answer(backend, ChangeApps(tuple(change.puts), tuple(deletes), deployment_id=new_id(), force=force,
                                                     group_id=parent(path)), publish)

    def refuse_rollback_and_scale(body: dict) -> float | None:
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
    def root(embed: list[str] | None = Query(None)) -> Any:
        with backend.reading() as view:
            return group_json(view, "/", live_apps(view), set(embed or ()))

    @router.get("/v2/groups/{gid:path}")
    def show(gid: str, embed: list[str] | None = Query(None)) -> Any:
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
        return JSONResponse(structural(gid, body, force, base), status_code=201)

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
            return structural(gid, body, force, base)
        apps = current()
        inside = [s for a, s in apps.items() if under(a, gid)]
        if not inside:
            raise NotFoundError(f"Group '{gid}' does not exist")
        scaled = tuple(s.model_copy(update={"instances": math.ceil(s.instances * scale)}) for s in inside)
        return deployment_answer(backend, ChangeApps(scaled, deployment_id=new_id(), force=force,
                                                     group_id=parent(base)), publish)

    @router.patch("/v2/groups/{path:path}")
    async def patch(request: Request, path: str) -> Any:
        """Marathon's GroupPartialUpdate (``enforceRole`` only): ``false`` is what every group is."""
        body = await read_body(request)
        gid = group_id(path)
        problems = [Problem(key, "unknown field (a group PATCH holds only enforceRole)") for key in sorted(body)
                    if key != "enforceRole"]
        if body.get("enforceRole") not in (None, False):
            problems.append(Problem("enforceRole", "roles are not enforced by Halyard (give acceptedResourceRoles "
                                                   "per app)"))
        if problems:
            raise ValidationError(problems)
        if not any(under(a, gid) for a in current()):
            raise NotFoundError(f"Group '{gid}' does not exist")
        return {}

    @router.delete("/v2/groups")
    @router.delete("/v2/groups/{path:path}")
    def destroy(path: str = "/", force: bool = False) -> Any:
        gid = group_id(path)
        apps = [a for a in current() if under(a, gid)]
        if not apps and gid != "/":
            raise NotFoundError(f"Group '{gid}' does not exist")
        return deployment_answer(backend, ChangeApps((), tuple(apps), deployment_id=new_id(), force=force,
                                                     group_id=parent(gid)), publish)

    return router
