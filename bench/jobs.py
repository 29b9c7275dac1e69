"""Job figures on the local cluster (minimesos/up first). Not a test: prints numbers.

    .venv/bin/python bench/jobs.py [--runs 20] [cluster] [engine]

cluster: for a trivial job (``true``) run through a real scheduler and Halyard's executor, fetched as a
zipapp by the agents: seconds from ``POST /v1/jobs/{id}/runs`` to the run's FINISHED (as the
client sees it, and from QUEUED to TASK_FINISHED in the run's own history), and the executor's
own peak RSS and CPU time (reported by the executor in its terminal update).
engine: the pure engine holding 1,000 scheduled jobs and 20,000 kept runs: milliseconds per clock
tick, per status update and per new run (no cluster needed).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.integration.conftest import MINIMESOS, read_env  # noqa: E402
from tests.integration.harness import SchedulerProc, clean_shutdown, unique  # noqa: E402
from tests.integration.v1client import until  # noqa: E402

LOGS = Path("/tmp/halyard-bench")
LOGS.mkdir(exist_ok=True)


def seconds(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def describe(values: list[float], unit: str) -> str:
    values = sorted(values)
    return (f"median {statistics.median(values):.3f}{unit}, min {values[0]:.3f}{unit}, "
            f"p90 {values[int(0.9 * (len(values) - 1))]:.3f}{unit}, max {values[-1]:.3f}{unit}")


def engine_figures() -> None:
    import itertools

    from halyard.cluster.mesos_types import TaskStatus
    from halyard.engine.app_records import Snapshot
    from halyard.engine.engine import Engine
    from halyard.engine.messages import StartRun, StatusUpdate, Subscribed, Tick
    from halyard.jobs.records import JobRecord, RunRecord
    from halyard.spec.validation import parse_job

    ids = (f"id{i}" for i in itertools.count())
    engine = Engine(new_id=lambda: next(ids))
    jobs, runs = {}, {}
    for j in range(1000):
        spec = parse_job({"id": f"job{j}", "cmd": "x", "schedule": {"cron": "0 3 * * *"}})
        jobs[spec.id] = JobRecord(spec, 1.0, time.time() + 3600)
        for r in range(20):
            runs[f"r{j}-{r}"] = RunRecord(f"r{j}-{r}", spec.id, spec, created_at=r, status="FINISHED")
    t0 = time.perf_counter()
    engine.load(Snapshot(jobs=jobs, runs=runs))
    loaded = time.perf_counter() - t0
    engine.handle(Subscribed("F"))

    def per_call(make) -> float:
        t = time.perf_counter()
        for i in range(200):
            engine.handle(make(i))
        return (time.perf_counter() - t) / 200 * 1000

    tick = per_call(lambda i: Tick())
    update = per_call(lambda i: StatusUpdate(TaskStatus(f"job.x.{i}", "TASK_FINISHED")))
    start = per_call(lambda i: StartRun("job5", f"new{i}"))
    print(f"engine with 1,000 jobs and 20,000 kept runs: load {loaded * 1000:.0f} ms; per tick {tick:.3f} ms, "
          f"per status update {update:.3f} ms, per new run {start:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("parts", nargs="*", help="cluster, engine (default: both)")
    args = parser.parse_args()
    args.parts = args.parts or ["cluster", "engine"]
    unknown = set(args.parts) - {"cluster", "engine"}
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))} (choose from cluster, engine)")
    if "engine" in args.parts:
        engine_figures()
    if "cluster" in args.parts:
        cluster_figures(args.runs)


def cluster_figures(runs: int) -> None:
    cluster = read_env(MINIMESOS / ".run" / "cluster.env")
    name = unique("halyard-bench-jobs")
    s = SchedulerProc(cluster, unique("halyard-bench-jobs"), name, LOGS).start()
    try:
        until(s.leading, 30)
        requests.post(s.url + "/v1/jobs", json={"id": "trivial", "cmd": "true", "cpus": 0.05, "mem": 16},
                      timeout=10).raise_for_status()
        client, history, rss, cpu = [], [], [], []
        for _ in range(runs):
            t0 = time.monotonic()
            run_id = requests.post(s.url + "/v1/jobs/trivial/runs", timeout=10).json()["id"]
            run = until(lambda: (r := requests.get(s.url + f"/v1/jobs/trivial/runs/{run_id}", timeout=10).json())
                        ["status"] in ("FINISHED", "FAILED", "KILLED") and r, 60, interval=0.01)
            client.append(time.monotonic() - t0)
            assert run["status"] == "FINISHED", run
            stamps = {h["status"]: seconds(h["timestamp"]) for h in run["history"]}
            history.append(stamps["FINISHED"] - stamps["QUEUED"])
            rss.append(run["executorUsage"]["maxRssKb"] / 1024)
            cpu.append(run["executorUsage"]["cpuSeconds"])
        print(f"trivial job, {runs} runs one after another")
        print(f"  submit -> FINISHED seen by the client: {describe(client, 's')}")
        print(f"  QUEUED -> TASK_FINISHED in the run's history: {describe(history, 's')}")
        print(f"  executor peak RSS: {describe(rss, ' MB')}")
        print(f"  executor CPU time: {describe(cpu, 's')}")
        from halyard.mesos.artifact import executor_artifact
        print(f"  executor zipapp served to agents: {len(executor_artifact().data) / 1024:.0f} KiB")
    finally:
        clean_shutdown(cluster, name, [s])


if __name__ == "__main__":
    main()
