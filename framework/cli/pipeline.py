"""What ``deploy``, ``promote`` and ``rollback`` share: the environments of a services directory,
the app a service becomes in one of them, the promotion rule, and shipping one release (``POST
/v1/releases`` to the environment's Halyard, then following its deployment to the end).

Exit codes: 0 succeeded; 1 failed (rolled back); 2 timed out (rolled back); 3 bad input (or an
image tag the registry does not know); 4 refused by a promotion rule.
"""
from __future__ import annotations

import functools
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import HalyardError, Problem, ValidationError
from ..releases.environments import Environment, environments_for, in_environment
from ..releases.images import short_digest
from ..releases.images import with_version as image_with_version
from ..releases.records import PromotionRefusedError, Release, check_promotion
from ..spec.app import AppSpec
from ..spec.validation import load_apps
from ..timestamps import parse_iso
from .client import ApiError, Client
from .locks import locked_error
from .output import emit_json
from .progress import follow

F = TypeVar("F", bound=Callable[..., Any])

#: ``minReadySeconds`` for a service that sets none. 3 s: long enough for a command that exits at
#: once to be seen failing (its TASK_FAILED follows TASK_RUNNING within a second here), short
#: enough not to slow a deployment down much (a health-checked task usually takes longer anyway).
DEFAULT_MIN_READY_SECONDS = 3.0
SERVICES_OPTION = click.option("--services", envvar="HALYARD_SERVICES", default="services", show_default=True,
                               help="directory of SERVICE.yaml definitions and environments.yaml "
                                    "(or set HALYARD_SERVICES)")


def exit_codes(func: F) -> F:
    """Bad input exits 3, a refused promotion 4, with the message on stderr."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PromotionRefusedError as exc:
            click.echo(f"refused: {exc}", err=True)
            sys.exit(4)
        except HalyardError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(3)
    return wrapper  # type: ignore[return-value]  # the same signature as func


def with_min_ready(spec: AppSpec) -> AppSpec:
    """The app with ``minReadySeconds`` set (:data:`DEFAULT_MIN_READY_SECONDS` unless it sets one)."""
    if spec.min_ready_seconds is not None:
        return spec
    return AppSpec.model_validate({**spec.to_json(), "minReadySeconds": DEFAULT_MIN_READY_SECONDS})


def with_version(spec: AppSpec, version: str) -> AppSpec:
    """The app with its artifact set to ``version``: the Docker image's tag (a VERSION that is a
    digest, ``sha256:...``, pins the image to it), ``{version}`` in ``cmd`` and fetch URIs."""
    data = spec.to_json()
    if spec.image is not None:
        data["container"]["docker"]["image"] = image_with_version(spec.image, version)
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


def release_from_api(data: dict[str, Any]) -> Release:
    """A release as ``/v1/releases`` shows it -> :class:`Release` (for the pure rules)."""
    return Release(id=data["id"], service=data["service"], environment=data["environment"], version=data["version"],
                   app_id=data["appId"], deployment_id=data["deploymentId"], at=parse_iso(data["at"]),
                   who=data["who"], image=data.get("image"), digest=data.get("digest"),
                   pinned=bool(data.get("pinned")), fetch=tuple(data.get("fetch") or ()),
                   app_version=data.get("appVersion"), result=data["result"],
                   failures=tuple(data.get("failures") or ()), forced=bool(data.get("forced")),
                   promoted_from=data.get("promotedFrom"), rollback=bool(data.get("rollback")),
                   resolve_seconds=data.get("resolveSeconds"))


def post_release(client: Client, body: dict[str, Any], timeout: float, poll: float = 1.0) -> Any:
    """``POST /v1/releases``, asked again while no leader answers (a failover): the release's id makes
    a retry find what the first attempt recorded instead of recording it twice."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.request("POST", "/v1/releases", json=body)
        except ApiError as exc:
            if not exc.transient or time.monotonic() >= deadline:
                raise
            click.echo(f"no leader answers ({exc}); asking again", err=True)
            time.sleep(poll)


class Pipeline:
    """The environments of one services directory, and the Halyard each one is deployed through."""

    def __init__(self, services: str, api: str):
        self.services, self.api = services, api
        self.environments = environments_for(services)

    def env(self, name: str) -> Environment:
        return self.environments.get(name)

    def client(self, env: Environment) -> Client:
        token = os.environ.get(env.token_env) if env.token_env else None
        if env.token_env and token is None:
            raise ValidationError([Problem(f"environments.{env.name}.tokenEnv",
                                           f"${env.token_env} is not set (the bearer token for {env.name})")])
        return Client(env.api or self.api, token=token)

    def spec(self, service: str, version: str, env: Environment) -> AppSpec:
        """The app ``service`` becomes in ``env`` at ``version``."""
        path = service_file(self.services, service)
        specs = load_apps(path, env.name, self.environments.known())
        if len(specs) != 1:
            raise ValidationError([Problem("apps", f"{path} must hold one app, holds {len(specs)}")], str(path))
        spec = in_environment(with_min_ready(with_version(specs[0], version)), env)
        # Named in the tasks' DiscoveryInfo (``environment``), as HALYARD_VERSION names the version.
        data = spec.to_json()
        data.setdefault("labels", {})["HALYARD_ENVIRONMENT"] = env.name
        return AppSpec.model_validate(data)

    def history(self, service: str, env: Environment) -> list[Release]:
        """The releases of ``service`` in ``env`` (oldest first), from the environment's Halyard."""
        body = self.client(env).get(f"/v1/releases/{service}/{env.name}")
        return [release_from_api(r) for r in reversed(body["releases"])]

    def promotion(self, service: str, version: str, env: Environment, force: bool) -> tuple[Release | None, bool]:
        """(the release in ``env.promoteFrom`` that allows ``version`` here, forced?). Without a
        promotion rule: (None, False). Refused: PromotionRefusedError, unless ``force``."""
        if env.promote_from is None:
            return None, False
        source = self.env(env.promote_from)
        try:
            return check_promotion(version, source.name, self.history(service, source)), False
        except PromotionRefusedError as exc:
            if not force:
                raise
            click.echo(f"warning: {exc}; deploying anyway (--force), and the release records it", err=True)
            return None, True

    def ship(self, service: str, version: str, env: Environment, *, digest: str | None = None,
             force: bool = False, forced: bool = False, promoted_from: str | None = None,
             rollback: bool = False, timeout: float = 120.0, output: str = "table", command: str = "deploy") -> int:
        """Release ``version`` of ``service`` to ``env`` and follow it to its end; the exit code.
        Refused because a deployment holds the app: which one, and ``command``'s ``--force``."""
        spec = self.spec(service, version, env)
        client = self.client(env)
        body = {"id": str(uuid.uuid4()), "service": service, "environment": env.name, "version": version,
                "app": spec.to_json(), "digest": digest, "force": force, "forced": forced,
                "promotedFrom": promoted_from, "rollback": rollback}
        try:
            answer = post_release(client, body, timeout)
        except ApiError as exc:
            raise locked_error(exc, command, spec.id) from None
        release, deployment_id = answer["release"], answer["deploymentId"]
        what = f"{spec.id} {version}" + (f" ({short_digest(release['digest'])})" if release["digest"] else "")
        click.echo(f"deploying {what} to {env.name}: {spec.instances} instance(s) (deployment {deployment_id})",
                   err=True)
        code, deployment, reasons = follow(client, spec.id, deployment_id, spec.instances, bool(spec.health_checks),
                                           timeout)
        app = client.app(spec.id)
        if output == "json":
            emit_json({"status": ["succeeded", "failed", "timed out"][code], "release": release,
                       "deployment": deployment, "app": app, "waitingFor": reasons})
        elif code == 0:
            endpoints = [f"{t['host']}:{t['ports'][0]}" if t["ports"] else t["host"] for t in (app or {}).get("tasks", [])]
            click.echo(f"{spec.id} {version} is running in {env.name}: {' '.join(endpoints)}")
            if release["image"]:
                click.echo(f"image {release['image']}" + ("" if release["pinned"] else " (not pinned: pinDigest false)"))
        else:
            what = "failed" if code == 1 else f"did not finish within {timeout:g}s"
            click.echo(f"{spec.id} {version} {what}; rolled back.", err=True)
            for failure in deployment["failures"]:
                click.echo(f"  - {failure}", err=True)
            for reason in reasons:
                click.echo(f"  - waiting: {reason}", err=True)
        return code
