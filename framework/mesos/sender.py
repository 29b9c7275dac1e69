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
import socket
import ssl
import threading
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO, Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

#: threads (and connections to the master) sending acknowledgements and kills
LANES = 4

#: where to send now: ``(host:port, headers)`` (the stream id, credentials), or None when not subscribed
Target = Callable[[], tuple[str, dict[str, str]] | None]


class MasterCalls:
    """One lane's own keep-alive connection to the master's scheduler endpoint.

    HTTP/1.1 written out over a socket (``http.client`` parsed every answer's headers with the
    ``email`` package: a sixth of the scheduler's interpreter time in a 10,000-task launch, for
    answers that are ``202`` with no body). The master answers each call with a status line,
    headers and a ``Content-Length`` body; a chunked body is read too; anything else, or
    ``Connection: close``, closes the connection (the next call opens a new one)."""

    def __init__(self, target: Target, timeout: float = 10.0, tls: ssl.SSLContext | None = None):
        self.target, self.timeout, self.tls = target, timeout, tls
        self._sock: socket.socket | None = None
        self._reader: BinaryIO | None = None
        self._address: str | None = None

    def send(self, call: dict[str, Any]) -> None:
        """POST one call (dropped when not subscribed); a failure is logged and the call lost."""
        target = self.target()
        if target is None:
            return
        address, headers = target
        try:
            if self._sock is None or self._address != address:
                self.close()
                host, _, port = address.rpartition(":")
                self._sock = self._connect(host.strip("[]"), int(port))
                self._reader, self._address = self._sock.makefile("rb"), address
            body = json.dumps(call).encode()
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            self._sock.sendall(f"POST /api/v1/scheduler HTTP/1.1\r\nHost: {address}\r\n"
                               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{head}\r\n"
                               .encode("latin-1") + body)
            status, answer = self._answer()
            if not 200 <= status < 300:
                log.warning("Mesos call %s refused: %d %s", call.get("type"), status, answer[:200])
        except Exception as exc:  # noqa: BLE001 - any transport failure: the call is lost, the lane goes on
            self.close()
            log.warning("Mesos call %s lost: %r", call.get("type"), exc)

    def _answer(self) -> tuple[int, bytes]:
        """The answer's status and body; the connection is closed if it cannot be reused."""
        reader = self._reader
        assert reader is not None
        line = reader.readline(65537)
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ConnectionError(f"not an HTTP answer: {line[:100]!r}")
        status = int(parts[1])
        length: int | None = None
        chunked = close = False
        while (header := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = header.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            body = b""
            while (size := int(reader.readline(65537).split(b";")[0], 16)) > 0:
                body += reader.read(size)
                reader.readline(65537)
            while reader.readline(65537) not in (b"\r\n", b"\n", b""):
                pass   # trailers
        elif length is not None:
            body = reader.read(length)
        else:
            body, close = reader.read(), True   # the body runs until the master closes
        if close:
            self.close()
        return status, body

    def _connect(self, host: str, port: int) -> socket.socket:
        """The one place a lane's connection is opened: TLS verified with ``tls`` when set."""
        sock = socket.create_connection((host, port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            try:
                return self.tls.wrap_socket(sock, server_hostname=host)
            except BaseException:
                sock.close()
                raise
        return sock

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


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
