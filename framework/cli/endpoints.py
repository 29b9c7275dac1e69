"""``halyard endpoints APP``: what service discovery announces of an app, and why each other task
is not announced; with ``--watch`` it follows the event stream and prints each change."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import click
import requests

from .client import API_OPTION, Client
from .output import OUTPUT_OPTION, emit_json, table

HEADERS = ["TASK", "HOST", "PORTS", "SHARD", "ANNOUNCED", "WHY NOT"]


def _rows(answer: dict[str, Any]) -> list[list[Any]]:
    return [[e["taskId"], e["host"], e["ports"], e["shard"], "yes" if e["announced"] else "no", e["reason"]]
            for e in answer["endpoints"]]


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two answers: ``announced``/``withdrawn`` members, and tasks whose
    reason changed (``waiting``), or that went (``gone``)."""
    old = {e["taskId"]: e for e in before.get("endpoints", [])}
    new = {e["taskId"]: e for e in after.get("endpoints", [])}
    out = []
    for task_id, e in new.items():
        was = old.get(task_id)
        if e["announced"] and not (was and was["announced"]):
            out.append({"change": "announced", **e})
        elif not e["announced"] and was and was["announced"]:
            out.append({"change": "withdrawn", **e})
        elif not e["announced"] and (was is None or was["reason"] != e["reason"]):
            out.append({"change": "waiting", **e})
    out += [{"change": "gone", **e} for task_id, e in old.items() if task_id not in new]
    return out


def _change_line(c: dict[str, Any]) -> str:
    where = f"{c['host']}:{c['ports'][0]}" if c["ports"] else c["host"]
    shard = f" shard {c['shard']}" if c["shard"] is not None else ""
    why = f" ({c['reason']})" if c.get("reason") and c["change"] != "announced" else ""
    return f"{time.strftime('%H:%M:%S')}  {c['change']:<9} {c['taskId']} {where}{shard}{why}"


def _ticks(client: Client, app_id: str) -> Iterator[None]:
    """One tick once attached to /v2/events, then one per event that names the app, and one per
    keep-alive (so a change no event names, such as the end of a drain, shows within seconds)."""
    with client.events(read_timeout=30) as resp:
        yield None  # attached: what changed before is read now
        for line in client.lines(resp):
            if line.startswith(":") or (line.startswith("data:") and f'"{app_id}' in line):
                yield None


@click.command()
@click.argument("app_id")
@click.option("--watch", is_flag=True, help="follow the event stream and print each change (Ctrl-C stops)")
@click.option("--count", type=int, default=None, help="with --watch: stop after this many changes")
@API_OPTION
@OUTPUT_OPTION
def endpoints(app_id: str, watch: bool, count: int | None, api: str, output: str) -> None:
    """What service discovery announces of APP_ID, and why each other task is not announced."""
    client = Client(api)
    app_id = "/" + app_id.strip("/")
    path = f"/v1/apps{app_id}/endpoints"
    answer = client.get(path)
    if output == "json":
        emit_json(answer) if not watch else click.echo(json.dumps(answer))
    else:
        state = "" if answer["discovery"] else " (discovery is off)"
        click.echo(f"{app_id}: {answer['announced']} announced{state}")
        if answer["endpoints"]:
            click.echo(table(HEADERS, _rows(answer)))
    if not watch:
        return
    seen = 0
    while True:
        try:
            for _ in _ticks(client, app_id):
                latest = client.get(path)
                for change in changes(answer, latest):
                    click.echo(json.dumps(change) if output == "json" else _change_line(change))
                    seen += 1
                    if count is not None and seen >= count:
                        return
                answer = latest
        except requests.RequestException:
            time.sleep(1)  # the stream ended (a failover, a read timeout): follow it again
