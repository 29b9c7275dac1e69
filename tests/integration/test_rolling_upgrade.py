"""Rolling upgrades gated by health, on the real cluster: a probe outside the scheduler counts the
app's instances that answer, every 200 ms, during a whole config change.

The app takes a few seconds to serve after its task reports TASK_RUNNING (as real services do), so
a new task that merely runs does not serve yet: only its passing health check says it does. And it
stops serving as soon as it is asked to stop (SIGTERM), as real services do: the shell traps it (a
container's PID 1 ignores SIGTERM unless it handles it, and would serve on through the kill's grace
period).
"""
from __future__ import annotations

import threading
import time
from typing import Optional

import pytest
import requests

from .harness import unique
from .v1client import until

pytestmark = pytest.mark.integration

PROBE_EVERY = 0.2
WARM_UP = 5  # seconds each instance takes before it serves


def web_app(app_id: str, minimum_health_capacity: float, version: str) -> dict:
    """3 busybox httpd instances on host ports, serving WARM_UP s after they start, HTTP-checked every second."""
    return {"id": app_id, "instances": 3, "cpus": 0.01, "mem": 16, "backoffSeconds": 1,
            "cmd": f"trap 'exit 0' TERM; echo {version} > /tmp/index.html; sleep {WARM_UP} & wait $!; "
                   f"httpd -f -p $PORT0 -h /tmp & wait $!",
            "container": {"type": "DOCKER", "docker": {"image": "local/busybox:1", "network": "HOST"}},
            "env": {"APP_VERSION": version},
            "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 60,
                              "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 3,
                              "delaySeconds": 0}],
            "upgradeStrategy": {"minimumHealthCapacity": minimum_health_capacity, "maximumOverCapacity": 0.34}}


class Probe(threading.Thread):
    """Every 200 ms: the app's tasks from the API, then a GET to each task's host:port; records how
    many answered (the healthy count) and the lowest and highest counts seen."""

    def __init__(self, api: str, app_id: str):
        super().__init__(daemon=True)
        self.api, self.app_id = api, app_id
        self.stopping = threading.Event()
        self.counts: list[tuple[float, int, int]] = []  # (time, answering, tasks listed)
        self.error: Optional[BaseException] = None

    def answering(self, task: dict) -> bool:
        try:
            return requests.get(f"http://{task['host']}:{task['ports'][0]}/", timeout=0.5).ok
        except requests.RequestException:
            return False

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                tasks = requests.get(f"{self.api}/v2/apps{self.app_id}/tasks", timeout=2).json()["tasks"]
                up = sum(1 for t in tasks if t.get("ports") and self.answering(t))
                self.counts.append((started, up, len(tasks)))
                self.stopping.wait(max(0.0, PROBE_EVERY - (time.monotonic() - started)))
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not swallowed
            self.error = exc

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        if self.error is not None:
            raise self.error

    @property
    def minimum(self) -> int:
        return min(up for _, up, _ in self.counts)

    @property
    def most_tasks(self) -> int:
        return max(n for _, _, n in self.counts)


def deployment_done(api: str, deployment_id: str) -> bool:
    return all(d["id"] != deployment_id for d in requests.get(api + "/v2/deployments", timeout=5).json())


@pytest.mark.parametrize("minimum_health_capacity, floor", [(1.0, 3), (0.5, 2)])
def test_a_config_change_keeps_enough_instances_healthy(sched, minimum_health_capacity, floor):
    app_id = "/" + unique("rolling")
    try:
        assert sched.post_app(web_app(app_id, minimum_health_capacity, "v1")).status_code == 201
        until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=5).json()["app"]["tasksHealthy"] == 3
              and not requests.get(sched.url + "/v2/apps" + app_id, timeout=5).json()["app"]["deployments"],
              90, what="3 healthy instances of v1, deployment done")
        old = {t["id"] for t in sched.tasks(app_id)}
        probe = Probe(sched.url, app_id)
        probe.start()
        until(lambda: len(probe.counts) >= 5, 10, what="the probe's first rounds")
        assert probe.minimum == 3, probe.counts  # the probe sees every instance before the change
        t0 = time.monotonic()
        resp = sched.put_app(app_id, web_app(app_id, minimum_health_capacity, "v2"), force=False)
        assert resp.status_code == 200, resp.text
        until(lambda: deployment_done(sched.url, resp.json()["deploymentId"]), 120, what="the deployment ended")
        took = time.monotonic() - t0
        time.sleep(1)  # a few more rounds after the end
        probe.stop()
        tasks = sched.tasks(app_id)
        assert len(tasks) == 3 and not old & {t["id"] for t in tasks}  # every instance replaced
        bodies = {requests.get(f"http://{t['host']}:{t['ports'][0]}/", timeout=2).text.strip() for t in tasks}
        assert bodies == {"v2"}
        low = [(round(t - t0, 1), up, n) for t, up, n in probe.counts if up < floor]
        print(f"\nFIGURE rolling upgrade, minimumHealthCapacity {minimum_health_capacity}: probe minimum "
              f"{probe.minimum} healthy of 3 over {len(probe.counts)} rounds, at most {probe.most_tasks} tasks "
              f"listed; config change to deployment end {took:.1f}s")
        assert probe.minimum >= floor, f"below {floor} healthy (s after the change, healthy, tasks): {low}"
        assert probe.most_tasks <= 4  # instances * (1 + maximumOverCapacity) = 4.02
    finally:
        requests.delete(sched.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=10)
        until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code == 404, 60,
              what="app removed")
