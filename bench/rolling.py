"""A 10-instance rolling upgrade with health checks on the local cluster (minimesos/up first).
Not a test: prints figures.

    .venv/bin/python bench/rolling.py [--instances 10]

Prints the time from the config change to the end of the deployment, and from the first offer
that launched a new-config task to that end; and the fewest instances answering a probe (every
200 ms) meanwhile, against instances x minimumHealthCapacity.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.integration.conftest import MINIMESOS, read_env  # noqa: E402
from tests.integration.harness import SchedulerProc, teardown, unique  # noqa: E402
from tests.integration.test_rolling_upgrade import Probe, web_app  # noqa: E402
from tests.integration.v1client import until  # noqa: E402

LOGS = Path("/tmp/halyard-bench")
LOGS.mkdir(exist_ok=True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=10)
    args = ap.parse_args(argv)
    cluster = read_env(MINIMESOS / ".run" / "cluster.env")
    name = unique("halyard-bench-rolling")
    s = SchedulerProc(cluster, unique("halyard-bench-rolling"), name, LOGS).start()
    app_id = "/bench/rolling"
    try:
        until(s.leading, 30)
        app = {**web_app(app_id, 1.0, "v1"), "instances": args.instances}
        assert s.post_app(app).status_code == 201
        until(lambda: requests.get(s.url + "/v2/apps" + app_id, timeout=5).json()["app"]["tasksHealthy"]
              == args.instances and not requests.get(s.url + "/v2/apps" + app_id, timeout=5).json()["app"]["deployments"],
              300, interval=0.2)
        probe = Probe(s.url, app_id)
        probe.start()
        t0 = time.monotonic()
        changed = requests.put(s.url + "/v2/apps" + app_id, json={**app, "cmd": app["cmd"].replace("v1", "v2"),
                                                                 "env": {"APP_VERSION": "v2"}}, timeout=30)
        deployment_id = changed.json()["deploymentId"]
        first_new = None
        while True:
            tasks = requests.get(s.url + "/v2/apps" + app_id + "/tasks", timeout=5).json()["tasks"]
            if first_new is None and any(t["version"] != tasks[0]["version"] for t in tasks):
                first_new = time.monotonic()
            done = requests.get(s.url + f"/v2/deployments/{deployment_id}", timeout=5).json()
            if done["status"] != "running":
                break
            time.sleep(0.1)
        took = time.monotonic() - t0
        probe.stop()
        print(f"rolling upgrade of {args.instances} health-checked instances (minimumHealthCapacity 1, "
              f"maximumOverCapacity 0.34): {done['status']} {took:.1f}s after the change, "
              f"{time.monotonic() - (first_new or t0):.1f}s after the first new task was launched; "
              f"fewest answering the probe: {probe.minimum} of {args.instances}; most tasks at once: {probe.most_tasks}")
        requests.delete(s.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
        until(lambda: requests.get(s.url + "/v2/apps" + app_id, timeout=5).status_code == 404, 300, interval=0.5)
    finally:
        s.stop()
        teardown(cluster, name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
