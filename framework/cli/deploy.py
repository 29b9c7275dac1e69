"""``deploy SERVICE VERSION ENVIRONMENT``: one artifact, a topology per environment, one command.

Reads ``SERVICE.yaml`` from ``--services`` (default ``./services``, or ``HALYARD_SERVICES``),
sets the Docker image's tag to VERSION (command apps: ``{version}`` in ``cmd`` and fetch URIs is
replaced), applies the ENVIRONMENT overlay, submits it and follows the deployment until it is done.
A service that sets no ``minReadySeconds`` gets :data:`DEFAULT_MIN_READY_SECONDS`: a new task
counts only after running that long, so a command that exits at once (a crash loop) fails the
deployment instead of passing through TASK_RUNNING.
Exit 0 on success; 1 when the deployment fails (it is rolled back; the tasks' failure messages are
quoted); 2 when it is not done within ``--timeout`` (it is then rolled back too); 3 on bad input.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import HalyardError, Problem, ValidationError
from ..model import AppSpec
from ..validation import load_apps
from .client import API_OPTION, Client
from .output import emit_json
from .progress import follow


#: ``minReadySeconds`` for a service that sets none. 3 s: long enough for a command that exits at
#: once to be seen failing (its TASK_FAILED follows TASK_RUNNING within a second here), short
#: enough not to slow a deployment down much (a health-checked task usually takes longer anyway).
DEFAULT_MIN_READY_SECONDS = 3.0


def with_min_ready(spec: AppSpec) -> AppSpec:
    """The app with ``minReadySeconds`` set (:data:`DEFAULT_MIN_READY_SECONDS` unless it sets one)."""
    if spec.min_ready_seconds is not None:
        return spec
    return AppSpec.model_validate({**spec.to_json(), "minReadySeconds": DEFAULT_MIN_READY_SECONDS})


def with_version(spec: AppSpec, version: str) -> AppSpec:
    """The app with its artifact set to ``version``."""
    data = spec.to_json()
    image = spec.image
    if image is not None:
        name = image.rsplit("@", 1)[0]
        repo, _, tag = name.rpartition(":")
        if not repo or "/" in tag:  # no tag (a ':' belongs to a registry host:port)
            repo = name
        data["container"]["docker"]["image"] = f"{repo}:{version}"
    if spec.cmd:
        data["cmd"] = spec.cmd.replace("{version}", version)
    for fetch in data.get("fetch", []):
        fetch["uri"] = fetch["uri"].replace("{version}", version)
    data.setdefault("labels", {})["HALYARD_VERSION"] = version
    data.setdefault("env", {})["HALYARD_VERSION"] = version
    return AppSpec.model_validate(data)


def service_file(services: str, service: str) -> Path:
    for ext in (".yaml", ".yml", ".json"):
        path = Path(services) / f"{service}{ext}"
        if path.exists():
            return path
    raise ValidationError([Problem("SERVICE", f"no {service}.yaml in {services}")])


@click.command()
@click.argument("service")
@click.argument("version")
@click.argument("environment")
@click.option("--services", envvar="HALYARD_SERVICES", default="services", show_default=True,
              help="directory of SERVICE.yaml definitions (or set HALYARD_SERVICES)")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="seconds before an unfinished deployment is rolled back and deploy fails")
@click.option("--force", is_flag=True, help="supersede a deployment under way")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@API_OPTION
def deploy(service: str, version: str, environment: str, services: str, timeout: float, force: bool,
           output: str, api: str) -> None:
    """Deploy VERSION of SERVICE to ENVIRONMENT and wait until it runs (or fails, and rolls back)."""
    path = service_file(services, service)
    specs = load_apps(path, environment)
    if len(specs) != 1:
        raise ValidationError([Problem("apps", f"{path} must hold one app, holds {len(specs)}")], str(path))
    spec = with_min_ready(with_version(specs[0], version))
    client = Client(api)
    result = client.request("PUT", f"/v2/apps{spec.id}", json=spec.to_json(), partialUpdate="false",
                            force=str(force).lower())
    click.echo(f"deploying {spec.id} {version} to {environment}: {spec.instances} instance(s) "
               f"(deployment {result['deploymentId']})", err=True)
    code, deployment, reasons = follow(client, spec.id, result["deploymentId"], spec.instances,
                                       bool(spec.health_checks), timeout)
    app = client.app(spec.id)
    if output == "json":
        emit_json({"status": ["succeeded", "failed", "timed out"][code], "deployment": deployment, "app": app,
                   "waitingFor": reasons})
    elif code == 0:
        endpoints = [f"{t['host']}:{t['ports'][0]}" if t["ports"] else t["host"] for t in (app or {}).get("tasks", [])]
        click.echo(f"{spec.id} {version} is running in {environment}: {' '.join(endpoints)}")
    else:
        what = "failed" if code == 1 else f"did not finish within {timeout:g}s"
        click.echo(f"{spec.id} {version} {what}; rolled back.", err=True)
        for failure in deployment["failures"]:
            click.echo(f"  - {failure}", err=True)
        for reason in reasons:
            click.echo(f"  - waiting: {reason}", err=True)
    sys.exit(code)


def main() -> None:
    """The ``deploy`` console script."""
    try:
        deploy.main(prog_name="deploy", standalone_mode=False)
    except ValidationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except HalyardError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


