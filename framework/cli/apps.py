"""``halyard apps ...`` and ``halyard deployments``: the API from the command line."""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ..spec.app import HALYARD_FIELDS
from ..spec.validation import load_apps
from .client import API_OPTION, ApiError, Client
from .locks import locked_error
from .output import OUTPUT_OPTION, emit_json, table
from .progress import follow


@click.group()
def apps() -> None:
    """List, inspect and change apps."""


@apps.command("list")
@API_OPTION
@OUTPUT_OPTION
def list_apps(api: str, output: str) -> None:
    """Every app with its instances, running and healthy tasks."""
    data = Client(api).get("/v2/apps", embed="apps.halyard")["apps"]
    if output == "json":
        emit_json(data)
        return
    rows = [(a["id"], a["instances"], a["tasksRunning"], a["tasksHealthy"], a["cpus"], a["mem"],
             a.get("container", {}).get("docker", {}).get("image", a.get("cmd", ""))[:40],
             "yes" if a["deployments"] else "") for a in data]
    click.echo(table(["ID", "INSTANCES", "RUNNING", "HEALTHY", "CPUS", "MEM", "IMAGE/CMD", "DEPLOYING"], rows))


@apps.command()
@click.argument("app_id")
@API_OPTION
@OUTPUT_OPTION
def show(app_id: str, api: str, output: str) -> None:
    """One app, its tasks, and why instances wait (if any do)."""
    client = Client(api)
    app_id = "/" + app_id.strip("/")
    app = client.get(f"/v2/apps{app_id}", embed="app.halyard")["app"]
    placement = client.get(f"/v1/apps{app_id}/placement")
    if output == "json":
        emit_json({"app": app, "placement": placement})
        return
    click.echo(f"{app['id']}: {app['tasksRunning']}/{app['instances']} running, {app['tasksHealthy']} healthy, "
               f"version {app['version']}")
    rows = [(t["id"], t["state"], f"{t['host']}:{','.join(map(str, t['ports']))}", t.get("startedAt") or "-")
            for t in app.get("tasks", [])]
    if rows:
        click.echo(table(["TASK", "STATE", "ENDPOINT", "STARTED"], rows))
    if placement["pending"]:
        click.echo(f"waiting: {placement['pending']} instance(s), delay {placement['delaySeconds']}s")
        for reason in placement["reasons"]:
            click.echo(f"  - {reason}")
    if app.get("lastTaskFailure"):
        f = app["lastTaskFailure"]
        click.echo(f"last failure: {f['taskId']} {f['state']} on {f['host']}: {f['message']}")


def _submit(client: Client, method: str, path: str, body: dict | None, command: str, app_id: str,
            **params: Any) -> dict:
    """One change through the API; a 409 from a deployment holding the app says which one and
    offers ``command``'s ``--force`` (:mod:`.locks`)."""
    try:
        return client.request(method, path, json=body, **params) or {}
    except ApiError as exc:
        raise locked_error(exc, f"halyard apps {command}", app_id) from None


def wait_options(command: Callable) -> Callable:
    """``--no-wait`` and ``--timeout``: a change waits until its deployment ends, unless told not to."""
    command = click.option("--timeout", type=float, default=300.0, show_default=True,
                           help="seconds to wait for the deployment (it goes on after that)")(command)
    return click.option("--no-wait", is_flag=True, help="return once the change is accepted")(command)


def _wait(client: Client, app_id: str, deployment_id: str, no_wait: bool, timeout: float) -> int:
    """Follow the deployment to its end (progress on stderr); 0 succeeded, 1 failed, 2 still running."""
    if no_wait:
        return 0
    app = client.app(app_id) or {}
    code, deployment, reasons = follow(client, app_id, deployment_id, app.get("instances", 0),
                                       bool(app.get("healthChecks")), timeout, rollback_on_timeout=False)
    if code == 0:
        done = client.app(app_id) or {}
        click.echo(f"{app_id}: deployment {deployment_id} succeeded ({done.get('tasksRunning', 0)}/"
                   f"{done.get('instances', 0)} running)" if done else f"{app_id}: deployment {deployment_id} succeeded")
        return 0
    click.echo(f"{app_id}: deployment {deployment_id} " + ("failed; rolled back" if code == 1 else
               f"still running after {timeout:g}s"), err=True)
    for line in [*deployment.get("failures", ()), *(f"waiting: {r}" for r in reasons)]:
        click.echo(f"  - {line}", err=True)
    return code


@apps.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--env", "env", default=None)
@click.option("--force", is_flag=True, help="supersede a deployment under way")
@wait_options
@API_OPTION
def create(file: str, env: str | None, force: bool, no_wait: bool, timeout: float, api: str) -> None:
    """Create the app(s) of FILE and wait until each is deployed."""
    client = Client(api)
    started = []
    for spec in load_apps(file, env):
        result = _submit(client, "POST", "/v2/apps", spec.to_json(), "create", spec.id, force=str(force).lower())
        started.append((spec.id, result["deployments"][0]["id"]))
        click.echo(f"{spec.id}: created (deployment {started[-1][1]})")
    sys.exit(max([_wait(client, app_id, d, no_wait, timeout) for app_id, d in started], default=0))


@apps.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--env", "env", default=None)
@click.option("--force", is_flag=True, help="supersede a deployment under way")
@wait_options
@API_OPTION
def update(file: str, env: str | None, force: bool, no_wait: bool, timeout: float, api: str) -> None:
    """Replace (or create) the app(s) of FILE with its definition and wait until each is deployed."""
    client = Client(api)
    started = []
    for spec in load_apps(file, env):
        # A replace keeps the Halyard fields a body does not name (Marathon's clients cannot name
        # them): the file's definition names each, null for those it does not set.
        body = {**{name: None for name in HALYARD_FIELDS}, **spec.to_json()}
        result = _submit(client, "PUT", f"/v2/apps{spec.id}", body, "update", spec.id, partialUpdate="false",
                         force=str(force).lower())
        started.append((spec.id, result["deploymentId"]))
        click.echo(f"{spec.id}: updated (deployment {started[-1][1]})")
    sys.exit(max([_wait(client, app_id, d, no_wait, timeout) for app_id, d in started], default=0))


def _change(api: str, app_id: str, method: str, suffix: str, doing: str, force: bool, command: str,
            body: dict | None = None) -> tuple[Client, str, str]:
    """One app change (by ``halyard apps COMMAND``) through the API, reported with the deployment it started."""
    app_id = "/" + app_id.strip("/")
    client = Client(api)
    result = _submit(client, method, f"/v2/apps{app_id}{suffix}", body, command, app_id, force=str(force).lower())
    click.echo(f"{app_id}: {doing} (deployment {result['deploymentId']})")
    return client, app_id, result["deploymentId"]


@apps.command()
@click.argument("app_id")
@click.argument("instances", type=click.IntRange(min=0))
@click.option("--force", is_flag=True, help="supersede a deployment under way")
@wait_options
@API_OPTION
def scale(app_id: str, instances: int, force: bool, no_wait: bool, timeout: float, api: str) -> None:
    """Set an app's instances and wait until the deployment ends."""
    client, app_id, deployment_id = _change(api, app_id, "PUT", "", f"scaling to {instances}", force, "scale",
                                            {"instances": instances})
    sys.exit(_wait(client, app_id, deployment_id, no_wait, timeout))


@apps.command()
@click.argument("app_id")
@click.option("--force", is_flag=True, help="supersede a deployment under way")
@wait_options
@API_OPTION
def restart(app_id: str, force: bool, no_wait: bool, timeout: float, api: str) -> None:
    """Replace every task of an app (rolling, within its upgradeStrategy) and wait until it is done."""
    client, app_id, deployment_id = _change(api, app_id, "POST", "/restart", "restarting", force, "restart")
    sys.exit(_wait(client, app_id, deployment_id, no_wait, timeout))


@apps.command()
@click.argument("app_id")
@click.option("--force", is_flag=True, help="supersede a deployment under way")
@API_OPTION
def destroy(app_id: str, force: bool, api: str) -> None:
    """Kill an app's tasks and remove it."""
    _change(api, app_id, "DELETE", "", "destroying", force, "destroy")


@click.command()
@API_OPTION
@OUTPUT_OPTION
def deployments(api: str, output: str) -> None:
    """Deployments under way."""
    data = Client(api).get("/v2/deployments")
    if output == "json":
        emit_json(data)
        return
    rows = [(d["id"], ",".join(d["affectedApps"]), ",".join(a["action"] for a in d["currentActions"]), d["version"])
            for d in data]
    click.echo(table(["ID", "APPS", "ACTION", "VERSION"], rows) if rows else "no deployments under way")


@click.command()
@click.option("--type", "types", multiple=True, help="only these event types (repeatable)")
@click.option("--count", type=int, default=None, help="stop after this many events")
@API_OPTION
@OUTPUT_OPTION
def events(types: tuple[str, ...], count: int | None, api: str, output: str) -> None:
    """Follow the event stream (Ctrl-C stops): one line per event, or JSON lines with -o json."""
    import json

    client = Client(api)
    seen = 0
    with client.events({"event_type": list(types)} if types else None) as resp:
        for line in client.lines(resp):
            if not line or not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if output == "json":
                click.echo(json.dumps(event))
            else:
                detail = " ".join(str(event[k]) for k in ("appId", "taskId", "taskStatus", "id", "reason")
                                  if event.get(k))
                click.echo(f"{event['timestamp']}  {event['eventType']:<28} {detail}")
            seen += 1
            if count is not None and seen >= count:
                return
