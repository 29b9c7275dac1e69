"""``halyard plan``: a dry-run placement of apps on a cluster file, a master state file or a live master."""
from __future__ import annotations

from typing import Optional

import click

from ..cluster import AgentInfo, load_cluster
from ..placement import Plan, Planner, StrategyRegistry, requests_for
from ..validation import load_apps, load_document
from .output import OUTPUT_OPTION, emit_json, table
from .validate import check_strategies, in_environments


def read_cluster(cluster: Optional[str], master: Optional[str]) -> list[AgentInfo]:
    if (cluster is None) == (master is None):
        raise click.UsageError("give exactly one of --cluster FILE or --master URL")
    if master is not None:
        from ..mesos.master import MesosMaster  # requests and the Mesos codec: only for --master

        return load_cluster(MesosMaster(master).state(), master)
    return load_cluster(load_document(cluster), cluster)  # type: ignore[arg-type]


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


@click.command()
@click.argument("apps", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--cluster", type=click.Path(dir_okay=False),
              help="cluster file ({agents: [...]}) or a saved Mesos /master/state document")
@click.option("--master", help="read the live state of this Mesos master (http://HOST:5050)")
@click.option("--env", "env", default=None, help="resolve this environment's overlay in every app")
@click.option("--strategy", default=None, help="use this strategy for every app (overrides the apps' own)")
@click.option("--seed", type=int, default=0, show_default=True, help="seed for random choices")
@OUTPUT_OPTION
def plan(apps: tuple[str, ...], cluster: Optional[str], master: Optional[str], env: Optional[str],
         strategy: Optional[str], seed: int, output: str) -> None:
    """Dry run: where would the APPS' missing instances go, and why would any not fit?"""
    registry = StrategyRegistry.discover()
    specs = []
    for path in apps:
        loaded = in_environments(load_apps(path, env), path, env)
        check_strategies(loaded, path, registry, dry_run=True)
        specs += loaded
    if strategy:
        registry.check(strategy)
    agents = read_cluster(cluster, master)
    reqs = requests_for(specs, agents, strategy)
    result = Planner(registry, seed).plan(agents, reqs)
    if output == "json":
        emit_json(result.to_json())
    else:
        click.echo(render_table(result, sum(r.count for r in reqs)))
