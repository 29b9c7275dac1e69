"""Entry point of the ``halyard`` command."""
from __future__ import annotations

import sys
from typing import Optional, Sequence

import click

from .. import __version__
from ..errors import HalyardError, ValidationError
from .apps import apps, deployments, events
from .deploy import deploy
from .endpoints import endpoints
from .job import job
from .lb import lb
from .plan import plan
from .releases import promote, releases, rollback
from .scheduler import scheduler
from .validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="halyard")
def cli() -> None:
    """Halyard: long-running apps and short-lived jobs on Apache Mesos."""


cli.add_command(validate)
cli.add_command(plan)
cli.add_command(scheduler)
cli.add_command(apps)
cli.add_command(deployments)
cli.add_command(events)
cli.add_command(deploy)
cli.add_command(endpoints)
cli.add_command(job)
cli.add_command(releases)
cli.add_command(promote)
cli.add_command(rollback)
cli.add_command(lb)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; Halyard's own errors become a message on stderr and exit status 1."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="halyard", standalone_mode=False)
    except ValidationError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except HalyardError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
