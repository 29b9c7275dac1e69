"""What a scoped token sees when reads need a token (``--auth-reads``): lists hold only what is
under its prefixes, and one resource outside them is a 403.

=================================  ============================================================
read                               what a scoped token gets
=================================  ============================================================
``/v2/apps``                       the apps under its prefixes
``/v2/apps/{id}[/tasks|/versions   the app's answer, or 403 when the app is outside
...]``, ``/v1/apps/{id}/...``
``/v2/tasks``                      the tasks of those apps
``/v2/groups[/{id}]``              the tree with only those apps (groups left empty dropped)
``/v2/deployments``,               the deployments whose every app is under its prefixes
``/v1/deployments``
``/v2/deployments/{id}``           that deployment, or 403
``/v2/queue``                      the queued apps under its prefixes
``/v1/jobs``, ``/v1/jobs/{id}..``  the jobs under its prefixes (``team-a.etl`` is ``/team-a/etl``)
``/api/v1/task[/{id}..]``          Eremetic's tasks likewise (they are jobs ``eremetic-task.<uuid>``)
``/v2/events``                     events that name an app or job outside are left out
``/v1/cluster``                    every agent, and only the tasks of those apps
``/v1/releases[/{svc}/{env}]``     the releases whose app is under its prefixes
=================================  ============================================================

Everything else (``/v2/info``, ``/v2/leader``, ``/metrics``, ...) is shown whole.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .scopes import refusal
from .tokens import Grant, job_path

_APP_SUFFIX = re.compile(r"^(?P<id>/.+?)(?:/tasks(?:/[^/]+)?|/versions(?:/[^/]+)?|/restart|/endpoints|/placement)?$")
_QUEUE = re.compile(r"^/v2/queue(?P<id>/.+)/delay$")
_JOB = re.compile(r"^/v1/jobs/(?P<id>[^/]+)(?:/.*)?$")
_TASK = re.compile(r"^/api/v1/task/(?P<id>[^/]+)(?:/.*)?$")   # Eremetic's tasks are jobs


def app_id_in(path: str) -> str | None:
    """The app id a single-app read names (``/v2/apps/a/b/tasks`` -> ``/a/b``), if any."""
    for prefix in ("/v2/apps/", "/v1/apps/"):
        if path.startswith(prefix):
            match = _APP_SUFFIX.match("/" + path[len(prefix):].lstrip("/"))
            return match.group("id").rstrip("/") if match else None   # as the routes read it: //a/b is /a/b
    return None


def named_in(path: str) -> str | None:
    """The app id or job path a request's path names (``/v2/apps/{id}...``, ``/v1/apps/{id}/...``,
    ``/v2/queue/{id}/delay``, ``/v2/pods/{id}``, ``/v1/jobs/{id}...``), if any."""
    app_id = app_id_in(path)
    if app_id is not None:
        return app_id
    if path.startswith("/v2/pods/"):   # pods are refused for everyone; a scoped token hears 403 first
        return "/" + path[len("/v2/pods/"):].strip("/").split("::")[0]
    queued = _QUEUE.match(path)
    if queued is not None:
        return "/" + queued.group("id").strip("/")
    job = _JOB.match(path) or _TASK.match(path)
    return job_path(job.group("id")) if job is not None else None


def check_path(path: str, grant: Grant, verb: str) -> None:
    """Raise ForbiddenError when the path names an app or job outside ``grant`` (a write is
    refused before its body is read, even when it would have changed nothing)."""
    named = named_in(path)
    if named is not None and not grant.covers(named):
        raise refusal(grant, [named], verb)


def _deployment_ok(grant: Grant) -> Callable[[Any], bool]:
    return lambda d: isinstance(d, dict) and all(grant.covers(a) for a in d.get("affectedApps") or ())


def _prune_group(group: dict[str, Any], grant: Grant) -> dict[str, Any]:
    apps = [a for a in group.get("apps") or () if isinstance(a, dict) and grant.covers(a.get("id", ""))]
    groups = [_prune_group(g, grant) for g in group.get("groups") or () if isinstance(g, dict)]
    return {**group, "apps": apps, "groups": [g for g in groups if g["apps"] or g["groups"]]}


#: The reads :func:`filter_read` limits (a single app or job outside the scope is refused before,
#: by :func:`check_path`).
FILTERED = {"/v2/apps", "/v2/tasks", "/v2/deployments", "/v1/deployments", "/v2/queue", "/v1/jobs", "/v2/groups",
            "/v1/cluster", "/v1/releases", "/api/v1/task"}
FILTERED_PREFIXES = ("/v2/deployments/", "/v2/groups/", "/v1/releases/")


def filtered(path: str) -> bool:
    """Whether :func:`filter_read` limits the answer to a read of ``path``."""
    return path in FILTERED or path.startswith(FILTERED_PREFIXES)


def filter_read(path: str, body: Any, grant: Grant) -> Any:
    """A list answer with only what ``grant`` covers; a single deployment outside is a 403
    (ForbiddenError); other answers unchanged."""
    if path == "/v2/apps" and isinstance(body, dict) and isinstance(body.get("apps"), list):
        return {**body, "apps": [a for a in body["apps"] if grant.covers(a.get("id", ""))]}
    if path == "/v2/tasks" and isinstance(body, dict) and isinstance(body.get("tasks"), list):
        return {**body, "tasks": [t for t in body["tasks"] if grant.covers(t.get("appId", ""))]}
    if path in ("/v2/deployments", "/v1/deployments") and isinstance(body, list):
        return [d for d in body if _deployment_ok(grant)(d)]
    if path.startswith("/v2/deployments/") and isinstance(body, dict) and "affectedApps" in body:
        if not _deployment_ok(grant)(body):
            raise refusal(grant, grant.outside(body["affectedApps"]), "read")
        return body
    if path == "/v2/queue" and isinstance(body, dict) and isinstance(body.get("queue"), list):
        return {**body, "queue": [q for q in body["queue"]
                                  if grant.covers((q.get("app") or q.get("pod") or {}).get("id", ""))]}
    if path == "/v1/cluster" and isinstance(body, dict) and isinstance(body.get("tasks"), list):
        return {**body, "tasks": [t for t in body["tasks"] if grant.covers(t.get("appId", ""))]}
    if (path == "/v1/releases" or path.startswith("/v1/releases/")) and isinstance(body, dict) \
            and isinstance(body.get("releases"), list):
        mine = [r for r in body["releases"] if isinstance(r, dict) and grant.covers(r.get("appId", ""))]
        current = body.get("current")
        if isinstance(current, dict) and not grant.covers(current.get("appId", "")):
            return {**body, "current": None, "releases": mine}
        return {**body, "releases": mine}
    if path in ("/v1/jobs", "/api/v1/task") and isinstance(body, list):
        return [j for j in body if isinstance(j, dict) and grant.covers(job_path(str(j.get("id", ""))))]
    if (path == "/v2/groups" or path.startswith("/v2/groups/")) and isinstance(body, dict) and "apps" in body:
        return _prune_group(body, grant)
    return body


def event_visible(event: dict[str, Any], grant: Grant) -> bool:
    """Whether a scoped token's stream gets this event: those naming apps or jobs get it when
    every one is under its prefixes; the others (attach/detach, ...) always."""
    ids: list[str] = []
    for key in ("appId", "runSpecId"):
        if isinstance(event.get(key), str):
            ids.append(event[key])
    if isinstance(event.get("appDefinition"), dict):
        ids.append(str(event["appDefinition"].get("id", "")))
    if isinstance(event.get("jobId"), str):
        ids.append(job_path(event["jobId"]))
    plan = event.get("plan")
    if isinstance(plan, dict):
        for step in plan.get("steps") or ():
            ids += [a.get("app", "") for a in (step or {}).get("actions") or () if isinstance(a, dict)]
    if event.get("eventType") == "api_post_event" and "path" in event:   # an audit record
        named = app_id_in(str(event.get("uri", "")))
        if named is not None:
            ids.append(named)
        elif not ids:
            return False   # a request that named no app of its own: another token's business
    return all(grant.covers(i) for i in ids)
