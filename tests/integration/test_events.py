"""`GET /v2/events`: Server-Sent Events seen while an app deploys and one of its tasks dies; an
idle stream stays open, with keep-alive comments."""
from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
import requests

from .harness import SchedulerProc, clean_shutdown, docker_container_of, sleep_app, unique
from .v1client import until

pytestmark = pytest.mark.integration
KEEPALIVE = 1.0  # seconds between keep-alive comments on an idle stream (--event-keepalive)


class Listener:
    """Reads an SSE stream in a thread: ``events`` grows as they arrive, ``keepalives`` counts the
    keep-alive comments. A stream that ends or fails before :meth:`close` is recorded (``ended``,
    ``failure``), never hidden: :meth:`check` asserts it is still open."""

    def __init__(self, url: str, **params):
        self.events: list[dict] = []
        self.keepalives = 0
        self.ended = False
        self.failure: Exception | None = None
        self.closing = False
        self.resp = requests.get(url, params=params, stream=True, timeout=(5, None))
        self.resp.raise_for_status()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind = None
        try:
            for line in self.resp.iter_lines(decode_unicode=True):
                if line.startswith(":"):
                    self.keepalives += 1
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if data["eventType"] != kind:
                        raise AssertionError(f"event: {kind} carries data of {data['eventType']}")
                    self.events.append(data)
        except Exception as exc:  # noqa: BLE001 - kept for check(); after close() it is the closing itself
            if not self.closing:
                self.failure = exc
        finally:
            self.ended = True

    def types(self) -> list[str]:
        return [e["eventType"] for e in self.events]

    def check(self) -> None:
        """The stream is still open and nothing went wrong reading it."""
        assert self.failure is None, f"the stream failed: {self.failure!r}"
        assert not self.ended, "the server ended the stream"

    def close(self) -> None:
        self.closing = True
        self.resp.close()


@pytest.fixture(scope="module")
def pair(cluster, tmp_path_factory):
    name, chroot = unique("halyard-test"), unique("halyard-test")
    log_dir = tmp_path_factory.mktemp("events")
    a = SchedulerProc(cluster, chroot, name, log_dir, "--event-keepalive", f"{KEEPALIVE}s").start()
    until(a.leading, 30, what="leader")
    b = SchedulerProc(cluster, chroot, name, log_dir, "--event-keepalive", f"{KEEPALIVE}s").start()
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
        for listener in (everything, updates, via_standby):
            listener.check()
    finally:
        for listener in (everything, updates, via_standby):
            listener.close()


def test_an_idle_stream_stays_open_with_keepalives_and_still_delivers(pair):
    leader, _ = pair
    idle = Listener(leader.url + "/v2/events", event_type="api_post_event")
    try:
        time.sleep(3.5 * KEEPALIVE)  # idle for more than three keep-alive intervals
        idle.check()
        assert idle.keepalives >= 3 and idle.events == []
        assert leader.post_app(sleep_app("/ev/idle", 0)).status_code == 201
        posted = until(lambda: [e for e in idle.events if e["uri"] == "/v2/apps/ev/idle"], 10, what="the event")
        assert posted[0]["appDefinition"]["id"] == "/ev/idle"
        idle.check()
    finally:
        idle.close()
