"""A minimal Mesos v1 HTTP scheduler (plain requests), to test the local cluster itself.

Halyard's own scheduler goes through pymesos; this client exists so the cluster's tests do not
depend on Halyard's code.
"""
from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from typing import Any, Callable, Iterator, Optional

import requests

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED",
            "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}


def _records(resp: requests.Response) -> Iterator[dict]:
    buf = b""
    for chunk in resp.iter_content(chunk_size=None):
        buf += chunk
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            n = int(buf[:nl])
            if len(buf) < nl + 1 + n:
                break
            yield json.loads(buf[nl + 1:nl + 1 + n])
            buf = buf[nl + 1 + n:]


def scalar(name: str, value: float) -> dict:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def ports_resource(begin: int, end: int) -> dict:
    return {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": begin, "end": end}]}}


class V1Scheduler:
    """Subscribe, collect offers and updates in queues, send calls. Acknowledges every update."""

    def __init__(self, master: str, name: str = "minimesos-test", checkpoint: bool = True,
                 framework_id: Optional[str] = None):
        self.url = master.rstrip("/") + "/api/v1/scheduler"
        self.offers: "queue.Queue[dict]" = queue.Queue()
        self.updates: "queue.Queue[dict]" = queue.Queue()
        self.framework_id: Optional[str] = None
        info: dict[str, Any] = {"user": "root", "name": name, "checkpoint": checkpoint, "failover_timeout": 300,
                                "capabilities": [{"type": "TASK_KILLING_STATE"}]}
        if framework_id:
            info["id"] = {"value": framework_id}
        body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if framework_id:
            body["framework_id"] = {"value": framework_id}
        self._resp = requests.post(self.url, json=body, stream=True, timeout=(5, None),
                                   headers={"Accept": "application/json"})
        self._resp.raise_for_status()
        self.stream_id = self._resp.headers["Mesos-Stream-Id"]
        self._subscribed = threading.Event()
        self._closing = False
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._subscribed.wait(15):
            raise TimeoutError("no SUBSCRIBED event")

    def _read(self) -> None:
        try:
            for event in _records(self._resp):
                kind = event["type"]
                if kind == "SUBSCRIBED":
                    self.framework_id = event["subscribed"]["framework_id"]["value"]
                    self._subscribed.set()
                elif kind == "OFFERS":
                    for offer in event["offers"]["offers"]:
                        self.offers.put(offer)
                elif kind == "UPDATE":
                    status = event["update"]["status"]
                    self.updates.put(status)
                    if "uuid" in status:
                        self.call("ACKNOWLEDGE", acknowledge={"agent_id": status["agent_id"],
                                                              "task_id": status["task_id"], "uuid": status["uuid"]})
        except Exception as exc:  # noqa: BLE001 - kept, and raised by the next wait (unless we closed it)
            if not self._closing:
                self.error = exc

    def _check_reader(self) -> None:
        """Raise what ended the event stream, if anything did (a test must not wait on a dead stream)."""
        if self.error is not None:
            raise RuntimeError(f"the scheduler's event stream failed: {self.error!r}") from self.error

    def call(self, kind: str, **payload: Any) -> None:
        body = {"type": kind, "framework_id": {"value": self.framework_id}, **payload}
        resp = requests.post(self.url, json=body, timeout=10,
                             headers={"Mesos-Stream-Id": self.stream_id, "Accept": "application/json"})
        if resp.status_code not in (200, 202):
            raise RuntimeError(f"{kind}: HTTP {resp.status_code} {resp.text}")

    def offer_from(self, hostname: Optional[str] = None, timeout: float = 30) -> dict:
        """The next offer (from ``hostname`` if given); other offers are declined briefly."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_reader()
            try:
                offer = self.offers.get(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                continue
            if hostname is None or offer["hostname"] == hostname:
                return offer
            self.call("DECLINE", decline={"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 1}})
        raise TimeoutError(f"no offer from {hostname or 'any agent'} within {timeout}s")

    def launch(self, offer: dict, cmd: str, image: Optional[str] = None, cpus: float = 0.1, mem: float = 32,
               task_id: Optional[str] = None, ports: Optional[tuple[int, int]] = None) -> str:
        task_id = task_id or f"t-{uuid.uuid4().hex[:8]}"
        resources = [scalar("cpus", cpus), scalar("mem", mem)] + ([ports_resource(*ports)] if ports else [])
        task: dict[str, Any] = {"name": task_id, "task_id": {"value": task_id}, "agent_id": offer["agent_id"],
                                "resources": resources, "command": {"value": cmd, "shell": True}}
        if image:
            task["container"] = {"type": "DOCKER", "docker": {"image": image, "network": "HOST"}}
        self.call("ACCEPT", accept={"offer_ids": [offer["id"]],
                                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
                                    "filters": {"refuse_seconds": 1}})
        return task_id

    def wait_state(self, task_id: str, states: set[str], timeout: float = 60,
                   seen: Optional[list] = None) -> dict:
        """Wait for an update of ``task_id`` in ``states``; other updates go to ``seen``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{task_id} never reached {states}; saw {seen}")
            self._check_reader()
            try:
                status = self.updates.get(timeout=min(1.0, left))
            except queue.Empty:
                continue
            if seen is not None:
                seen.append((status["task_id"]["value"], status["state"]))
            if status["task_id"]["value"] == task_id and status["state"] in states:
                return status

    def kill(self, task_id: str, agent_id: dict) -> None:
        self.call("KILL", kill={"task_id": {"value": task_id}, "agent_id": agent_id})

    def reconcile(self, task_id: str, agent_id: dict) -> None:
        self.call("RECONCILE", reconcile={"tasks": [{"task_id": {"value": task_id}, "agent_id": agent_id}]})

    def close(self) -> None:
        """Drop the subscription (the framework stays, its tasks keep running)."""
        self._closing = True
        self._resp.close()

    def teardown(self) -> None:
        self._closing = True
        try:
            self.call("TEARDOWN")
        finally:
            self._resp.close()


def until(check: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - not ready yet
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout}s (last: {last!r})")
