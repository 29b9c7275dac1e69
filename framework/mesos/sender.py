"""The Mesos calls the leader loop does not wait for: acknowledgements and kills, sent off the loop
in the order they were given for each task (a task's acknowledgements in order, a kill after what
came before it); and the launches (ACCEPTs) of one offer round, sent side by side, which every
later call waits for (``MesosDriver.execute``).

Each call is an HTTP round trip to the master. On the leader loop, 10,000 tasks' acknowledgements
(three per task) held the next status updates and offers behind them; and through pymesos' one
connection (shared with its IO thread, under its lock) they are sent one at a time. So they go
through ``LANES`` threads, each with its own connection to the master (``MasterCalls``), a task
always in the same lane. Nothing waits for their answers: the master answers 202 and Mesos resends
an update until it is acknowledged, and kills are retried by the engine, so a call lost here (as
one lost while disconnected, which pymesos drops silently) is covered the same way.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import zlib
from collections.abc import Callable
from http.client import HTTPConnection
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

#: threads (and connections to the master) sending acknowledgements and kills
LANES = 4

#: where to send now: ``(host:port, headers)`` (the stream id, credentials), or None when not subscribed
Target = Callable[[], tuple[str, dict[str, str]] | None]


class MasterCalls:
    """One lane's own keep-alive connection to the master's scheduler endpoint."""

    def __init__(self, target: Target, timeout: float = 10.0):
        self.target, self.timeout = target, timeout
        self._conn: HTTPConnection | None = None
        self._address: str | None = None

    def send(self, call: dict[str, Any]) -> None:
        """POST one call (dropped when not subscribed); a failure is logged and the call lost."""
        target = self.target()
        if target is None:
            return
        address, headers = target
        try:
            if self._conn is None or self._address != address:
                self.close()
                host, _, port = address.rpartition(":")
                self._conn, self._address = HTTPConnection(host, int(port), timeout=self.timeout), address
            self._conn.request("POST", "/api/v1/scheduler", body=json.dumps(call).encode(),
                               headers={"Content-Type": "application/json", **headers})
            resp = self._conn.getresponse()
            body = resp.read()
            if not 200 <= resp.status < 300:
                log.warning("Mesos call %s refused: %d %s", call.get("type"), resp.status, body[:200])
        except Exception as exc:  # noqa: BLE001 - any transport failure: the call is lost, the lane goes on
            self.close()
            log.warning("Mesos call %s lost: %r", call.get("type"), exc)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class InFlight:
    """A count of calls queued and not yet sent: :meth:`wait` returns once there are none."""

    def __init__(self) -> None:
        self._idle = threading.Condition()
        self._count = 0

    def add(self) -> None:
        with self._idle:
            self._count += 1

    def done(self) -> None:
        with self._idle:
            self._count -= 1
            if self._count == 0:
                self._idle.notify_all()

    def wait(self, timeout: float) -> bool:
        """Until every call added is done (False: ``timeout`` seconds passed first)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


class CallSender(Generic[T]):
    """Queues of calls, and a thread per queue that sends them with its lane's ``send``. A call
    goes to the lane of its ``key`` (the task id), so one task's calls keep their order."""

    def __init__(self, lanes: list[Callable[[T], None]], name: str = "mesos-calls"):
        self._queues: list[queue.Queue[T | None]] = [queue.Queue() for _ in lanes]
        self._threads = [threading.Thread(target=self._run, args=(q, send), name=f"{name}-{i}", daemon=True)
                         for i, (q, send) in enumerate(zip(self._queues, lanes))]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def put(self, key: str, call: T) -> None:
        """Queue a call; returns at once."""
        self._queues[zlib.crc32(key.encode()) % len(self._queues)].put(call)

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (for at most ``timeout`` seconds in all), then end the threads."""
        for q in self._queues:
            q.put(None)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
        left = sum(q.qsize() for q in self._queues)
        if left:
            log.warning("%d Mesos calls still queued at stop (Mesos resends, the engine retries)", left)

    @staticmethod
    def _run(calls: queue.Queue[T | None], send: Callable[[T], None]) -> None:
        while (call := calls.get()) is not None:
            send(call)
