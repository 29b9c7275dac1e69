"""Service discovery figures on the local cluster (minimesos/up first). Not a test: prints figures.

    .venv/bin/python bench/discovery.py [--instances 3] [--kills 3]

* healthy -> member: from the status update in which Mesos reports a task healthy (its timestamp
  in the master's /master/tasks) to the ServerSet member node's creation (its ZooKeeper ctime);
* kill -> member removed: from sending ``DELETE /v2/apps/{id}/tasks/{task}`` to the member node
  being gone (polled every 5 ms).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402

from tests.integration.conftest import MINIMESOS, read_env  # noqa: E402
from tests.integration.harness import SchedulerProc, clean_shutdown, unique  # noqa: E402
from tests.integration.v1client import until  # noqa: E402

LOGS = Path("/tmp/halyard-bench")
LOGS.mkdir(exist_ok=True)
CHECK = {"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 5, "delaySeconds": 0, "intervalSeconds": 1,
         "timeoutSeconds": 2, "maxConsecutiveFailures": 3}


def member_nodes(zk: KazooClient, directory: str) -> dict[tuple[str, int], float]:
    """(host, port) -> the member node's ctime (seconds)."""
    out = {}
    for name in zk.get_children(directory) if zk.exists(directory) else []:
        try:
            data, stat = zk.get(f"{directory}/{name}")
        except Exception:  # noqa: BLE001 - removed meanwhile
            continue
        body = json.loads(data)
        out[(body["serviceEndpoint"]["host"], body["serviceEndpoint"]["port"])] = stat.ctime / 1000
    return out


def healthy_at(master: str, framework_name: str) -> dict[str, float]:
    """Task id -> timestamp of the first status that reported it healthy."""
    frameworks = requests.get(master + "/master/state", timeout=10).json()["frameworks"]
    out = {}
    for fw in frameworks:
        if fw["name"] != framework_name:
            continue
        for task in fw["tasks"]:
            times = [s["timestamp"] for s in task.get("statuses", []) if s.get("healthy") is True]
            if times:
                out[task["id"]] = min(times)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--kills", type=int, default=3)
    args = ap.parse_args(argv)
    cluster = read_env(MINIMESOS / ".run" / "cluster.env")
    name = unique("halyard-bench-discovery")
    s = SchedulerProc(cluster, unique("halyard-bench-discovery"), name, LOGS).start()
    zk = KazooClient(hosts=cluster["ZK"].removeprefix("zk://"), timeout=10)
    zk.start()
    app_id = "/bench/discovery"
    directory = f"/{s.chroot}/discovery/bench/discovery"
    to_member: list[float] = []
    to_removal: list[float] = []
    seen: set[str] = set()

    def sample() -> None:
        """healthy -> member for the tasks announced since the last sample."""
        nodes = member_nodes(zk, directory)
        health = healthy_at(cluster["MESOS_MASTER"], name)
        for task in requests.get(s.url + "/v2/apps" + app_id + "/tasks", timeout=10).json()["tasks"]:
            key = (task["host"], task["ports"][0])
            if task["id"] not in seen and key in nodes and task["id"] in health:
                seen.add(task["id"])
                to_member.append(nodes[key] - health[task["id"]])

    try:
        until(s.leading, 30)
        app = {"id": app_id, "cmd": "exec python3 -m http.server $PORT0", "cpus": 0.05, "mem": 32,
               "instances": args.instances, "portDefinitions": [{"port": 0, "name": "http"}], "healthChecks": [CHECK]}
        assert s.post_app(app).status_code == 201
        until(lambda: len(member_nodes(zk, directory)) == args.instances, 180, interval=0.1)
        sample()
        for _ in range(args.kills):
            tasks = requests.get(s.url + "/v2/apps" + app_id + "/tasks", timeout=10).json()["tasks"]
            victim = tasks[0]
            key = (victim["host"], victim["ports"][0])
            t0 = time.monotonic()
            requests.delete(s.url + "/v2/apps" + app_id + "/tasks/" + victim["id"], timeout=30).raise_for_status()
            while key in member_nodes(zk, directory):
                time.sleep(0.005)
            to_removal.append(time.monotonic() - t0)
            until(lambda: len(member_nodes(zk, directory)) == args.instances, 180, interval=0.1)
            sample()
    finally:
        clean_shutdown(cluster, name, [s])
        zk.stop()
        zk.close()

    def show(label: str, values: list[float]) -> None:
        ms = [v * 1000 for v in values]
        print(f"{label:<28} n={len(ms):<3} median {statistics.median(ms):7.1f} ms   max {max(ms):7.1f} ms")

    show("healthy -> member node", to_member)
    show("kill -> member removed", to_removal)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
