"""The soak's workload: about ten apps (Docker and command; health checks; UNIQUE and GROUP_BY;
different upgrade strategies) changed at random -- config changes, scales, restarts,
destroy/recreate -- through the Marathon API of whichever scheduler answers, a cron job firing
every minute and one-off job runs with retries.

It remembers what must exist (apps created and not destroyed, jobs): a request that got no
answer leaves that app ``uncertain`` (not checked) until a later answer settles it.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Optional

from .observe import Api

log = logging.getLogger("soak")
IMAGE = "local/busybox:1"
CRON_JOB = "soak-cron"
RETRY_JOB = "soak-retry"
BIG_APP = "/soak/big"
STEADY_APP = "/soak/steady"   # --ha: never changed by the workload; a master failover must keep its task ids
# --hosts: two apps only partitions touch, one task per agent but one (UNIQUE hostname), whose
# unreachable tasks are replaced after 5 s (FAST_APP) or never within a soak (SLOW_APP)
FAST_APP, FAST_INACTIVE = "/soak/unreachable-fast", 5
SLOW_APP = "/soak/unreachable-slow"
NEVER = 3600   # inactiveAfterSeconds that no cut reaches
SMALL = {"cpus": 0.01, "mem": 16}
STRATEGIES = [{"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
              {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
              {"minimumHealthCapacity": 0.0, "maximumOverCapacity": 0.0},
              {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 0.0}]


def _docker(cmd: str) -> dict[str, Any]:
    return {"type": "DOCKER", "docker": {"image": IMAGE, "network": "HOST"}}


HTTPD = "mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p $PORT0 -h /w"
# id -> (base definition, largest instances the workload scales it to)
APPS: dict[str, tuple[dict[str, Any], int]] = {
    "/soak/cmd-plain": ({"cmd": "sleep 3600", "instances": 2}, 4),
    "/soak/cmd-health": ({"cmd": "sleep 3600", "instances": 2,
                          "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}, "gracePeriodSeconds": 10,
                                            "intervalSeconds": 2, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}]}, 3),
    "/soak/cmd-unique": ({"cmd": "sleep 3600", "instances": 3, "constraints": [["hostname", "UNIQUE"]]}, 4),
    "/soak/cmd-groupby": ({"cmd": "sleep 3600", "instances": 3, "constraints": [["rack_id", "GROUP_BY"]]}, 4),
    "/soak/cmd-ports": ({"cmd": "sleep 3600", "instances": 1, "portDefinitions": [{"port": 0}, {"port": 0}]}, 2),
    "/soak/docker-plain": ({"cmd": "sleep 3600", "container": _docker(""), "instances": 2}, 3),
    "/soak/docker-http": ({"cmd": HTTPD, "container": _docker(""), "instances": 1, "portDefinitions": [{"port": 0}],
                           "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0,
                                             "gracePeriodSeconds": 15, "intervalSeconds": 2, "timeoutSeconds": 2,
                                             "maxConsecutiveFailures": 3}]}, 2),
    "/soak/docker-unique": ({"cmd": "sleep 3600", "container": _docker(""), "instances": 2,
                             "constraints": [["hostname", "UNIQUE"]]}, 3),
    "/soak/cmd-zone": ({"cmd": "sleep 3600", "instances": 2, "constraints": [["zone", "GROUP_BY", "3"]]}, 3),
    "/soak/cmd-churn": ({"cmd": "sleep 3600", "instances": 1}, 3),
}


def definition(app_id: str, rng: random.Random, instances: Optional[int] = None, gen: int = 0) -> dict[str, Any]:
    base, _ = APPS[app_id]
    app = {"id": app_id, **SMALL, "backoffSeconds": 1, "upgradeStrategy": rng.choice(STRATEGIES),
           "env": {"SOAK_GEN": str(gen)}, **base}
    if instances is not None:
        app["instances"] = instances
    return app


class Workload(threading.Thread):
    """Random changes through the API, one every ``pace`` seconds (seeded)."""

    def __init__(self, api: Api, rng: random.Random, pace: tuple[float, float] = (1.5, 4.0),
                 docker: bool = True, steady: bool = False, partitions: int = 0):
        """``partitions``: the number of agents of a ``--hosts`` cluster (0: none): creates
        FAST_APP and SLOW_APP, and STEADY_APP's tasks are never replaced while unreachable."""
        super().__init__(daemon=True, name="workload")
        self.api, self.rng, self.pace = api, rng, pace
        # without Docker (--no-docker), the command apps only; with ``steady``, STEADY_APP too
        self.apps = {a: v for a, v in APPS.items() if docker or "container" not in v[0]}
        self.steady = steady or bool(partitions)
        self.partitions = partitions
        self.present: set[str] = set()     # apps that must exist
        self.uncertain: set[str] = set()   # a request without an answer: not checked
        self.jobs: set[str] = set()
        self.gen = 0
        self.stopping = threading.Event()
        self.actions: dict[str, int] = {}
        self.cron_defined_at: Optional[float] = None
        self.lock = threading.Lock()

    # --- setup --------------------------------------------------------------------------------

    def setup(self) -> None:
        for app_id in self.apps:
            self._create(app_id)
        self._create_big(0)
        if self.steady:
            never = {"unreachableStrategy": {"inactiveAfterSeconds": NEVER, "expungeAfterSeconds": 2 * NEVER}}
            self._must("POST", "/v2/apps", json={"id": STEADY_APP, "cmd": "sleep 3600", **SMALL, "instances": 4,
                                                  **(never if self.partitions else {})})
            self.present.add(STEADY_APP)
        if self.partitions:
            for app_id, inactive in ((FAST_APP, FAST_INACTIVE), (SLOW_APP, NEVER)):
                self._must("POST", "/v2/apps", json={
                    "id": app_id, "cmd": "sleep 3600", **SMALL, "instances": self.partitions - 1,
                    "constraints": [["hostname", "UNIQUE"]],
                    "unreachableStrategy": {"inactiveAfterSeconds": inactive, "expungeAfterSeconds": 2 * NEVER}})
                self.present.add(app_id)
        cron = {"id": CRON_JOB, "cmd": "true", "cpus": 0.01, "mem": 16,
                "schedule": {"cron": "* * * * *", "concurrencyPolicy": "ALLOW", "startingDeadlineSeconds": 600}}
        retry = {"id": RETRY_JOB, "cmd": '[ "$HALYARD_ATTEMPT" -ge 2 ]', "cpus": 0.01, "mem": 16, "retries": 3,
                 "backoffSeconds": 1}
        for job in (cron, retry):
            self._must("POST", "/v1/jobs", json=job)
            self.jobs.add(job["id"])
            if job is cron:
                self.cron_defined_at = time.time()

    def _must(self, method: str, path: str, **kw: Any) -> Any:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            resp = self.api.request(method, path, **kw)
            if resp is not None and resp.status_code < 300:
                return resp
            time.sleep(1)
        raise RuntimeError(f"{method} {path}: no success within 120s")

    def _create(self, app_id: str) -> None:
        self.gen += 1
        self._must("POST", "/v2/apps", json=definition(app_id, self.rng, gen=self.gen))
        self.present.add(app_id)

    def _create_big(self, instances: int) -> None:
        self._must("POST", "/v2/apps", json={"id": BIG_APP, "cmd": "sleep 3600", **SMALL, "instances": instances,
                                              "upgradeStrategy": {"minimumHealthCapacity": 0.0,
                                                                  "maximumOverCapacity": 0.0}})
        self.present.add(BIG_APP)

    # --- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        while not self.stopping.wait(self.rng.uniform(*self.pace)):
            try:
                self.step()
            except Exception:  # noqa: BLE001 - the workload goes on; the checker judges the outcome
                log.exception("workload step failed")

    def _answered(self, app_id: str, resp: Any, exists_after: Optional[bool]) -> None:
        """Record what a request means for the app's existence (None: unchanged)."""
        with self.lock:
            if resp is None or resp.status_code >= 500:
                self.uncertain.add(app_id)
                return
            if resp.status_code < 300 and exists_after is not None:
                (self.present.add if exists_after else self.present.discard)(app_id)
                self.uncertain.discard(app_id)

    def step(self) -> None:
        kind = self.rng.choices(["scale", "config", "restart", "recreate", "run"], [4, 3, 2, 1, 1])[0]
        self.actions[kind] = self.actions.get(kind, 0) + 1
        if kind == "run":
            resp = self.api.request("POST", f"/v1/jobs/{RETRY_JOB}/runs")
            return
        app_id = self.rng.choice(list(self.apps))
        _, most = APPS[app_id]
        if app_id not in self.present:   # destroyed earlier (or uncertain): create again
            self.gen += 1
            resp = self.api.request("POST", "/v2/apps", json=definition(app_id, self.rng, gen=self.gen))
            self._answered(app_id, resp, True if resp is not None and resp.status_code == 201 else None)
            return
        if kind == "scale":
            resp = self.api.request("PUT", f"/v2/apps{app_id}", params={"force": "true"},
                                    json={"instances": self.rng.randint(1, most)})
        elif kind == "config":
            self.gen += 1
            current = self.api.json(f"/v2/apps{app_id}")
            n = current["app"]["instances"] if current and "app" in current else None
            resp = self.api.request("PUT", f"/v2/apps{app_id}", params={"force": "true"},
                                    json=definition(app_id, self.rng, instances=n, gen=self.gen))
        elif kind == "restart":
            resp = self.api.request("POST", f"/v2/apps{app_id}/restart", params={"force": "true"})
        else:
            resp = self.api.request("DELETE", f"/v2/apps{app_id}", params={"force": "true"})
            self._answered(app_id, resp, False)
            return
        self._answered(app_id, resp, None)

    def expected_apps(self) -> set[str]:
        with self.lock:
            return set(self.present) - self.uncertain

