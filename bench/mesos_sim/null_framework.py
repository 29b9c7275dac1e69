"""The null framework: the least a framework can do, as a ceiling for the simulator.

It subscribes, accepts every offer with as many tasks as fit (one ACCEPT per offer), acknowledges
every update, persists nothing, and suppresses once all tasks are launched. It runs in its own
process (its own interpreter lock), with a few keep-alive connections for its calls, and prints
one JSON line: ``{"tasks", "seconds_all_running", "tasks_per_s", "calls", "first_offer_s"}``.

    PYTHONPATH=bench python -m mesos_sim.null_framework --master 127.0.0.1:17050 --tasks 10000
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from .recordio import Decoder

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE",
            "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}


class Caller:
    """Calls over a few keep-alive connections (each call waits for its 202, as pymesos does)."""

    def __init__(self, host: str, port: int, conns: int):
        self.host, self.port, self.conns = host, port, conns
        self.queue: asyncio.Queue = asyncio.Queue()
        self.stream_id = ""
        self.sent = 0
        self.failed: list[str] = []
        self._workers: list[asyncio.Task] = []

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._worker()) for _ in range(self.conns)]

    def send(self, call: dict[str, Any]) -> None:
        self.queue.put_nowait(json.dumps(call, separators=(",", ":")).encode())

    async def _worker(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        head = f"POST /api/v1/scheduler HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
        while True:
            body = await self.queue.get()
            writer.write(f"{head}Mesos-Stream-Id: {self.stream_id}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                         + body)
            status_head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in status_head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            answer = await reader.readexactly(length) if length else b""
            self.sent += 1
            if not status_head.startswith(b"HTTP/1.1 2"):
                self.failed.append(status_head.split(b"\r\n")[0].decode() + " " + answer[:200].decode(errors="replace"))
            self.queue.task_done()

    def stop(self) -> None:
        for w in self._workers:
            w.cancel()


class NullFramework:
    def __init__(self, tasks: int, cpus: float, mem: float, ports: int, name: str):
        self.tasks, self.cpus, self.mem, self.ports, self.name = tasks, cpus, mem, ports, name
        self.framework_id = ""
        self.to_launch = tasks
        self.running: set[str] = set()
        self.seq = 0
        self.first_offer: float | None = None
        self.suppressed = False

    def tasks_for(self, offer: dict[str, Any]) -> list[dict[str, Any]]:
        cpus = mem = 0.0
        ranges: list[tuple[int, int]] = []
        for r in offer.get("resources", []):
            if r["name"] == "cpus":
                cpus += r["scalar"]["value"]
            elif r["name"] == "mem":
                mem += r["scalar"]["value"]
            elif r["name"] == "ports":
                ranges += [(x["begin"], x["end"]) for x in r["ranges"]["range"]]
        ports = (p for b, e in ranges for p in range(b, e + 1))
        n = min(self.to_launch, int(cpus / self.cpus + 1e-9) if self.cpus else self.to_launch,
                int(mem / self.mem + 1e-9) if self.mem else self.to_launch,
                sum(e - b + 1 for b, e in ranges) // self.ports if self.ports else self.to_launch)
        out = []
        for _ in range(max(n, 0)):
            self.seq += 1
            res = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": self.cpus}},
                   {"name": "mem", "type": "SCALAR", "scalar": {"value": self.mem}}]
            if self.ports:
                res.append({"name": "ports", "type": "RANGES",
                            "ranges": {"range": [{"begin": p, "end": p} for p in (next(ports) for _ in range(self.ports))]}})
            out.append({"task_id": {"value": f"null.{self.seq}"}, "name": "null", "agent_id": offer["agent_id"],
                        "resources": res, "command": {"value": "sleep 3600", "shell": True}})
        self.to_launch -= len(out)
        return out


async def run(master: str, tasks: int, cpus: float, mem: float, ports: int, conns: int, timeout: float,
              name: str = "null-framework") -> dict[str, Any]:
    host, _, port = master.removeprefix("http://").partition(":")
    fw = NullFramework(tasks, cpus, mem, ports, name)
    caller = Caller(host, int(port), conns)
    reader, writer = await asyncio.open_connection(host, int(port))
    sub = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "user": "nobody", "name": name, "failover_timeout": 60.0,
        "capabilities": [{"type": "PARTITION_AWARE"}, {"type": "TASK_KILLING_STATE"}]}}}).encode()
    t0 = time.monotonic()
    writer.write(f"POST /api/v1/scheduler HTTP/1.1\r\nHost: {master}\r\nContent-Type: application/json\r\n"
                 f"Accept: application/json\r\nConnection: close\r\nContent-Length: {len(sub)}\r\n\r\n".encode() + sub)
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"SUBSCRIBE refused: {head[:200]!r}")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"mesos-stream-id:"):
            caller.stream_id = line.split(b":", 1)[1].strip().decode()
    caller.start()
    decoder = Decoder()
    done_at: float | None = None
    deadline = t0 + timeout

    def call(kind: str, body: dict | None = None) -> None:
        c: dict[str, Any] = {"type": kind, "framework_id": {"value": fw.framework_id}}
        if body is not None:
            c[kind.lower()] = body
        caller.send(c)

    while done_at is None:
        size_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), max(0.1, deadline - time.monotonic()))
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            raise RuntimeError("the master ended the event stream")
        data = await reader.readexactly(size + 2)
        for record in decoder.feed(data[:-2]):
            event = json.loads(record)
            kind = event.get("type")
            if kind == "SUBSCRIBED":
                fw.framework_id = event["subscribed"]["framework_id"]["value"]
            elif kind == "OFFERS":
                if fw.first_offer is None:
                    fw.first_offer = time.monotonic() - t0
                for offer in event["offers"]["offers"]:
                    infos = fw.tasks_for(offer)
                    if infos:
                        call("ACCEPT", {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 5},
                                        "operations": [{"type": "LAUNCH", "launch": {"task_infos": infos}}]})
                    else:
                        call("DECLINE", {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 60}})
                if fw.to_launch == 0 and not fw.suppressed:
                    fw.suppressed = True
                    call("SUPPRESS", {})
            elif kind == "UPDATE":
                status = event["update"]["status"]
                if "uuid" in status:
                    call("ACKNOWLEDGE", {"agent_id": status["agent_id"], "task_id": status["task_id"],
                                         "uuid": status["uuid"]})
                tid = status["task_id"]["value"]
                if status["state"] == "TASK_RUNNING":
                    fw.running.add(tid)
                elif status["state"] in TERMINAL and tid.startswith("null."):
                    fw.running.discard(tid)
                    fw.to_launch += 1
                    if fw.suppressed:
                        fw.suppressed = False
                        call("REVIVE", {})
                if len(fw.running) >= tasks:
                    done_at = time.monotonic()
            elif kind == "ERROR":
                raise RuntimeError(f"ERROR event: {event}")
    await asyncio.wait_for(caller.queue.join(), 30)
    seconds = done_at - t0
    call("TEARDOWN")
    await asyncio.wait_for(caller.queue.join(), 30)
    caller.stop()
    writer.close()
    return {"tasks": tasks, "seconds_all_running": round(seconds, 3), "tasks_per_s": round(tasks / seconds, 1),
            "calls": caller.sent, "failed_calls": caller.failed[:5], "first_offer_s": round(fw.first_offer or 0, 3)}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="mesos_sim.null_framework", description=__doc__.splitlines()[0])
    ap.add_argument("--master", default="127.0.0.1:17050")
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--cpus", type=float, default=0.01)
    ap.add_argument("--mem", type=float, default=8)
    ap.add_argument("--ports", type=int, default=1, help="host ports per task")
    ap.add_argument("--connections", type=int, default=4, help="keep-alive connections for calls")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args(argv)
    result = asyncio.run(run(args.master, args.tasks, args.cpus, args.mem, args.ports, args.connections, args.timeout))
    print(json.dumps(result))
    return 0 if not result["failed_calls"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
