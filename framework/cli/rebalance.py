"""``halyard rebalance [APP...]``: move running instances toward their strategy's goal
(``POST /v1/rebalance``); ``--dry-run`` only prints the moves; ``--wait`` follows the deployments
(naming why a move's instance waits, as :mod:`.progress` does); ``--force`` moves apps whose
deployment is under way too, superseding it."""
from __future__ import annotations

import sys
import time
from typing import Any

import click

from .client import API_OPTION, ApiError, Client
from .locks import locked_error
from .output import OUTPUT_OPTION, emit_json, table
from .progress import WaitingWatch, waiting_note

HEADERS = ["APP", "TASK", "FROM", "TO", "SCORE", "REASON"]


def move_rows(answer: dict[str, Any]) -> list[list[Any]]:
    return [[m["app"], m["task"], m["fromHost"], m["toHost"], f"{m['scoreBefore']:g} -> {m['scoreAfter']:g}",
             m["reason"]] for m in answer["moves"]]


def wait_for(client: Client, ids: list[str], timeout: float, poll: float = 0.5) -> tuple[int, list[dict[str, Any]]]:
    """Follow the deployments until every one ended: (0 all succeeded | 1 one did not | 2 timed out, them).
    A deployment without progress for a while says why its app's instances wait (on stderr)."""
    deadline = time.monotonic() + timeout
    ended: dict[str, dict[str, Any]] = {}
    watches = {deployment_id: WaitingWatch() for deployment_id in ids}
    told: dict[str, str] = {}
    while True:
        for deployment_id in ids:
            if deployment_id in ended:
                continue
            try:
                found = client.get(f"/v2/deployments/{deployment_id}")
                apps = found.get("affectedApps") or []
                reasons = [r for a in apps for r in client.get(f"/v1/apps{a}/placement")["reasons"]]
            except ApiError as exc:
                if not exc.transient:
                    raise
                continue  # a failover: ask again
            if found["status"] != "running":
                ended[deployment_id] = found
                continue
            note = waiting_note(watches[deployment_id].waiting(len(found.get("moves") or ()), reasons))
            if note and note != told.get(deployment_id):
                click.echo(f"deployment {deployment_id} ({', '.join(apps)}): {note}", err=True)
            told[deployment_id] = note
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
@click.option("--force", is_flag=True, help="move apps whose deployment is under way too, superseding it")
@OUTPUT_OPTION
@API_OPTION
def rebalance(apps: tuple[str, ...], dry_run: bool, max_moves: int | None, min_age: float | None, wait: bool,
              timeout: float, force: bool, output: str, api: str) -> None:
    """Move running instances of APPS (default: every app) toward their strategy's goal."""
    client = Client(api)
    body: dict[str, Any] = {"dryRun": dry_run}
    if force:
        body["force"] = True
    if apps:
        body["apps"] = list(apps)
    if max_moves is not None:
        body["maxMoves"] = max_moves
    if min_age is not None:
        body["minAge"] = min_age
    try:
        answer = client.request("POST", "/v1/rebalance", json=body)
    except ApiError as exc:
        raise locked_error(exc, "halyard rebalance") from None
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
            hint = " (--force moves it anyway, superseding it)" if "under way" in s["reason"] else ""
            click.echo(f"skipped {s['app']}: {s['reason']}{hint}")
        for d in answer["deployments"]:
            click.echo(f"{word} {d['app']}: deployment {d['id']}")
        for d in answer.get("ended", []):
            click.echo(f"deployment {d['id']} {d['status']}")
            for line in d["moves"]:
                click.echo(f"  {line}")
        if "result" in answer and code:
            click.echo(f"rebalance {answer['result']}", err=True)
    sys.exit(code)
