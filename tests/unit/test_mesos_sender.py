"""Acknowledgements and kills leave the leader loop (issue 25): sent by threads of their own, each
with its own connection to the master, in order for each task."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from halyard.engine.messages import Acknowledge, Kill
from halyard.mesos.driver import MesosDriver
from halyard.mesos.sender import LANES


@pytest.fixture
def master():
    """A master's scheduler endpoint that answers every call 202, slowly (20 ms), once ``gate`` opens."""
    calls, gate, lock = [], threading.Event(), threading.Lock()
    busy = {"now": 0, "most": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                busy["now"] += 1
                busy["most"] = max(busy["most"], busy["now"])
            gate.wait(5)
            time.sleep(0.02)
            with lock:
                busy["now"] -= 1
                calls.append((self.headers["Mesos-Stream-Id"], body))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], calls, gate, busy
    httpd.shutdown()
    httpd.server_close()


def test_acknowledgements_and_kills_do_not_wait_for_the_master_and_keep_each_tasks_order(master):
    port, calls, gate, busy = master
    driver = MesosDriver(f"http://127.0.0.1:{port}", {"name": "t", "user": "u"}, lambda e: None)
    pymesos = driver._driver
    pymesos.start = pymesos.stop = lambda *args, **kwargs: None  # subscribed by hand below
    pymesos._master, pymesos.stream_id, pymesos.framework_id = f"127.0.0.1:{port}", "stream-1", "F1"
    driver.start()
    started = time.monotonic()
    for i in range(40):
        driver.execute(Acknowledge(f"t{i}", "S1", "dXVpZA=="))
        driver.execute(Kill(f"t{i}", "S1"))
    assert time.monotonic() - started < 1.0 and calls == []  # the loop went on; the master has not answered
    gate.set()
    deadline = time.monotonic() + 10
    while len(calls) < 80 and time.monotonic() < deadline:
        time.sleep(0.01)
    driver.stop()
    assert len(calls) == 80 and {stream for stream, _ in calls} == {"stream-1"}
    assert busy["most"] == LANES > 1  # sent over several connections at once
    for i in range(40):
        mine = [body for _, body in calls if (body.get("acknowledge") or body.get("kill"))["task_id"]["value"] == f"t{i}"]
        assert mine == [
            {"type": "ACKNOWLEDGE", "framework_id": {"value": "F1"},
             "acknowledge": {"task_id": {"value": f"t{i}"}, "uuid": "dXVpZA==", "agent_id": {"value": "S1"}}},
            {"type": "KILL", "framework_id": {"value": "F1"}, "kill": {"task_id": {"value": f"t{i}"}}}]


def test_nothing_is_sent_while_not_subscribed(master):
    port, calls, gate, _ = master
    gate.set()
    driver = MesosDriver(f"http://127.0.0.1:{port}", {"name": "t", "user": "u"}, lambda e: None)
    driver._driver.start = driver._driver.stop = lambda *args, **kwargs: None
    driver.start()
    driver.execute(Acknowledge("t1", "S1", "dXVpZA=="))
    driver.stop()
    assert calls == []  # dropped, as pymesos drops a call made while disconnected


def test_a_lanes_connection_reads_each_answer_and_reconnects_after_a_close(caplog):
    """``MasterCalls`` speaks HTTP/1.1 itself: a 202 with a length, a chunked answer, a refusal
    with a body and ``Connection: close`` (logged; the next call opens a new connection)."""
    import socket

    from halyard.mesos.sender import MasterCalls

    answers = [b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
               b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
               b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad call!!!",
               b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"]
    received, connections = [], []
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while answers:
            conn, _ = server.accept()
            connections.append(conn)
            reader = conn.makefile("rb")
            while answers:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    byte = reader.read(1)
                    if not byte:
                        break
                    head += byte
                if not head:
                    break
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                received.append((head, json.loads(reader.read(length))))
                answer = answers.pop(0)
                conn.sendall(answer)
                if b"Connection: close" in answer:
                    conn.close()
                    break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    lane = MasterCalls(lambda: (f"127.0.0.1:{port}", {"Mesos-Stream-Id": "s1"}), timeout=5)
    for i in range(4):
        lane.send({"type": "ACKNOWLEDGE", "n": i})
    thread.join(5)
    lane.close()
    server.close()
    assert [body["n"] for _, body in received] == [0, 1, 2, 3]
    assert all(b"Mesos-Stream-Id: s1\r\n" in head and head.startswith(b"POST /api/v1/scheduler HTTP/1.1\r\n")
               for head, _ in received)
    assert len(connections) == 2   # the refusal closed the first connection
    assert "refused: 400 b'bad call!!!'" in caplog.text and "lost" not in caplog.text
