"""``halyard job ...``: define and run jobs, follow them, read their output, kill them."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
import yaml

from ..spec.validation import load_job
from .client import API_OPTION, ApiError, Client
from .output import OUTPUT_OPTION, emit_json, table
from .validate import check_strategies

ENDED = ("FINISHED", "FAILED", "KILLED")
TAIL_LINES = 20
HALYARD = "halyard"   # ?embed=halyard: Halyard's own view of jobs and runs, beside Metronome's shapes


def own(answer: Any) -> Any:
    """Halyard's view (``halyard``) of a job or run, or of each in a list."""
    return [item["halyard"] for item in answer] if isinstance(answer, list) else answer["halyard"]


def exit_status(run: dict) -> int:
    """What ``job run --wait`` exits with: the job's exit code; 128+signal when a signal ended it;
    1 when it failed without either (lost, timed out before starting)."""
    if run["status"] == "FINISHED":
        return 0
    if run.get("exitCode") is not None:
        return int(run["exitCode"]) or 1
    if run.get("signal"):
        return 128 + int(run["signal"])
    return 137 if run["status"] == "KILLED" else 1


@click.group()
def job() -> None:
    """Short-lived jobs: validate, run, list, show, kill, logs, delete."""


@job.command()
@click.argument("file_or_id")
@click.option("--env", "environment", default=None, help="environment overlay to apply")
@click.option("--wait", is_flag=True, help="follow the run; print its output tail; exit with its exit code")
@click.option("--timeout", type=float, default=None, help="with --wait: stop waiting after this many seconds (exit 124)")
@API_OPTION
def run(file_or_id: str, environment: str | None, wait: bool, timeout: float | None, api: str) -> None:
    """Define the job in FILE (YAML or JSON) and run it now; or run the defined job FILE_OR_ID."""
    client = Client(api)
    if Path(file_or_id).exists():
        spec = load_job(file_or_id, environment)
        client.request("POST", "/v1/jobs", json=spec.to_json())
        job_id = spec.id
    elif environment is not None:
        raise click.UsageError(f"--env needs a job file; {file_or_id!r} is not a file")
    else:
        job_id = file_or_id
    started = own(client.request("POST", f"/v1/jobs/{job_id}/runs", embed=HALYARD))
    click.echo(f"run {started['id']} of job {job_id}: {started['status']}", err=True)
    if not wait:
        click.echo(started["id"])
        return
    ended = follow(client, job_id, started["id"], timeout)
    if ended is None:
        click.echo(f"still {own(client.get(f'/v1/jobs/{job_id}/runs/' + started['id'], embed=HALYARD))['status']} after "
                   f"{timeout:g}s; "
                   f"it keeps running (halyard job kill {job_id} {started['id']})", err=True)
        sys.exit(124)
    print_tail(client, job_id, ended)
    click.echo(f"run {ended['id']}: {ended['status']}" + (f" ({ended['message']})" if ended.get("message") else ""),
               err=True)
    sys.exit(exit_status(ended))


def follow(client: Client, job_id: str, run_id: str, timeout: float | None) -> dict | None:
    """Print each status change until the run ends; None if ``timeout`` passes first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    shown = 0
    while True:
        current = own(client.get(f"/v1/jobs/{job_id}/runs/{run_id}", embed=HALYARD))
        for entry in current["history"][shown:]:
            click.echo(f"  {entry['timestamp']} {entry['status']:<9} attempt {entry['attempt']}"
                       + (f"  {entry['message']}" if entry["message"] else ""), err=True)
        shown = len(current["history"])
        if current["status"] in ENDED:
            return current
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.25)


def print_tail(client: Client, job_id: str, run: dict, lines: int = TAIL_LINES) -> None:
    if run.get("taskId") is None:
        return
    for name in ("stdout", "stderr"):
        try:
            text = client.request("GET", f"/v1/jobs/{job_id}/runs/{run['id']}/{name}", raw=True, lines=lines)
        except ApiError as exc:
            click.echo(f"({name} unavailable: {exc})", err=True)
            continue
        if text:
            click.echo(f"--- {name} (last {lines} lines) ---", err=True)
            click.echo(text, nl=not text.endswith("\n"), file=sys.stdout if name == "stdout" else sys.stderr)


@job.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--env", "environment", default=None, help="resolve this environment's overlay")
@click.option("--output", "-o", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def validate_job(file: str, environment: str | None, output: str) -> None:
    """Check a job definition file; print the resolved job, or list every problem with its path."""
    spec = load_job(file, environment)
    check_strategies([spec], file)
    if output == "json":
        emit_json(spec.public_json())
    else:
        click.echo(yaml.safe_dump(spec.public_json(), sort_keys=False).rstrip())


@job.command("list")
@API_OPTION
@OUTPUT_OPTION
def list_jobs(api: str, output: str) -> None:
    """Every job: schedule, next run, active runs, last run."""
    data = own(Client(api).get("/v1/jobs", embed=HALYARD))
    if output == "json":
        emit_json(data)
        return
    rows = [(j["id"], (j["definition"].get("schedule") or {}).get("cron", "-"), j["nextRunAt"] or "-",
             len(j["activeRuns"]), _last(j["lastRun"])) for j in data]
    click.echo(table(["ID", "SCHEDULE", "NEXT RUN", "ACTIVE", "LAST RUN"], rows))


def _last(last: dict | None) -> str:
    if not last:
        return "-"
    return f"{last['id']} {last['status']}" + (f" ({last['exitCode']})" if last.get("exitCode") is not None else "")


@job.command()
@click.argument("job_id")
@click.argument("run_id", required=False)
@API_OPTION
@OUTPUT_OPTION
def show(job_id: str, run_id: str | None, api: str, output: str) -> None:
    """A job and its runs; or, with RUN_ID, one run and its history."""
    client = Client(api)
    if run_id:
        data: Any = own(client.get(f"/v1/jobs/{job_id}/runs/{run_id}", embed=HALYARD))
        if output == "json":
            emit_json(data)
            return
        click.echo(f"run {data['id']} of {job_id}: {data['status']}, attempt {data['attempt']}, exit code "
                   f"{data['exitCode'] if data['exitCode'] is not None else '-'}" + (f": {data['message']}" if data["message"] else ""))
        click.echo(table(["TIME", "STATUS", "ATTEMPT", "TASK", "MESSAGE"],
                         [(h["timestamp"], h["status"], h["attempt"], h["taskId"] or "-", h["message"])
                          for h in data["history"]]))
        for reason in data.get("waiting", []):
            click.echo(f"  waiting: {reason}")
        return
    data = {"job": own(client.get(f"/v1/jobs/{job_id}", embed=HALYARD)),
            "runs": own(client.get(f"/v1/jobs/{job_id}/runs", embed=HALYARD))}
    if output == "json":
        emit_json(data)
        return
    definition = data["job"]["definition"]
    what = definition.get("cmd") or " ".join([definition.get("container", {}).get("docker", {}).get("image", "")]
                                             + definition.get("args", []))
    click.echo(f"{job_id}: {what}")
    if data["job"]["nextRunAt"]:
        click.echo(f"next run: {data['job']['nextRunAt']} ({definition['schedule']['cron']} "
                   f"{definition['schedule']['timezone']}, {definition['schedule']['concurrencyPolicy']})")
    click.echo(table(["RUN", "STATUS", "EXIT", "ATTEMPT", "CREATED", "FINISHED", "MESSAGE"],
                     [(r["id"], r["status"], r["exitCode"] if r["exitCode"] is not None else "-", r["attempt"],
                       r["createdAt"], r["finishedAt"] or "-", r["message"][:60]) for r in data["runs"]]))


@job.command()
@click.argument("job_id")
@click.argument("run_id")
@API_OPTION
def kill(job_id: str, run_id: str, api: str) -> None:
    """Kill a run (its task gets SIGTERM, then SIGKILL after the grace period)."""
    data = own(Client(api).request("DELETE", f"/v1/jobs/{job_id}/runs/{run_id}", embed=HALYARD))
    click.echo(f"run {run_id}: {data['status']}" + (" (killing)" if data["status"] not in ENDED else ""))


@job.command()
@click.argument("job_id")
@click.argument("run_id")
@click.option("--stderr", "stream", flag_value="stderr", help="standard error instead of standard output")
@click.option("--stdout", "stream", flag_value="stdout", default=True, help="standard output (the default)")
@click.option("--lines", type=int, default=None, help="only the last N lines")
@API_OPTION
def logs(job_id: str, run_id: str, stream: str, lines: int | None, api: str) -> None:
    """The tail of a run's output, from its sandbox."""
    params: dict[str, Any] = {"lines": lines} if lines is not None else {}
    text = Client(api).request("GET", f"/v1/jobs/{job_id}/runs/{run_id}/{stream}", raw=True, **params)
    click.echo(text, nl=not text.endswith("\n") and bool(text))


@job.command()
@click.argument("job_id")
@click.option("--stop-runs", is_flag=True, help="kill the job's active runs (else a job with active runs stays)")
@API_OPTION
def delete(job_id: str, stop_runs: bool, api: str) -> None:
    """Remove a job and its run history."""
    Client(api).request("DELETE", f"/v1/jobs/{job_id}", stopCurrentJobRuns=str(stop_runs).lower())
    click.echo(f"job {job_id} deleted")
