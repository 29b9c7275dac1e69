"""The Mesos calls the leader loop does not wait for: acknowledgements and kills, sent off the loop
in the order they were given for each task (a task's acknowledgements in order, a kill after what
came before it).

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
import ssl
import threading
import zlib
from collections.abc import Callable
from http.client import HTTPConnection, HTTPSConnection
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

#: threads (and connections to the master) sending acknowledgements and kills
LANES = 4

#: where to send now: ``(host:port, headers)`` (the stream id, credentials), or None when not subscribed
Target = Callable[[], tuple[str, dict[str, str]] | None]


class MasterCalls:
    """One lane's own keep-alive connection to the master's scheduler endpoint."""

    def __init__(self, target: Target, timeout: float = 10.0, tls: ssl.SSLContext | None = None):
        self.target, self.timeout, self.tls = target, timeout, tls
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
                self._conn, self._address = self._connect(host, int(port)), address
            self._conn.request("POST", "/api/v1/scheduler", body=json.dumps(call).encode(),
                               headers={"Content-Type": "application/json", **headers})
            resp = self._conn.getresponse()
            body = resp.read()
            if not 200 <= resp.status < 300:
                log.warning("Mesos call %s refused: %d %s", call.get("type"), resp.status, body[:200])
        except Exception as exc:  # noqa: BLE001 - any transport failure: the call is lost, the lane goes on
            self.close()
            log.warning("Mesos call %s lost: %r", call.get("type"), exc)

    def _connect(self, host: str, port: int) -> HTTPConnection:
        """The one place a lane's connection is opened: HTTPS verified with ``tls`` when set."""
        if self.tls is not None:
            return HTTPSConnection(host, port, timeout=self.timeout, context=self.tls)
        return HTTPConnection(host, port, timeout=self.timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


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
