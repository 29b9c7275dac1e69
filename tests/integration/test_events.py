"""`GET /v2/events`: Server-Sent Events seen while an app deploys and one of its tasks dies."""
from __future__ import annotations

import json
import subprocess
import threading

import pytest
import requests

from .harness import SchedulerProc, clean_shutdown, docker_container_of, sleep_app, unique
from .v1client import until

pytestmark = pytest.mark.integration


class Listener:
    """Reads an SSE stream in a thread; ``events`` grows as they arrive."""

    def __init__(self, url: str, **params):
        self.events: list[dict] = []
        self.resp = requests.get(url, params=params, stream=True, timeout=(5, None))
        self.resp.raise_for_status()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind = None
        try:
            for line in self.resp.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    assert data["eventType"] == kind
                    self.events.append(data)
        except Exception:  # noqa: BLE001 - closed at the end of the test
            pass

    def types(self) -> list[str]:
        return [e["eventType"] for e in self.events]

    def close(self) -> None:
        self.resp.close()


@pytest.fixture(scope="module")
def pair(cluster, tmp_path_factory):
    name, chroot = unique("halyard-test"), unique("halyard-test")
    log_dir = tmp_path_factory.mktemp("events")
    a = SchedulerProc(cluster, chroot, name, log_dir).start()
    until(a.leading, 30, what="leader")
    b = SchedulerProc(cluster, chroot, name, log_dir).start()
    yield a, b
    clean_shutdown(cluster, name, [a, b])


def test_events_while_an_app_deploys_and_a_task_dies(cluster, pair):
    leader, standby = pair
    until(lambda: requests.get(standby.url + "/v2/leader", timeout=5).ok, 30, what="the standby knows the leader")
    everything = Listener(leader.url + "/v2/events")
    updates = Listener(leader.url + "/v2/events", event_type="status_update_event")
    via_standby = Listener(standby.url + "/v2/events", event_type="deployment_success")  # redirected
    try:
        until(lambda: "event_stream_attached" in everything.types(), 10, what="attached")
        assert leader.post_app(sleep_app("/ev/web", 2, docker=True)).status_code == 201
        until(lambda: "deployment_success" in everything.types(), 60, what="deployment_success")
        types = everything.types()
        assert types.index("api_post_event") < types.index("deployment_success")
        assert types.index("deployment_info") < types.index("deployment_success")
        running = [e for e in everything.events if e["eventType"] == "status_update_event"
                   and e["taskStatus"] == "TASK_RUNNING" and e["appId"] == "/ev/web"]
        assert len({e["taskId"] for e in running}) == 2 and all(e["ports"] for e in running)
        until(lambda: via_standby.types() == ["deployment_success"], 10, what="the standby's stream")

        victim = running[0]["taskId"]
        subprocess.run(["/usr/bin/docker", "-H", cluster["DOCKER_HOST"], "kill", docker_container_of(cluster, victim)],
                       check=True, capture_output=True)
        died = until(lambda: [e for e in updates.events if e["taskId"] == victim
                              and e["taskStatus"] in ("TASK_FAILED", "TASK_KILLED")], 30, what="the task's death")
        assert died[0]["appId"] == "/ev/web"
        assert set(updates.types()) == {"status_update_event"}  # the filter holds
    finally:
        for listener in (everything, updates, via_standby):
            listener.close()
