"""``halyard releases SERVICE [ENV]``, ``halyard promote SERVICE FROM TO`` and ``halyard rollback
SERVICE ENV [--to VERSION]``: which version ran where, and moving it along (see ``pipeline.py``)."""
from __future__ import annotations

import sys

import click

from ..releases.images import short_digest
from ..releases.records import NothingToRollBackError, current, rollback_target
from ..timestamps import iso
from .client import API_OPTION, Client
from .output import OUTPUT_OPTION, emit_json, table
from .pipeline import SERVICES_OPTION, Pipeline, exit_codes, release_from_api

HEADERS = ["VERSION", "DIGEST", "ENVIRONMENT", "WHEN", "RESULT", "CURRENT", "WHO", "NOTE"]


@click.command()
@click.argument("service")
@click.argument("environment", required=False)
@SERVICES_OPTION
@OUTPUT_OPTION
@API_OPTION
@exit_codes
def releases(service: str, environment: str | None, services: str, output: str, api: str) -> None:
    """The releases of SERVICE (in ENVIRONMENT, or in every environment), newest first."""
    pipeline = Pipeline(services, api)
    if environment is not None:
        envs = [pipeline.env(environment)]
    elif pipeline.environments.path is not None:
        envs = list(pipeline.environments.by_name.values())
    else:
        envs = []
    rows, docs = [], []
    if envs:
        histories = [(e.name, pipeline.history(service, e)) for e in envs]
    else:  # no environments.yaml: whatever --api holds
        found = Client(api).get("/v1/releases", service=service)["releases"]
        by_env: dict[str, list] = {}
        for r in reversed(found):
            by_env.setdefault(r["environment"], []).append(release_from_api(r))
        histories = sorted(by_env.items())
    for name, history in histories:
        now = current(history)
        for r in reversed(history):
            note = ", ".join(n for n in ("forced" if r.forced else "", f"from {r.promoted_from}" if r.promoted_from else "",
                                         "rollback" if r.rollback else "", "" if r.pinned or not r.image else "unpinned")
                             if n)
            rows.append((r.version, short_digest(r.digest), name, iso(r.at), r.result,
                         "*" if now is not None and r.id == now.id else "", r.who, note or None))
            docs.append({**r.to_json(), "current": now is not None and r.id == now.id})
    if output == "json":
        emit_json({"releases": docs})
    elif rows:
        click.echo(table(HEADERS, rows))
    else:
        click.echo(f"no releases of {service}" + (f" in {environment}" if environment else ""))


@click.command()
@click.argument("service")
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="TO")
@SERVICES_OPTION
@click.option("--timeout", type=float, default=120.0, show_default=True)
@click.option("--force", is_flag=True, help="override TO's promotion rule (recorded in the release) and supersede "
                                            "a deployment under way")
@OUTPUT_OPTION
@API_OPTION
@exit_codes
def promote(service: str, source: str, target: str, services: str, timeout: float, force: bool, output: str,
            api: str) -> None:
    """Deploy to TO exactly what runs in FROM now (its version and digest)."""
    pipeline = Pipeline(services, api)
    src, dst = pipeline.env(source), pipeline.env(target)
    now = current(pipeline.history(service, src))
    if now is None:
        click.echo(f"error: nothing runs in {source}: no successful release of {service} there", err=True)
        sys.exit(3)
    forced = False
    if dst.promote_from is not None and dst.promote_from != src.name:
        _, forced = pipeline.promotion(service, now.version, dst, force)
    sys.exit(pipeline.ship(service, now.version, dst, digest=now.digest, force=force, forced=forced,
                           promoted_from=src.name, timeout=timeout, output=output, command="halyard promote"))


@click.command()
@click.argument("service")
@click.argument("environment")
@click.option("--to", "version", default=None, help="the version to return to (default: the previous successful one)")
@SERVICES_OPTION
@click.option("--timeout", type=float, default=120.0, show_default=True)
@OUTPUT_OPTION
@API_OPTION
@exit_codes
def rollback(service: str, environment: str, version: str | None, services: str, timeout: float, output: str,
             api: str) -> None:
    """Return SERVICE in ENVIRONMENT to its previous successful release (or VERSION's), with its recorded digest."""
    pipeline = Pipeline(services, api)
    env = pipeline.env(environment)
    try:
        target = rollback_target(pipeline.history(service, env), version)
    except NothingToRollBackError as exc:
        click.echo(f"error: {service} in {environment}: {exc}", err=True)
        sys.exit(3)
    sys.exit(pipeline.ship(service, target.version, env, digest=target.digest, force=True, rollback=True,
                           timeout=timeout, output=output))
