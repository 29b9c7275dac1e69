"""The simulator's HTTP/1.1 server on asyncio: the master's endpoints over ``master.Master``.

One event loop does everything (calls, streams, the clock), so the master needs no locks. HTTP is
parsed here, minimally: a request line, headers, a ``Content-Length`` (or chunked) body,
keep-alive. A SUBSCRIBE's response is a chunked stream; events queued during one loop pass are
written as one chunk of RecordIO records.

Endpoints: ``POST /api/v1/scheduler``; ``GET /master/state`` (and ``/state``),
``/master/slaves``, ``/master/frameworks``, ``/master/redirect`` (and ``/redirect``),
``/version``, ``/health``; ``POST /master/teardown``; and the simulator's own ``/sim/...``:
``GET /sim/stats``, ``POST /sim/reset`` (the counters), ``POST /sim/fail_tasks`` (``{count}`` or
``{task_ids}``), ``POST /sim/lose_agent`` and ``/sim/restore_agent`` (``{agent_id}``),
``POST /sim/drop_streams`` (``{framework_id}`` or all), ``POST /sim/message``,
``POST /sim/error``, ``POST /sim/shutdown``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from .master import Master
from .operator_json import agent_json, framework_json, state_json
from .recordio import encode_many

log = logging.getLogger("mesos_sim")
REASONS = {200: "OK", 202: "Accepted", 307: "Temporary Redirect", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 411: "Length Required",
           415: "Unsupported Media Type", 500: "Internal Server Error", 501: "Not Implemented"}
MAX_HEAD = 64 * 1024
MAX_BODY = 256 * 1024 * 1024


class HttpError(Exception):
    def __init__(self, status: int, message: str = ""):
        super().__init__(message)
        self.status = status


def response(status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8",
             headers: dict[str, str] | None = None) -> bytes:
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}", f"Content-Length: {len(body)}"]
    if body:
        head.append(f"Content-Type: {content_type}")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def json_response(value: Any, status: int = 200) -> bytes:
    return response(status, json.dumps(value, separators=(",", ":")).encode(), "application/json")


class EventStream:
    """A subscription's chunked response; implements ``master.Stream``."""

    def __init__(self, transport: asyncio.Transport):
        self.stream_id = str(uuid.uuid4())
        self._transport = transport
        self._pending: list[bytes] = []
        self.closed = False

    def send(self, event: bytes) -> None:
        if self.closed:
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(event)

    def _flush(self) -> None:
        if self.closed or not self._pending:
            return
        payload = encode_many(self._pending)
        self._pending = []
        self._transport.write(b"%x\r\n%s\r\n" % (len(payload), payload))

    def close(self, abrupt: bool = False) -> None:
        if self.closed:
            return
        if not abrupt:
            self._flush()
            self._transport.write(b"0\r\n\r\n")
        self.closed = True
        if abrupt:
            self._transport.abort()
        else:
            self._transport.close()

    def buffered(self) -> int:
        return self._transport.get_write_buffer_size() if not self.closed else 0


class Request:
    __slots__ = ("method", "path", "query", "version", "headers", "body")

    def __init__(self, method: str, path: str, query: dict[str, list[str]], version: str,
                 headers: dict[str, str], body: bytes):
        self.method, self.path, self.query, self.version, self.headers, self.body = (method, path, query, version,
                                                                                    headers, body)

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise HttpError(400, "the body is not JSON") from None


def parse_request(buf: bytearray) -> tuple[Request | None, int]:
    """(the first whole request in ``buf``, the bytes it took), or (None, 0) while it is incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > MAX_HEAD:
            raise HttpError(400, "request head too large")
        return None, 0
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise HttpError(400, "malformed request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts, pos = [], start
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                return None, 0
            size = int(bytes(buf[pos:nl]).split(b";")[0], 16)
            if len(buf) < nl + 2 + size + 2:
                return None, 0
            if size == 0:
                pos = nl + 4
                break
            parts.append(bytes(buf[nl + 2:nl + 2 + size]))
            pos = nl + 2 + size + 2
        body, taken = b"".join(parts), pos
    else:
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY:
            raise HttpError(400, "body too large")
        if len(buf) < start + length:
            return None, 0
        body, taken = bytes(buf[start:start + length]), start + length
    path, _, query = target.partition("?")
    return Request(method, path, parse_qs(query) if query else {}, version, headers, body), taken


class _Connection(asyncio.Protocol):
    """One client connection: requests answered in order as they arrive (pipelining works); a
    SUBSCRIBE turns the connection into that subscription's event stream."""

    def __init__(self, server: SimServer):
        self.server = server
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.stream: EventStream | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport   # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.stream is not None:
            return   # a subscriber sends nothing after its SUBSCRIBE
        self.buf += data
        out: list[bytes] = []
        close = False
        while self.buf and not close:
            try:
                req, taken = parse_request(self.buf)
            except HttpError as exc:
                out.append(response(exc.status, str(exc).encode(), headers={"Connection": "close"}))
                close = True
                break
            if req is None:
                break
            del self.buf[:taken]
            try:
                answer = self.server.handle(req, self)
            except HttpError as exc:
                answer = response(exc.status, str(exc).encode())
            except Exception:   # noqa: BLE001 - one bad request must not stop the master
                log.exception("request %s %s failed", req.method, req.path)
                answer = response(500, b"simulator error (see its log)")
            if self.stream is not None:   # subscribed: the stream owns the connection from here
                return
            out.append(answer)
            close = req.headers.get("connection", "").lower() == "close" or req.version == "HTTP/1.0"
        if out:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])   # type: ignore[union-attr]
        if close:
            self.transport.close()   # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stream is not None:
            self.stream.closed = True
            self.server.master.stream_closed(self.stream)


class SimServer:
    """The master's HTTP endpoints and the clock that drives it."""

    def __init__(self, master: Master, host: str = "127.0.0.1", port: int = 5050, tick: float = 0.005):
        self.master, self.host, self.port, self.tick_seconds = master, host, port, tick
        self._server: asyncio.base_events.Server | None = None
        self._stop = asyncio.Event()
        self._routes: dict[tuple[str, str], Callable[[Request], bytes]] = {
            ("GET", "/master/state"): self._state, ("GET", "/state"): self._state,
            ("GET", "/master/state.json"): self._state,
            ("GET", "/master/slaves"): self._slaves, ("GET", "/master/frameworks"): self._frameworks,
            ("GET", "/master/redirect"): self._redirect, ("GET", "/redirect"): self._redirect,
            ("GET", "/version"): self._version, ("GET", "/health"): lambda r: response(200),
            ("GET", "/master/health"): lambda r: response(200),
            ("POST", "/master/teardown"): self._teardown,
            ("GET", "/sim/stats"): lambda r: json_response(self.master.stats()),
            ("POST", "/sim/reset"): self._reset, ("POST", "/sim/fail_tasks"): self._fail_tasks,
            ("POST", "/sim/lose_agent"): self._lose_agent, ("POST", "/sim/restore_agent"): self._restore_agent,
            ("POST", "/sim/drop_streams"): self._drop_streams, ("POST", "/sim/message"): self._message,
            ("POST", "/sim/error"): self._error, ("POST", "/sim/shutdown"): self._shutdown,
        }

    async def serve(self) -> None:
        """Until ``POST /sim/shutdown`` (or cancellation)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port, backlog=512)
        ticker = asyncio.create_task(self._ticker())
        log.info("master %s on http://%s:%d with %d agents", self.master.id, self.host, self.port,
                 len(self.master.agents))
        try:
            await self._stop.wait()
        finally:
            ticker.cancel()
            self._server.close()
            for fw in list(self.master.frameworks.values()):
                if fw.stream is not None:
                    fw.stream.close()

    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                due = self.master.tick(loop.time())
            except Exception:   # noqa: BLE001 - the clock must go on; the failure is logged
                log.exception("tick failed")
                due = loop.time() + 0.1
            await asyncio.sleep(min(max(due - loop.time(), 0.0), self.tick_seconds))

    def handle(self, req: Request, conn: _Connection) -> bytes:
        if req.path == "/api/v1/scheduler":
            return self._scheduler(req, conn)
        route = self._routes.get((req.method, req.path))
        if route is None:
            return response(405 if any(p == req.path for _, p in self._routes) else 404)
        return route(req)

    def _scheduler(self, req: Request, conn: _Connection) -> bytes:
        """``/api/v1/scheduler``: a SUBSCRIBE turns the connection into a stream; any other call is answered."""
        if req.method != "POST":
            return response(405, b"Expecting 'POST'", headers={"Allow": "POST"})
        ctype = req.headers.get("content-type", "").split(";")[0].strip()
        if ctype != "application/json":
            return response(415 if ctype else 400, b"Expecting 'Content-Type' of application/json"
                            if ctype else b"Expecting 'Content-Type' to be present")
        body = req.body
        if b'"SUBSCRIBE"' in body[:4096]:
            try:
                call = json.loads(body)
            except ValueError as exc:
                return response(400, f"Failed to parse body into JSON: {exc}".encode())
            if isinstance(call, dict) and call.get("type") == "SUBSCRIBE":
                if "mesos-stream-id" in req.headers:
                    return response(400, b"Subscribe calls should not include the 'Mesos-Stream-Id' header")
                accept = req.headers.get("accept", "application/json")
                if "application/json" not in accept and "*/*" not in accept:
                    return response(406, b"Expecting 'Accept' to allow 'application/json'")
                transport = conn.transport
                assert transport is not None
                stream = conn.stream = EventStream(transport)
                transport.write((f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 f"Transfer-Encoding: chunked\r\nMesos-Stream-Id: {stream.stream_id}\r\n"
                                 f"Cache-Control: no-cache\r\n\r\n").encode())
                self.master.subscribe(call, stream)
                return b""
        status, answer = self.master.call(body, req.headers.get("mesos-stream-id"))
        return response(status, answer, "application/json" if answer.startswith(b"{") else "text/plain; charset=utf-8")

    # --- routes -------------------------------------------------------------------------------

    def _state(self, req: Request) -> bytes:
        return json_response(state_json(self.master))

    def _slaves(self, req: Request) -> bytes:
        return json_response({"slaves": [agent_json(self.master, a) for a in self.master.agents],
                              "recovered_slaves": []})

    def _frameworks(self, req: Request) -> bytes:
        m = self.master
        return json_response({"frameworks": [framework_json(m, fw) for fw in m.frameworks.values()],
                              "completed_frameworks": [framework_json(m, fw) for fw in m.completed.values()],
                              "unregistered_frameworks": []})

    def _redirect(self, req: Request) -> bytes:
        """This master leads: the redirect points at itself (``//host:port``, as Mesos answers)."""
        return response(307, headers={"Location": f"//{self.master.config.hostname}:{self.port}"})

    def _version(self, req: Request) -> bytes:
        return json_response({"version": self.master.config.version, "build_date": "simulated",
                              "build_user": "mesos_sim", "git_tag": self.master.config.version})

    def _teardown(self, req: Request) -> bytes:
        fid = (parse_qs(req.body.decode()).get("frameworkId") or req.query.get("frameworkId") or [""])[0]
        fw = self.master.frameworks.get(fid)
        if fw is None:
            return response(400, f"No framework found with specified ID {fid!r}".encode())
        self.master.remove_framework(fw)
        return response(200)

    def _reset(self, req: Request) -> bytes:
        self.master.reset_stats()
        return json_response({})

    def _fail_tasks(self, req: Request) -> bytes:
        body = req.json()
        return json_response({"failed": self.master.fail_tasks(int(body.get("count", 1)), body.get("task_ids"))})

    def _agent(self, req: Request) -> str:
        agent_id = req.json().get("agent_id")
        if agent_id not in self.master.agents_by_id:
            raise HttpError(404, f"no agent {agent_id!r}")
        return agent_id

    def _lose_agent(self, req: Request) -> bytes:
        return json_response({"tasks": self.master.lose_agent(self._agent(req))})

    def _restore_agent(self, req: Request) -> bytes:
        return json_response({"tasks": self.master.restore_agent(self._agent(req))})

    def _drop_streams(self, req: Request) -> bytes:
        return json_response({"dropped": self.master.drop_streams(req.json().get("framework_id"))})

    def _framework_id(self, body: dict) -> str:
        fid = body.get("framework_id") or next(iter(self.master.frameworks), None)
        if fid not in self.master.frameworks:
            raise HttpError(404, f"no framework {fid!r}")
        return fid

    def _message(self, req: Request) -> bytes:
        body = req.json()
        self.master.message(self._framework_id(body), body.get("agent_id", ""), body.get("executor_id", ""),
                            str(body.get("data", "")).encode())
        return json_response({})

    def _error(self, req: Request) -> bytes:
        body = req.json()
        self.master.error(self._framework_id(body), str(body.get("message", "simulated error")))
        return json_response({})

    def _shutdown(self, req: Request) -> bytes:
        self._stop.set()
        return json_response({})
