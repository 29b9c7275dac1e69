"""``halyard rebalance [APP...]``: move running instances toward their strategy's goal
(``POST /v1/rebalance``); ``--dry-run`` only prints the moves; ``--wait`` follows the deployments."""
from __future__ import annotations

import sys
import time
from typing import Any

import click

from .client import API_OPTION, ApiError, Client
from .output import OUTPUT_OPTION, emit_json, table

HEADERS = ["APP", "TASK", "FROM", "TO", "SCORE", "REASON"]


def move_rows(answer: dict[str, Any]) -> list[list[Any]]:
    return [[m["app"], m["task"], m["fromHost"], m["toHost"], f"{m['scoreBefore']:g} -> {m['scoreAfter']:g}",
             m["reason"]] for m in answer["moves"]]


def wait_for(client: Client, ids: list[str], timeout: float, poll: float = 0.5) -> tuple[int, list[dict[str, Any]]]:
    """Follow the deployments until every one ended: (0 all succeeded | 1 one did not | 2 timed out, them)."""
    deadline = time.monotonic() + timeout
    ended: dict[str, dict[str, Any]] = {}
    while True:
        for deployment_id in ids:
            if deployment_id in ended:
                continue
            try:
                found = client.get(f"/v2/deployments/{deployment_id}")
            except ApiError as exc:
                if not exc.transient:
                    raise
                continue  # a failover: ask again
            if found["status"] != "running":
                ended[deployment_id] = found
        if len(ended) == len(ids):
            result = [ended[i] for i in ids]
            return (0 if all(d["status"] == "succeeded" for d in result) else 1), result
        if time.monotonic() >= deadline:
            return 2, list(ended.values())
        time.sleep(poll)


@click.command()
@click.argument("apps", nargs=-1)
@click.option("--dry-run", is_flag=True, help="print the moves (reason, score before and after); change nothing")
@click.option("--max-moves", type=click.IntRange(min=0), default=None, help="at most this many moves in all")
@click.option("--min-age", type=click.FloatRange(min=0), default=None,
              help="instances younger than this many seconds never move (default 300)")
@click.option("--wait", is_flag=True, help="wait until the rebalance deployments end (exit 1 if one fails)")
@click.option("--timeout", type=click.FloatRange(min=0), default=600.0, show_default=True,
              help="with --wait: give up after this many seconds (exit 2)")
@OUTPUT_OPTION
@API_OPTION
def rebalance(apps: tuple[str, ...], dry_run: bool, max_moves: int | None, min_age: float | None, wait: bool,
              timeout: float, output: str, api: str) -> None:
    """Move running instances of APPS (default: every app) toward their strategy's goal."""
    client = Client(api)
    body: dict[str, Any] = {"dryRun": dry_run}
    if apps:
        body["apps"] = list(apps)
    if max_moves is not None:
        body["maxMoves"] = max_moves
    if min_age is not None:
        body["minAge"] = min_age
    answer = client.request("POST", "/v1/rebalance", json=body)
    code = 0
    if wait and answer["deploymentIds"]:
        code, ended = wait_for(client, answer["deploymentIds"], timeout)
        answer["result"] = {0: "succeeded", 1: "failed", 2: "timed out"}[code]
        answer["ended"] = [{"id": d["id"], "status": d["status"], "moves": d.get("moves", []),
                            "failures": d.get("failures", [])} for d in ended]
    if output == "json":
        emit_json(answer)
    else:
        word = "would move" if dry_run else "moving"
        click.echo(f"{len(answer['moves'])} move(s)" + (" (dry run)" if dry_run else ""))
        if answer["moves"]:
            click.echo(table(HEADERS, move_rows(answer)))
        for s in answer["skipped"]:
            click.echo(f"skipped {s['app']}: {s['reason']}")
        for d in answer["deployments"]:
            click.echo(f"{word} {d['app']}: deployment {d['id']}")
        for d in answer.get("ended", []):
            click.echo(f"deployment {d['id']} {d['status']}")
            for line in d["moves"]:
                click.echo(f"  {line}")
        if "result" in answer and code:
            click.echo(f"rebalance {answer['result']}", err=True)
    sys.exit(code)
