"""``halyard validate FILE [--env ENV]``: print the resolved app(s), or every problem with its path."""
from __future__ import annotations

from pathlib import Path

import click
import yaml

from ..errors import Problem, ValidationError
from ..placement import StrategyRegistry
from ..releases.environments import environments_for, in_environment
from ..spec.app import AppSpec
from ..spec.validation import load_apps
from .output import emit_json


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--env", "env", default=None, help="resolve this environment's overlay")
@click.option("--output", "-o", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def validate(file: str, env: str | None, output: str) -> None:
    """Check an app definition file; exit 0 and print the resolved app(s), or list every problem.
    With ``--env``, the app ids are under the environment's namespace (``environments.yaml`` next to FILE)."""
    apps = load_in_environment(file, env)
    check_strategies(apps, file)
    docs = [a.public_json() for a in apps]
    if output == "json":
        emit_json(docs[0] if len(docs) == 1 else {"apps": docs})
    else:
        click.echo(yaml.safe_dump(docs[0] if len(docs) == 1 else {"apps": docs}, sort_keys=False).rstrip())


def load_in_environment(file: str, env: str | None) -> list[AppSpec]:
    """The apps of ``file`` as they run in ``env``, read against the environments.yaml beside it, if
    any (its namespace; an environment it defines without an overlay is the base; an overlay for
    one it does not define is a problem)."""
    environments = environments_for(Path(file).parent)
    apps = load_apps(file, env, environments.known())
    if env is None:
        return apps
    environment = environments.get(env)
    return [in_environment(a, environment) for a in apps]


def check_strategies(apps: list, source: str, registry: StrategyRegistry | None = None,
                     dry_run: bool = False) -> None:
    """Every app's strategy exists and accepts its args (the plugin validates them). A plugin
    that fails to load or start is an error too, except in a ``dry_run`` (``halyard plan``),
    whose plan shows it as the reason the apps using it are not placed."""
    registry = registry or StrategyRegistry.discover()
    check = registry.check if dry_run else registry.create
    problems: list[Problem] = []
    for i, app in enumerate(apps):
        if app.strategy is None:
            continue
        prefix = f"apps[{i}]." if len(apps) > 1 else ""
        try:
            check(app.strategy)
        except ValidationError as exc:
            problems += [Problem(prefix + p.path, p.message) for p in exc.problems]
    if problems:
        raise ValidationError(problems, source)
