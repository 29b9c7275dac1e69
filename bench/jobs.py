"""Job figures on the local cluster (minimesos/up first). Not a test: prints numbers.

    .venv/bin/python bench/jobs.py [--runs 20]

For a trivial job (``true``) run through a real scheduler and Halyard's executor, fetched as a
zipapp by the agents: seconds from ``POST /v1/jobs/{id}/runs`` to the run's FINISHED (as the
client sees it, and from QUEUED to TASK_FINISHED in the run's own history), and the executor's
own peak RSS and CPU time (reported by the executor in its terminal update).
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

CLUSTER = read_env(MINIMESOS / ".run" / "cluster.env")
LOGS = Path("/tmp/halyard-bench")
LOGS.mkdir(exist_ok=True)


def seconds(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def describe(values: list[float], unit: str) -> str:
    values = sorted(values)
    return (f"median {statistics.median(values):.3f}{unit}, min {values[0]:.3f}{unit}, "
            f"p90 {values[int(0.9 * (len(values) - 1))]:.3f}{unit}, max {values[-1]:.3f}{unit}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    name = unique("halyard-bench-jobs")
    s = SchedulerProc(CLUSTER, unique("halyard-bench-jobs"), name, LOGS).start()
    try:
        until(s.leading, 30)
        requests.post(s.url + "/v1/jobs", json={"id": "trivial", "cmd": "true", "cpus": 0.05, "mem": 16},
                      timeout=10).raise_for_status()
        client, history, rss, cpu = [], [], [], []
        for _ in range(args.runs):
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
        print(f"trivial job, {args.runs} runs one after another")
        print(f"  submit -> FINISHED seen by the client: {describe(client, 's')}")
        print(f"  QUEUED -> TASK_FINISHED in the run's history: {describe(history, 's')}")
        print(f"  executor peak RSS: {describe(rss, ' MB')}")
        print(f"  executor CPU time: {describe(cpu, 's')}")
        from halyard.mesos.artifact import executor_artifact
        print(f"  executor zipapp served to agents: {len(executor_artifact().data) / 1024:.0f} KiB")
    finally:
        clean_shutdown(CLUSTER, name, [s])


if __name__ == "__main__":
    main()
