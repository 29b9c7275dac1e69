"""A broken placement plugin on the real cluster fails its apps, not the leader: the other app runs,
the broken ones wait with the reason, and the scheduler keeps leading (the same epoch)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
import requests

from .harness import leading_scheduler, sleep_app
from .v1client import until

pytestmark = pytest.mark.integration

PLUGIN_SITE = Path(__file__).parent / "data" / "broken-plugin-site"  # strategy "broken-test"
OK, RAISES, OUT_OF_RANGE = "/plugin/ok", "/plugin/raises", "/plugin/out-of-range"
REASONS = {
    RAISES: "strategy 'broken-test' failed: scorer 'explode' raised RuntimeError('broken on purpose')",
    OUT_OF_RANGE: "strategy 'broken-test' failed: scorer 'explode' returned 150.0, outside 0..100",
}


@pytest.fixture(scope="module")
def sched(cluster, tmp_path_factory) -> Iterator:
    """A leading scheduler that has the broken plugin installed (on its PYTHONPATH)."""
    path = os.pathsep.join(p for p in (str(PLUGIN_SITE), os.environ.get("PYTHONPATH", "")) if p)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", path)  # the scheduler process inherits it
        with leading_scheduler(cluster, tmp_path_factory.mktemp("broken_plugin")) as s:
            yield s


def queue_reasons(s) -> dict[str, list[str]]:
    queue = requests.get(s.url + "/v2/queue", timeout=10).json()["queue"]
    return {q["app"]["id"]: q["reasons"] for q in queue}


def test_a_broken_strategy_fails_its_apps_and_the_leader_goes_on(sched):
    s = sched
    epoch = s.stats()["epoch"]
    apps = [sleep_app(OK, 1), sleep_app(RAISES, 2, strategy="broken-test"),
            sleep_app(OUT_OF_RANGE, 1, strategy={"name": "broken-test", "args": {"fail": "range"}})]
    try:
        for app in apps:
            assert s.post_app(app).status_code == 201
        until(lambda: len(s.running(OK)) == 1, 90, what="the healthy app running")
        until(lambda: {k: v for k, v in queue_reasons(s).items() if k != OK} == {a: [r] for a, r in REASONS.items()},
              60, what="the broken apps waiting with the reason")
        for app in apps[1:]:
            placement = requests.get(f"{s.url}/v1/apps{app['id']}/placement", timeout=10).json()
            assert placement["reasons"] == [REASONS[app["id"]]] and placement["pending"] == app["instances"]
            assert s.tasks(app["id"]) == []
        # More offer cycles: still leading under the same epoch, each failure logged once.
        cycles = s.stats()["offerCycles"]
        until(lambda: s.stats()["offerCycles"] >= cycles + 2, 60, what="two more offer cycles")
        stats = s.stats()
        assert stats["leader"] is True and stats["epoch"] == epoch
        log = s.log.read_text()
        for app_id, reason in REASONS.items():
            assert log.count(f"app {app_id} cannot be placed: {reason}") == 1, log[-3000:]
        assert "leadership ended" not in log
        # The dry run says the same, instead of a 500.
        dry = requests.post(s.url + "/v1/plan", json=sleep_app("/plugin/dry", 1, strategy="broken-test"), timeout=30)
        assert dry.status_code == 200 and dry.json()["unplaced"] == [
            {"app": "/plugin/dry", "count": 1, "reasons": [REASONS[RAISES]]}]
    finally:
        for app in apps:
            requests.delete(s.url + "/v2/apps" + app["id"], params={"force": "true"}, timeout=30)
        until(lambda: not requests.get(s.url + "/v2/apps", timeout=10).json()["apps"], 90, what="the apps removed")
