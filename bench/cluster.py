"""Local cluster figures: `minimesos/up` time, daemon memory, Docker task ACCEPT -> TASK_RUNNING.

    .venv/bin/python bench/cluster.py [--launches 5]

Stops a running cluster from minimesos/.run first (`down`), then times a warm `up` (everything
installed), reads each daemon's RSS and PSS, and launches Docker tasks through a bare v1 scheduler.
Leaves the cluster running. The cold figure (first install) is the time of the very first `up` on
a machine; it is printed by `up` itself (`up in N s`).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.v1client import TERMINAL, V1Scheduler  # noqa: E402

RUN = ROOT / "minimesos" / ".run"


def memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in MB."""
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS"))
    pss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
               if line.startswith("Pss:"))
    return rss // 1024, pss // 1024


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--launches", type=int, default=5)
    args = ap.parse_args()
    subprocess.run([str(ROOT / "minimesos" / "down")], check=True, capture_output=True)
    t0 = time.monotonic()
    subprocess.run([str(ROOT / "minimesos" / "up")], check=True, capture_output=True)
    print(f"minimesos/up warm (installed, stopped): {time.monotonic() - t0:.2f}s")
    for pidfile in sorted((RUN / "pids").glob("*.pid")):
        pid = json.loads(pidfile.read_text())["pid"]
        rss, pss = memory(pid)
        line = f"{pidfile.stem:<10} RSS {rss:>4} MB  PSS {pss:>4} MB"
        if pidfile.stem == "dockerd":
            for child in children(pid):
                c_rss, c_pss = memory(child)
                line += f"  (+ containerd RSS {c_rss} MB, PSS {c_pss} MB)"
        print(line)
    env = dict(line.split("=", 1) for line in (RUN / "cluster.env").read_text().splitlines())
    s = V1Scheduler(env["MESOS_MASTER"], name="bench")
    latencies = []
    try:
        for _ in range(args.launches):
            offer = s.offer_from()
            t0 = time.monotonic()
            task = s.launch(offer, "sleep 30", image="local/busybox:1")
            s.wait_state(task, {"TASK_RUNNING"})
            latencies.append(time.monotonic() - t0)
            s.kill(task, offer["agent_id"])
            s.wait_state(task, TERMINAL)
    finally:
        s.teardown()
    print(f"Docker task ACCEPT -> TASK_RUNNING: median {statistics.median(latencies):.2f}s, "
          f"min {min(latencies):.2f}s, max {max(latencies):.2f}s over {len(latencies)} launches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
