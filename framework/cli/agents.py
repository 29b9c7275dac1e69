"""``halyard agents``: the cluster's agents as Halyard knows them now (``GET /v1/agents``), and
their drain: ``show HOST``, ``drain HOST [--deadline 10m] [--wait] [--force]``, ``reactivate HOST``."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from .client import API_OPTION, ApiError, Client
from .locks import locked_error
from .output import OUTPUT_OPTION, emit_json, table

HEADERS = ["HOST", "ID", "STATE", "ZONE", "CPUS (TOTAL/HALYARD/OTHERS)", "MEM MB (TOTAL/HALYARD/OTHERS)", "TASKS"]


def _use(agent: dict[str, Any], name: str) -> str:
    r = agent["resources"]
    parts = [(r[k] or {}).get(name) if r[k] is not None else None for k in ("total", "halyard", "others")]
    return "/".join("?" if v is None else f"{v:g}" for v in parts)


def _state(agent: dict[str, Any]) -> str:
    if agent["state"] == "maintenance" and agent.get("maintenance"):
        return f"maintenance (from {agent['maintenance']['start']})"
    return agent["state"] + (f" (since {agent['goneAt']})" if agent.get("goneAt") else "")


def rows(answer: dict[str, Any]) -> list[list[Any]]:
    return [[a["host"], a["id"], _state(a), a.get("zone"), _use(a, "cpus"), _use(a, "mem"), len(a["tasks"])]
            for a in answer["agents"]]


def describe(agent: dict[str, Any]) -> list[str]:
    """One agent, for people."""
    lines = [f"{agent['host']} ({agent['id']}): {_state(agent)}, learned from the {agent['source']}",
             f"  zone {agent.get('zone') or '-'}, region {agent.get('region') or '-'}, attributes "
             + (", ".join(f"{k}={v}" for k, v in sorted(agent["attributes"].items())) or "-"),
             f"  cpus {_use(agent, 'cpus')}, mem {_use(agent, 'mem')} MB (total/halyard/others)"]
    lines += [f"  task {t['id']} ({t['app']}) {t['state']}" for t in agent["tasks"]]
    window = agent.get("maintenance")
    if window:
        lines.append(f"  maintenance window from {window['start']}"
                     + (f" for {window['duration']:g}s" if window.get("duration") is not None else ""))
    drain = agent.get("drain")
    if drain:
        lines.append(f"  drain: {drain['phase']} since {drain['startedAt']}, deadline {drain['deadline']}"
                     + (" (force)" if drain["force"] else "") + (f"; master: {drain['note']}" if drain["note"] else ""))
        lines += [f"    {line}" for line in progress_lines(drain)]
    return lines


def progress_lines(drain: dict[str, Any]) -> list[str]:
    """Each app of a drain: moved, waiting (why) or done."""
    out = []
    for a in drain["apps"]:
        moved = a["initial"] - a["left"]
        if a["status"] == "done":
            out.append(f"{a['app']}: done ({a['initial']} moved)")
        elif a["status"] == "waiting":
            out.append(f"{a['app']}: waiting, {moved}/{a['initial']} moved: " + "; ".join(a["reasons"]))
        else:
            out.append(f"{a['app']}: moving, {moved}/{a['initial']} moved")
    return out


@click.group(invoke_without_command=True)
@OUTPUT_OPTION
@API_OPTION
@click.pass_context
def agents(ctx: click.Context, output: str, api: str) -> None:
    """The cluster's agents: state, resources and Halyard's tasks; drain and reactivate them."""
    if ctx.invoked_subcommand is not None:
        return
    answer = Client(api).get("/v1/agents")
    if output == "json":
        emit_json(answer)
        return
    if not answer["stream"]["up"]:
        click.echo("(the master's operator stream is down: agents as last listed)", err=True)
    click.echo(table(HEADERS, rows(answer)))


@agents.command()
@click.argument("host")
@OUTPUT_OPTION
@API_OPTION
def show(host: str, output: str, api: str) -> None:
    """One agent (HOST: its hostname or id)."""
    _emit(_get(Client(api), host), output)


def _agent_call(host: str, call: Callable[[], Any]) -> Any:
    """``call``'s answer; a 404 for an unknown HOST becomes the CLI's error naming the known hosts."""
    try:
        return call()
    except ApiError as exc:
        if exc.status == 404 and isinstance(exc.body, dict) and exc.body.get("knownHosts") is not None:
            raise click.ClickException(f"no agent {host}; known hosts: {', '.join(exc.body['knownHosts'])}") from None
        raise


def _get(client: Client, host: str) -> dict[str, Any]:
    return _agent_call(host, lambda: client.get(f"/v1/agents/{host}"))


def _emit(agent: dict[str, Any], output: str) -> None:
    if output == "json":
        emit_json(agent)
    else:
        click.echo("\n".join(describe(agent)))


@agents.command()
@click.argument("host")
@click.option("--deadline", default="10m", show_default=True,
              help="how long jobs' tasks there may run before the agent is drained at the master")
@click.option("--wait", is_flag=True, help="follow the drain until the agent is drained (per app: moved, waiting, done)")
@click.option("--force", is_flag=True, help="supersede deployments under way, drain the last agent that could hold "
                                            "an app, and past the deadline drain whatever is left")
@click.option("--timeout", type=click.FloatRange(min=0), default=1800.0, show_default=True,
              help="with --wait: give up after this many seconds (exit 2)")
@OUTPUT_OPTION
@API_OPTION
def drain(host: str, deadline: str, wait: bool, force: bool, timeout: float, output: str, api: str) -> None:
    """Take HOST out of service without an outage: Halyard's apps move elsewhere, then the master drains it."""
    client = Client(api)
    try:
        agent = _agent_call(host, lambda: client.request("POST", f"/v1/agents/{host}/drain",
                                                         json={"deadline": deadline, "force": force}))
    except ApiError as exc:
        raise locked_error(exc, "halyard agents drain") from None
    code = 0
    if wait:
        code, agent = follow(client, host, timeout)
    if output == "json":
        emit_json(agent)
    else:
        click.echo("\n".join(describe(agent)))
        if code:
            click.echo(f"drain of {host}: still {agent['state']} after {timeout:g}s", err=True)
    sys.exit(code)


def follow(client: Client, host: str, timeout: float, poll: float = 1.0) -> tuple[int, dict[str, Any]]:
    """Follow a drain until the agent is drained (0) or ``timeout`` (2); each change of an app's
    progress is printed on stderr."""
    deadline = time.monotonic() + timeout
    told: dict[str, str] = {}
    while True:
        try:
            agent = client.get(f"/v1/agents/{host}")
        except ApiError as exc:
            if not exc.transient:
                raise
            time.sleep(poll)
            continue
        drain = agent.get("drain") or {"apps": [], "phase": agent["state"]}
        for line in progress_lines(drain):
            app = line.split(":", 1)[0]
            if told.get(app) != line:
                click.echo(line, err=True)
                told[app] = line
        if agent["state"] == "drained":
            return 0, agent
        if agent["state"] not in ("draining", "drained"):
            click.echo(f"{host} is {agent['state']}: the drain ended", err=True)
            return 1, agent
        if time.monotonic() >= deadline:
            return 2, agent
        time.sleep(poll)


@agents.command()
@click.argument("host")
@click.option("--start", default=None, help="when the window starts: ISO 8601 (2026-12-08T02:00:00Z)")
@click.option("--duration", default=None, help="how long it lasts (90m, 2h)")
@click.option("--cancel", is_flag=True, help="remove HOST's window")
@OUTPUT_OPTION
@API_OPTION
def maintenance(host: str, start: str | None, duration: str | None, cancel: bool, output: str, api: str) -> None:
    """Post a maintenance window for HOST to the master's schedule (or --cancel it)."""
    client = Client(api)
    if cancel == bool(start or duration) or (not cancel and not (start and duration)):
        raise click.UsageError("give --start and --duration, or --cancel")
    if cancel:
        agent = _agent_call(host, lambda: client.request("DELETE", f"/v1/agents/{host}/maintenance"))
    else:
        agent = _agent_call(host, lambda: client.request("POST", f"/v1/agents/{host}/maintenance",
                                                         json={"start": start, "duration": duration}))
    _emit(agent, output)


@agents.command()
@click.argument("host")
@OUTPUT_OPTION
@API_OPTION
def reactivate(host: str, output: str, api: str) -> None:
    """End HOST's drain or deactivation: it takes tasks again."""
    client = Client(api)
    _emit(_agent_call(host, lambda: client.request("POST", f"/v1/agents/{host}/reactivate")), output)
