"""``deploy SERVICE VERSION ENVIRONMENT``: one artifact, a topology per environment, one command.

Reads ``SERVICE.yaml`` from ``--services`` (default ``./services``, or ``HALYARD_SERVICES``), and
``environments.yaml`` next to it (namespace, api, tokenEnv, promoteFrom, pinDigest: see
``environments.py``); sets the Docker image's tag to VERSION (a VERSION ``sha256:...`` pins the
image to that digest; command apps: ``{version}`` in ``cmd`` and fetch URIs is replaced), applies
the ENVIRONMENT overlay and namespace, and releases it (``POST /v1/releases``): the scheduler pins
the tag to its digest, records the release and starts the deployment, which ``deploy`` follows to
its end. With ``promoteFrom``, VERSION must have a successful release there, and exactly the
digest that ran there is deployed; ``--force`` overrides the rule (the release records it).

A service that sets no ``minReadySeconds`` gets :data:`DEFAULT_MIN_READY_SECONDS`: a new task
counts only after running that long, so a command that exits at once (a crash loop) fails the
deployment instead of passing through TASK_RUNNING.
Exit 0 on success; 1 when the deployment fails (it is rolled back; the tasks' failure messages are
quoted); 2 when it is not done within ``--timeout`` (it is then rolled back too); 3 on bad input
(an unknown tag included: nothing changes); 4 when a promotion rule refuses it.
"""
from __future__ import annotations

import sys

import click

from .client import API_OPTION
from .pipeline import DEFAULT_MIN_READY_SECONDS, SERVICES_OPTION, Pipeline, exit_codes, service_file, with_min_ready, with_version  # noqa: F401


@click.command()
@click.argument("service")
@click.argument("version")
@click.argument("environment")
@SERVICES_OPTION
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="seconds before an unfinished deployment is rolled back and deploy fails")
@click.option("--force", is_flag=True,
              help="override the promotion rule (recorded in the release) and supersede a deployment under way")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@API_OPTION
@exit_codes
def deploy(service: str, version: str, environment: str, services: str, timeout: float, force: bool,
           output: str, api: str) -> None:
    """Deploy VERSION of SERVICE to ENVIRONMENT and wait until it runs (or fails, and rolls back)."""
    pipeline = Pipeline(services, api)
    env = pipeline.env(environment)
    pipeline.spec(service, version, env)  # bad input is refused before anything is asked
    source, forced = pipeline.promotion(service, version, env, force)
    sys.exit(pipeline.ship(service, version, env, digest=source.digest if source else None, force=force,
                           forced=forced, promoted_from=env.promote_from if source else None, timeout=timeout,
                           output=output))


def main() -> None:
    """The ``deploy`` console script."""
    try:
        deploy.main(prog_name="deploy", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
