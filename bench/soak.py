"""Chaos soak: a private 5-agent cluster, N Halyard schedulers, a workload, faults and invariants.

    python bench/soak.py [--minutes 10] [--schedulers 3] [--seed N] [--json] [--ha] [--hosts] [--no-docker]

``--ha``: the production control plane (3 ZooKeeper servers, 3 masters) with its faults in the
draw (leading master kill -9 and SIGSTOP, ZooKeeper follower and leader kills, quorum loss).
Prints a table per fault kind (count, recovery time p50/p99, violations, and Halyard's
re-subscription time after a master failover);

``--hosts``: every master, ZooKeeper server, agent and scheduler on a network host of its own
(``minimesos/up --hosts``, ``host add``/``exec``), with network partitions in the draw (an agent
cut from the masters, the leading scheduler cut from ZooKeeper or from the masters, a ZooKeeper
server isolated, a master isolated), each lasting within or beyond its timeout by the seed (see
bench/soaklib/partitions.py); ``--no-leader-zk-cut`` leaves the leader/ZooKeeper cut out. The table
then also gives what the partitions measured (seconds from the cut to TASK_UNREACHABLE in Halyard,
to the replacement running, to a new leader). The last line is
``soak: N faults, M violations``; exits non-zero on any violation. The parts are in
bench/soaklib/ (see its package docstring).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # soaklib uses the test harness's helpers

from soaklib.runner import main  # noqa: E402


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10, help="how long faults are injected")
    ap.add_argument("--schedulers", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="the result as JSON (the last line stays the summary)")
    ap.add_argument("--agents", type=int, default=5)
    ap.add_argument("--port", type=int, default=15450, help="the private master's port (agents on the next ones)")
    ap.add_argument("--zk-port", type=int, default=12581)
    ap.add_argument("--task-ports", type=int, default=50000)
    ap.add_argument("--work-dir", default=None, help="logs and the cluster's run dir (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the cluster's run dir even without violations")
    ap.add_argument("--ha", action="store_true",
                    help="3 ZooKeeper servers and 3 masters, with their faults in the draw")
    ap.add_argument("--no-docker", action="store_true", help="command apps only, no dockerd")
    ap.add_argument("--hosts", action="store_true",
                    help="every member and scheduler on a network host of its own, with partitions in the draw")
    ap.add_argument("--kinds", default=None, help="only these fault kinds (comma-separated), for a closer look at some")
    ap.add_argument("--no-leader-zk-cut", action="store_true",
                    help="--hosts: leave out the leading scheduler's cut from ZooKeeper (issue 24 rule 2)")
    return ap.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse(sys.argv[1:])))
