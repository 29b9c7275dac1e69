"""`GET /v2/events` as Marathon's clients read it, on the real cluster.

marathon-python's ``event_stream()``, pointed at the standby (it follows the 307 to the leader),
parses every event of an app's whole life on the default stream: created, scaled, healthy, made
unhealthy and killed for it, a task killed through the API, deleted, and a deployment that fails;
a job defined meanwhile (Halyard's own ``job_created``) is not on that stream. Raw SSE readers
check the frames, repeated ``event_type=`` and ``?plan-format=light``, attached/detached with
``remoteAddress``, and a stream that stays open while idle, with keep-alive comments at the
default interval (10 s, as Marathon's) never more than 15 s apart, for 35 s (the old stream died
after 15 s).
"""
from __future__ import annotations

import collections
import collections.abc
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from marathon import MarathonClient
from marathon.models import MarathonApp, MarathonHealthCheck

from .harness import SchedulerProc, clean_shutdown, unique
from .v1client import until

# marathon-python logs with the deprecated log.warn when it reads a COMMAND check
pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:The .warn. method is deprecated:DeprecationWarning")]

if not hasattr(collections, "Iterable"):  # marathon-python 0.13 on Python 3.10+ (see test_marathon_client.py)
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

KEEPALIVE = 10.0       # the scheduler's default --event-keepalive
MAX_SILENCE = 15.0     # what load balancers are promised: a byte at least every 15 s
IDLE_FOR = 35.0        # more than twice that (the old stream died at 15 s)
MARATHON_TYPES = {"api_post_event", "status_update_event", "health_status_changed_event",
                  "instance_health_changed_event", "deployment_info", "deployment_step_success",
                  "deployment_step_failure", "deployment_success", "deployment_failed", "app_terminated_event",
                  "unhealthy_task_kill_event", "unhealthy_instance_kill_event", "instance_changed_event",
                  "event_stream_attached", "event_stream_detached"}


class Listener:
    """Reads a raw SSE stream in a thread: ``events`` grows as they arrive (each checked: an
    ``event:`` line, then a ``data:`` line of the same type), ``keepalives`` counts comments and
    ``arrivals`` times every line. A stream that ends or fails before :meth:`close` is recorded
    (``ended``, ``failure``), never hidden: :meth:`check` asserts it is still open."""

    def __init__(self, url: str, **params):
        self.events: list[dict] = []
        self.keepalives = 0
        self.arrivals: list[float] = []
        self.ended = False
        self.failure: Exception | None = None
        self.closing = False
        self.opened = time.monotonic()
        self.resp = requests.get(url, params=params, stream=True, timeout=(5, None),
                                 headers={"Accept": "text/event-stream"})
        self.resp.raise_for_status()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind = None
        try:
            for line in self.resp.iter_lines(decode_unicode=True):
                self.arrivals.append(time.monotonic())
                if line.startswith(":"):
                    self.keepalives += 1
                elif line.startswith("event: "):
                    assert kind is None, f"event: {line} follows event: {kind} without data"
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if data["eventType"] != kind:
                        raise AssertionError(f"event: {kind} carries data of {data['eventType']}")
                    self.events.append(data)
                    kind = None
                elif line:
                    raise AssertionError(f"not an SSE line: {line!r}")
        except Exception as exc:  # noqa: BLE001 - kept for check(); after close() it is the closing itself
            if not self.closing:
                self.failure = exc
        finally:
            self.ended = True

    def types(self) -> list[str]:
        return [e["eventType"] for e in self.events]

    def of(self, event_type: str, **fields) -> list[dict]:
        return [e for e in self.events if e["eventType"] == event_type
                and all(e.get(k) == v for k, v in fields.items())]

    def check(self) -> None:
        """The stream is still open and nothing went wrong reading it."""
        assert self.failure is None, f"the stream failed: {self.failure!r}"
        assert not self.ended, "the server ended the stream"

    def close(self) -> None:
        self.closing = True
        self.resp.close()


class ClientStream:
    """marathon-python's ``event_stream()`` run in a thread: ``events`` are its parsed objects;
    whatever it raises before :meth:`stop` is kept in ``failure``."""

    def __init__(self, url: str):
        self.client = MarathonClient(url)
        self.events: list = []
        self.failure: Exception | None = None
        self.stopping = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for event in self.client.event_stream():
                self.events.append(event)
        except Exception as exc:  # noqa: BLE001 - checked by the test
            if not self.stopping:
                self.failure = exc

    def of(self, event_type: str) -> list:
        self.check()
        return [e for e in self.events if e.event_type == event_type]

    def check(self) -> None:
        assert self.failure is None, f"marathon-python's event_stream failed: {self.failure!r}"

    def stop(self) -> None:
        self.stopping = True
        self.client.sse_session.close()


@pytest.fixture(scope="module")
def pair(cluster, tmp_path_factory):
    """A leader and a standby at the default keep-alive interval."""
    name, chroot = unique("halyard-test"), unique("halyard-test")
    log_dir = tmp_path_factory.mktemp("events")
    a = SchedulerProc(cluster, chroot, name, log_dir).start()
    until(a.leading, 30, what="leader")
    b = SchedulerProc(cluster, chroot, name, log_dir).start()
    until(lambda: requests.get(b.url + "/v2/leader", timeout=5).ok, 30, what="the standby knows the leader")
    yield a, b
    clean_shutdown(cluster, name, [a, b])


def test_a_standby_redirects_the_stream_to_the_leaders_advertised_address(pair):
    leader, standby = pair
    resp = requests.get(standby.url + "/v2/events", params=[("event_type", "a"), ("event_type", "b")],
                        allow_redirects=False, timeout=5)
    assert resp.status_code == 307
    assert resp.headers["location"] == f"http://127.0.0.1:{leader.port}/v2/events?event_type=a&event_type=b"
    bad = requests.get(leader.url + "/v2/events", params={"plan-format": "heavy"}, timeout=5)
    assert bad.status_code == 422 and "plan-format" in bad.text


def health_app(app_id: str, served: Path) -> dict:
    """Serves ``served`` (a directory the test controls: the cluster's agents share this host's
    /tmp); healthy while ``served/ok`` exists."""
    return {"id": app_id, "cmd": f"exec python3 -m http.server $PORT0 --directory {served}", "cpus": 0.05,
            "mem": 32, "instances": 1, "backoffSeconds": 1,
            "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/ok", "portIndex": 0, "gracePeriodSeconds": 2,
                              "intervalSeconds": 1, "timeoutSeconds": 2, "delaySeconds": 0,
                              "maxConsecutiveFailures": 2}]}


def test_marathon_python_parses_a_whole_app_life_and_raw_streams_show_marathons_frames(pair):
    leader, standby = pair
    client = MarathonClient(leader.url)
    served = Path(tempfile.mkdtemp(prefix="halyard-ev-"))
    served.chmod(0o755)
    (served / "ok").write_text("ok")
    app_id, bad_id, job_id = "/ev/web", "/ev/bad", unique("ev-job")
    idle = Listener(leader.url + "/v2/events", event_type="pod_created_event")  # never sent (no pods): idle
    raw = Listener(leader.url + "/v2/events")
    chosen = Listener(leader.url + "/v2/events", **{"event_type": ["deployment_success", "job_created"],
                                                    "plan-format": "light"})
    stream = ClientStream(standby.url)  # marathon-python follows the 307 itself
    try:
        until(lambda: len(raw.of("event_stream_attached")) >= 3, 15, what="the client's stream attached")  # raw's,
        # chosen's and marathon-python's
        assert {e["remoteAddress"] for e in raw.of("event_stream_attached")} == {"127.0.0.1"}

        # Created, and a job defined meanwhile (Halyard's own event: not on the default stream).
        client.create_app(app_id, MarathonApp.from_json(health_app(app_id, served)))
        assert requests.post(leader.url + "/v1/jobs", json={"id": job_id, "cmd": "true", "cpus": 0.01, "mem": 8},
                             timeout=30).status_code == 201
        client.create_app(bad_id, MarathonApp(  # its tasks never count (not healthy): its deployment fails
            cmd="exit 1", cpus=0.01, mem=8, instances=1, backoff_seconds=1,
            health_checks=[MarathonHealthCheck(protocol="COMMAND", command="true", grace_period_seconds=5,
                                               interval_seconds=5, timeout_seconds=2, max_consecutive_failures=3)]))
        def deployed(app: str) -> list:
            return [e for e in stream.of("deployment_step_success") if e.plan.steps[0].actions[0].app == app]

        until(lambda: deployed(app_id) and stream.of("health_status_changed_event"), 90,
              what="the app deployed and healthy")
        client.scale_app(app_id, instances=2)
        until(lambda: len(deployed(app_id)) >= 2, 90, what="scaled to 2")

        # Unhealthy: the executor kills the tasks for their health check.
        (served / "ok").unlink()
        until(lambda: stream.of("unhealthy_task_kill_event"), 60, what="an unhealthy task killed")
        (served / "ok").write_text("ok")
        until(lambda: stream.of("deployment_failed"), 90, what="the failing app's deployment failed")

        # A task killed through the API, then the app deleted.
        running = until(lambda: [t for t in client.list_tasks(app_id) if t.state == "TASK_RUNNING"], 60,
                        what="a running task")
        client.kill_task(app_id, running[0].id)
        until(lambda: [e for e in stream.of("status_update_event")
                       if e.task_id == running[0].id and e.task_status == "TASK_KILLED"], 30, what="the task killed")
        client.delete_app(app_id, force=True)
        until(lambda: {e.app_id for e in stream.of("app_terminated_event")} == {app_id, bad_id}, 60,
              what="both apps terminated")

        # What marathon-python made of it.
        stream.check()
        types = {e.event_type for e in stream.events}
        assert {"api_post_event", "deployment_info", "deployment_step_success", "deployment_success",
                "deployment_failed", "status_update_event", "instance_changed_event",
                "health_status_changed_event", "unhealthy_task_kill_event", "app_terminated_event"} <= types
        assert types <= MARATHON_TYPES
        info = next(e for e in stream.of("deployment_info") if e.plan.steps[0].actions[0].app == app_id)
        assert info.plan.id and info.plan.version
        assert [a["id"] for a in info.plan.target.groups[0]["apps"]] == [app_id] and info.plan.original.apps == []
        assert info.current_step["actions"][0]["action"] == "StartApplication"
        update = next(e for e in stream.of("status_update_event") if e.task_status == "TASK_RUNNING"
                      and e.app_id == app_id)
        assert update.host == "127.0.0.1" or update.host.startswith("127.0.0.")
        assert update.ports and update.version and update.slave_id and update.ip_addresses[0].ip_address == update.host
        healthy = [e for e in stream.of("health_status_changed_event") if e.app_id == app_id]
        assert any(getattr(e, "alive", None) is True for e in healthy) and all(e.instance_id for e in healthy)
        assert len(healthy) > len([e for e in healthy if getattr(e, "alive", None)])  # it drops a False field
        assert raw.of("health_status_changed_event", appId=app_id, alive=False)
        kill = stream.of("unhealthy_task_kill_event")[0]
        assert (kill.app_id, bool(kill.task_id), bool(kill.version)) == (app_id, True, True)
        # Every write is an api_post_event (its audit record); the app changes carry their appDefinition.
        assert [e.uri for e in stream.of("api_post_event") if not hasattr(e, "app_definition")][:1] == ["/v1/jobs"]
        posted = [e for e in stream.of("api_post_event") if hasattr(e, "app_definition")]
        assert [e.app_definition["id"] for e in posted][:3] == [app_id, bad_id, app_id]
        assert [(e.uri, e.client_ip) for e in posted][:3] == [("/v2/apps", "127.0.0.1")] * 2 + [
            ("/v2/apps/" + app_id, "127.0.0.1")]  # created (POST), then scaled (PUT: the path as the client sent it)

        # The raw default stream: Marathon's frames and types only; the chosen one: two types, light plans.
        raw.check()
        assert set(raw.types()) <= MARATHON_TYPES and not raw.of("job_created")
        failed = raw.of("deployment_failed")[0]
        assert failed["reason"] and failed["plan"]["id"] == failed["id"] and "original" in failed["plan"]
        changed = raw.of("instance_changed_event", condition="Running")[0]
        assert changed["runSpecId"] in (app_id, bad_id) and changed["agentId"] and changed["runSpecVersion"]
        chosen.check()
        assert set(chosen.types()) == {"deployment_success", "job_created"}
        assert chosen.of("job_created", jobId=job_id)
        assert all(set(e["plan"]) == {"id", "steps", "version"} for e in chosen.of("deployment_success"))

        # Attached and detached: another client comes and goes.
        other = Listener(leader.url + "/v2/events", event_type="app_terminated_event")
        until(lambda: len(raw.of("event_stream_attached")) >= 4, 10, what="attached")
        other.close()
        detached = until(lambda: raw.of("event_stream_detached"), 10, what="detached soon after the client left")
        assert detached[0]["remoteAddress"] == "127.0.0.1"

        # The idle stream: still open after more than twice the keep-alive interval, never silent longer.
        until(lambda: time.monotonic() - idle.opened >= IDLE_FOR, IDLE_FOR + 5, interval=1, what="idle long enough")
        idle.check()
        assert idle.events == [] and idle.keepalives >= int(IDLE_FOR // KEEPALIVE)
        moments = [idle.opened] + idle.arrivals + [time.monotonic()]
        assert max(b - a for a, b in zip(moments, moments[1:])) < MAX_SILENCE
    finally:
        stream.stop()
        for listener in (idle, raw, chosen):
            listener.close()
        for one in (app_id, bad_id):
            requests.delete(leader.url + "/v2/apps" + one, params={"force": "true"}, timeout=30)
        requests.delete(leader.url + f"/v1/jobs/{job_id}", timeout=30)
        until(lambda: all(requests.get(leader.url + "/v2/apps" + one, timeout=5).status_code == 404
                          for one in (app_id, bad_id)), 60, what="apps gone")
        shutil.rmtree(served, ignore_errors=True)


def test_streams_close_when_their_scheduler_stops_leading(pair):
    """Last in the module: the leader abdicates; its streams end (clients reconnect and are
    redirected to the new leader), they do not stay open without events."""
    leader, standby = pair
    listener = Listener(leader.url + "/v2/events", event_type="app_terminated_event")
    try:
        assert requests.delete(leader.url + "/v2/leader", timeout=10).ok
        until(lambda: listener.ended, 15, what="the old leader's stream closed")
        assert listener.failure is None and listener.events == []
        until(standby.leading, 30, what="the standby leads")
        resp = requests.get(leader.url + "/v2/events", allow_redirects=False, timeout=5)
        assert resp.status_code == 307 and resp.headers["location"].startswith(f"http://127.0.0.1:{standby.port}/")
    finally:
        listener.close()
