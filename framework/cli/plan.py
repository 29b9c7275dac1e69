"""``halyard plan``: a dry-run placement of apps on a cluster file, a master state file or a live master."""
from __future__ import annotations

from typing import Any

import click
import pydantic

from ..cluster.agents import AgentInfo, load_cluster
from ..documents.reader import load_document
from ..errors import Problem, ValidationError
from ..placement import Plan, Planner, StrategyRegistry, requests_for
from ..placement.compare import Comparison, parse_names
from ..placement.compare import compare as run_comparison
from ..placement.compare import to_json as comparison_json
from ..spec.app import StrategyRef
from .output import OUTPUT_OPTION, emit_json, table
from .validate import check_strategies, load_in_environment


def read_cluster(cluster: str | None, master: str | None) -> list[AgentInfo]:
    if (cluster is None) == (master is None):
        raise click.UsageError("give exactly one of --cluster FILE or --master URL")
    if master is not None:
        from ..mesos.master import MesosMaster  # requests and the Mesos codec: only for --master

        return load_cluster(MesosMaster(master).state(), master)
    return load_cluster(load_document(cluster), cluster)  # type: ignore[arg-type]  # --cluster: one of the two is given


def render_table(result: Plan, wanted: int) -> str:
    rows = [(p.app_id, p.instance, p.agent_id, p.hostname, p.resources[0], p.resources[1], p.ports)
            for p in result.placements]
    agents = len({p.agent_id for p in result.placements})
    out = [table(["APP", "INSTANCE", "AGENT", "HOSTNAME", "CPUS", "MEM", "PORTS"], rows)] if rows else []
    out.append(f"\nPlaced {len(result.placements)} of {wanted} new instance(s) on {agents} agent(s).")
    for u in result.unplaced:
        out.append(f"\nNot placed: {u.count} instance(s) of {u.app_id}")
        out += [f"  - {reason}" for reason in u.reasons]
    return "\n".join(out)


def compare_strategies(compare: str, strategies_file: str | None,
                       registry: StrategyRegistry) -> list[tuple[str, StrategyRef]]:
    """The ``--compare`` names, each resolved from ``--strategies FILE`` when the file names it
    (``NAME: strategy`` per entry, a strategy as an app's ``strategy`` field takes it), else the
    registered strategy of that name; every one checked as an app's strategy is."""
    named: dict[str, Any] = {}
    if strategies_file is not None:
        document = load_document(strategies_file)
        if not isinstance(document, dict):
            raise ValidationError([Problem("", "expected NAME: strategy entries")], strategies_file)
        named = document
    out, problems = [], []
    for name in parse_names(compare):
        raw = named.get(name, name)
        try:
            ref = StrategyRef.model_validate(StrategyRef.coerce(raw))
        except pydantic.ValidationError:
            problems.append(Problem(name, "expected a strategy name or {name, args}"))
            continue
        try:
            registry.check(ref)
        except ValidationError as exc:
            prefix = f"{name}." if name in named else ""
            problems += [Problem(prefix + p.path, p.message) for p in exc.problems]
            continue
        out.append((name, ref))
    if problems:
        raise ValidationError(problems, strategies_file if named else None)
    return out


def render_comparison(rows: list[Comparison]) -> str:
    return table(["STRATEGY", "PLACED", "UNPLACED", "AGENTS USED", "LOWER BOUND", "MAX-MIN/AGENT",
                  "MAX-MIN/ZONE", "LARGEST FIT (CPUS, MEM)", "SECONDS"],
                 [(c.strategy, c.placed, c.unplaced, c.agents_used, c.lower_bound, c.max_min_per_agent,
                   c.max_min_per_zone, f"{c.largest_fit[0]:g}, {c.largest_fit[1]:g}", f"{c.seconds:.4f}")
                  for c in rows])


@click.command()
@click.argument("apps", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--cluster", type=click.Path(dir_okay=False),
              help="cluster file ({agents: [...]}) or a saved Mesos /master/state document")
@click.option("--master", help="read the live state of this Mesos master (http://HOST:5050)")
@click.option("--env", "env", default=None, help="resolve this environment's overlay in every app")
@click.option("--strategy", default=None, help="use this strategy for every app (overrides the apps' own)")
@click.option("--seed", type=int, default=0, show_default=True, help="seed for random choices")
@click.option("--compare", default=None, metavar="A,B,...",
              help="plan the APPS under each of these strategies on the same state; one row per strategy")
@click.option("--strategies", "strategies_file", type=click.Path(dir_okay=False), default=None,
              help="with --compare: a file of NAME: strategy entries ({name, args}), usable by NAME")
@OUTPUT_OPTION
def plan(apps: tuple[str, ...], cluster: str | None, master: str | None, env: str | None,
         strategy: str | None, seed: int, compare: str | None, strategies_file: str | None,
         output: str) -> None:
    """Dry run: where would the APPS' missing instances go, and why would any not fit?"""
    if compare is not None and strategy is not None:
        raise click.UsageError("give --strategy or --compare, not both")
    if strategies_file is not None and compare is None:
        raise click.UsageError("--strategies goes with --compare")
    registry = StrategyRegistry.discover()
    specs = []
    for path in apps:
        loaded = load_in_environment(path, env)
        check_strategies(loaded, path, registry, dry_run=True)
        specs += loaded
    if strategy:
        registry.check(strategy)
    contenders = compare_strategies(compare, strategies_file, registry) if compare is not None else None
    agents = read_cluster(cluster, master)
    if contenders is not None:
        rows = run_comparison(Planner(registry, seed), agents, requests_for(specs, agents, None), contenders)
        if output == "json":
            emit_json(comparison_json(rows))
        else:
            click.echo(render_comparison(rows))
        return
    reqs = requests_for(specs, agents, strategy)
    result = Planner(registry, seed).plan(agents, reqs)
    if output == "json":
        emit_json(result.to_json())
    else:
        click.echo(render_table(result, sum(r.count for r in reqs)))
