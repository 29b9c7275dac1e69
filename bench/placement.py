"""Placement figures: throughput and quality of the pure planner (not a timed test).

    python bench/placement.py [--agents 1000] [--tasks 10000] [--repeat 3] [--json]

Prints placements/s for binpack, spread, random, UNIQUE and GROUP_BY workloads, the agents
binpack uses against the lower bound (max over resources of total demand / agent capacity) on
mixed workloads, and spread's max-min tasks per agent for each app; then the whole-process wall
time (best of --repeat) of `halyard plan` on a JSON cluster file of --agents agents and of
`halyard --help` (skip them with --no-cli).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from halyard.cluster.agents import AgentInfo, Resources
from halyard.placement import PlacementRequest, Planner
from halyard.spec.app import AppSpec

CAPACITY = Resources(cpus=16, mem=65536, disk=500_000)


def cluster(n: int) -> list[AgentInfo]:
    return [AgentInfo(id=f"agent-{i}", hostname=f"10.0.{i // 250}.{i % 250}",
                      available={"*": CAPACITY}, ports={"*": ((31000, 32999),)}, capacity=CAPACITY,
                      attributes={"rack": f"rack-{i % 40}"}, region="eu", zone=f"zone-{i % 3}")
            for i in range(n)]


def app(i: int, cpus: float, mem: float, instances: int, **extra: Any) -> AppSpec:
    return AppSpec.model_validate({"id": f"/bench/app-{i}", "cmd": "sleep 3600", "cpus": cpus,
                                   "mem": mem, "instances": instances, **extra})


# (cpus, mem MB) shapes: CPU-heavy, memory-heavy and balanced services.
MIXES: dict[str, list[tuple[float, float]]] = {
    "skewed": [(4, 2048), (0.5, 12288), (2, 1024), (0.25, 6144), (1, 4096),
               (3, 3072), (0.5, 8192), (1.5, 512), (0.1, 2048), (2, 16384)],
    "uniform-ish": [(1, 2048), (0.5, 1024), (2, 4096), (1, 1024), (0.25, 512),
                    (1.5, 3072), (0.5, 2048), (1, 4096), (2, 2048), (0.75, 1536)],
}


def workload(kind: str, tasks: int, mix: str = "skewed") -> list[AppSpec]:
    shapes = MIXES[mix]
    per = tasks // len(shapes)
    if kind == "unique":
        return [app(i, 0.5, 1024, per, constraints=[["hostname", "UNIQUE"]]) for i in range(len(shapes))]
    if kind == "group_by":
        return [app(i, 0.5, 1024, per, constraints=[["@zone", "GROUP_BY"]]) for i in range(len(shapes))]
    return [app(i, c, m, per) for i, (c, m) in enumerate(shapes)]


def run(agents: list[AgentInfo], apps: list[AppSpec], strategy: str, repeat: int) -> tuple[float, Any]:
    requests = [PlacementRequest(a.workload(), a.instances, strategy=None) for a in apps]
    planner = Planner(seed=1)
    from halyard.spec.app import StrategyRef

    requests = [PlacementRequest(r.workload, r.count, StrategyRef(name=strategy)) for r in requests]
    best, result = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = planner.plan(agents, requests)
        best = min(best, time.perf_counter() - t0)
    placed = len(result.placements)
    return placed / best, result


def lower_bound(apps: list[AppSpec]) -> int:
    cpus = sum(a.cpus * a.instances for a in apps) / CAPACITY.cpus
    mem = sum(a.mem * a.instances for a in apps) / CAPACITY.mem
    return math.ceil(max(cpus, mem))


def spread_gap(result: Any, agent_count: int) -> int:
    per_app: dict[str, list[int]] = {}
    index = {f"agent-{i}": i for i in range(agent_count)}
    for p in result.placements:
        per_app.setdefault(p.app_id, [0] * agent_count)[index[p.agent_id]] += 1
    return max(max(c) - min(c) for c in per_app.values())


def cluster_file(n: int) -> dict[str, Any]:
    """A cluster file of ``n`` agents, as ``halyard plan --cluster`` reads it."""
    return {"agents": [{"id": f"agent-{i}", "hostname": f"10.0.{i // 250}.{i % 250}",
                        "resources": {"cpus": 16, "mem": 65536, "disk": 500000, "ports": [[31000, 32999]]},
                        "attributes": {"rack": f"rack-{i % 40}"}, "domain": {"region": "eu", "zone": f"zone-{i % 3}"},
                        "used": {"cpus": 1, "mem": 1024}, "tasks": [{"app": "/other"}]} for i in range(n)]}


def cli_seconds(argv: list[str], repeat: int) -> float:
    """Best wall time of ``halyard ARGV`` as a new process (the interpreter's start included)."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "halyard.cli.main", *argv], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        best = min(best, time.perf_counter() - t0)
    return best


def cli_figures(agents: int, repeat: int) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path, app_path = os.path.join(tmp, "cluster.json"), os.path.join(tmp, "app.yaml")
        with open(path, "w") as f:
            json.dump(cluster_file(agents), f)
        with open(app_path, "w") as f:
            f.write("id: /bench/web\ncmd: sleep 3600\ncpus: 0.5\nmem: 1024\ninstances: 200\n")
        return {f"halyard plan, {agents}-agent JSON cluster file (s, wall)":
                f"{cli_seconds(['plan', app_path, '--cluster', path], repeat):.3f}",
                "halyard --help (s, wall)": f"{cli_seconds(['--help'], repeat):.3f}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-cli", action="store_true", help="skip the halyard plan / --help timings")
    args = ap.parse_args(argv)
    agents = cluster(args.agents)
    figures: dict[str, Any] = {"agents": args.agents, "tasks": args.tasks}
    for label, kind, strategy in [("binpack", "plain", "binpack"), ("spread", "plain", "spread"),
                                  ("random", "plain", "random"), ("unique-hostname", "unique", "binpack"),
                                  ("group-by-zone", "group_by", "spread")]:
        rate, result = run(agents, workload(kind, args.tasks), strategy, args.repeat)
        figures[f"{label} placements/s"] = round(rate)
        figures[f"{label} unplaced"] = sum(u.count for u in result.unplaced)
    for mix in MIXES:
        apps = workload("plain", args.tasks, mix)
        _, result = run(agents, apps, "binpack", 1)
        used = len({p.agent_id for p in result.placements})
        figures[f"binpack agents used / lower bound ({mix})"] = f"{used} / {lower_bound(apps)} = {used / lower_bound(apps):.3f}"
    _, result = run(agents, workload("plain", args.tasks), "spread", 1)
    figures["spread max-min tasks per agent (worst app)"] = spread_gap(result, args.agents)
    if not args.no_cli:
        figures.update(cli_figures(args.agents, args.repeat))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        width = max(map(len, figures))
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
