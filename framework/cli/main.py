"""Entry point of the ``halyard`` command."""
from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from .. import __version__
from ..errors import HalyardError, ValidationError

#: Each command: the module (under ``halyard.cli``) and attribute that define it, and the one-line
#: summary ``halyard --help`` shows (a unit test keeps it equal to the command's own). A command's
#: module is imported only when that command runs, so ``--help`` loads neither pydantic nor requests.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "agents": ("agents", "agents", "The cluster's agents: state, resources and Halyard's tasks; drain and reactivate them."),
    "apps": ("apps", "apps", "List, inspect and change apps."),
    "deploy": ("deploy", "deploy",
               "Deploy VERSION of SERVICE to ENVIRONMENT and wait until it runs (or fails, and rolls back)."),
    "deployments": ("apps", "deployments", "Deployments under way."),
    "endpoints": ("endpoints", "endpoints",
                  "What service discovery announces of APP_ID, and why each other task is not announced."),
    "events": ("apps", "events",
               "Follow the event stream (Ctrl-C stops): one line per event, or JSON lines with -o json."),
    "job": ("job", "job", "Short-lived jobs: validate, run, list, show, kill, logs, delete."),
    "lb": ("lb", "lb", "Run HAProxy in front of the apps of --group, reloaded gracefully as their members change."),
    "plan": ("plan", "plan", "Dry run: where would the APPS' missing instances go, and why would any not fit?"),
    "rebalance": ("rebalance", "rebalance", "Move running instances of APPS (default: every app) toward their "
                                            "strategy's goal."),
    "promote": ("releases", "promote", "Deploy to TO exactly what runs in FROM now (its version and digest)."),
    "releases": ("releases", "releases",
                 "The releases of SERVICE (in ENVIRONMENT, or in every environment), newest first."),
    "rollback": ("releases", "rollback", "Return SERVICE in ENVIRONMENT to its previous successful release "
                                         "(or VERSION's), with its recorded digest."),
    "scheduler": ("scheduler", "scheduler",
                  "Run a Halyard scheduler: one of several may run against the same ZooKeeper; one leads."),
    "validate": ("validate", "validate",
                 "Check an app definition file; exit 0 and print the resolved app(s), or list every problem."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used; its help lists them from :data:`COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attr, _ = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(f"{__package__}.{module}"), attr), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in COMMANDS and name not in self.commands:
                rows.append((name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit)))
            else:
                command = self.commands[name]
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="halyard")
def cli() -> None:
    """Halyard: long-running apps and short-lived jobs on Apache Mesos."""


def main(argv: Sequence[str] | None = None) -> int:
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
