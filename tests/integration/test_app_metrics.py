"""``/metrics`` on the real cluster: per-app gauges (instances, running, healthy, waiting by reason class)."""
from __future__ import annotations

import pytest
import requests

from .harness import sleep_app, unique
from .v1client import until

pytestmark = pytest.mark.integration


def gauge(sched, name: str, **labels: str) -> float:
    """The value of one series of ``/metrics`` (KeyError when it is absent)."""
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in requests.get(sched.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    raise KeyError(wanted)


def test_per_app_gauges_say_how_many_run_and_why_the_rest_wait(sched):
    spread, huge = "/" + unique("metrics-spread"), "/" + unique("metrics-huge")
    try:
        # four instances, one per agent, on three agents: one waits for the constraint
        assert requests.post(sched.url + "/v2/apps", json=sleep_app(spread, 4, constraints=[["hostname", "UNIQUE"]]),
                             timeout=30).status_code == 201
        assert requests.post(sched.url + "/v2/apps", json=sleep_app(huge, 1, cpus=500), timeout=30).status_code == 201
        until(lambda: gauge(sched, "halyard_app_running", app=spread) == 3, 90, what="3 of 4 running")
        until(lambda: gauge(sched, "halyard_app_waiting", app=spread, reason="constraint") == 1, 60,
              what="one waits for the constraint")
        until(lambda: gauge(sched, "halyard_app_waiting", app=huge, reason="resources") == 1, 60,
              what="the huge one waits for resources")
        assert gauge(sched, "halyard_app_instances", app=spread) == 4
        assert gauge(sched, "halyard_app_healthy", app=spread) == 0   # no health check: none is healthy
        assert gauge(sched, "halyard_app_waiting", app=spread, reason="no_offer") == 0
        assert gauge(sched, "halyard_offer_cycles_total") >= 1
    finally:
        for app_id in (spread, huge):
            requests.delete(sched.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
        for app_id in (spread, huge):
            until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code == 404, 90,
                  what=f"{app_id} gone")
