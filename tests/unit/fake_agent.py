"""A Mesos agent's v1 executor API, as far as the minimesos stand-in executors use it, to run them
as the agent does without a cluster: the executor SUBSCRIBEs (a RecordIO stream of events: this
agent sends SUBSCRIBED, then LAUNCH), POSTs UPDATEs (each acknowledged at once), and gets KILL.

``FakeDocker`` is a ``docker`` command for the Docker executor's ``--docker`` flag: ``run`` keeps a
process alive until ``stop``, ``inspect`` says it started (host network), ``exec`` runs the
command on the host.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional

LIBEXEC = Path(__file__).resolve().parents[2] / "minimesos" / "libexec"
FRAMEWORK, EXECUTOR, AGENT_ID = "F-1", "E-1", "S-1"


class FakeAgent:
    """One executor's agent: ``start(executor, task)`` runs it, ``statuses`` are its updates."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.events: "queue.Queue[Optional[dict[str, Any]]]" = queue.Queue()
        self.statuses: list[dict[str, Any]] = []
        self.subscribes: list[dict[str, Any]] = []   # each SUBSCRIBE's body (its unacknowledged tasks and updates)
        self.changed = threading.Condition()
        self.proc: Optional[subprocess.Popen] = None
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                call = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if call["type"] == "SUBSCRIBE":
                    with agent.changed:
                        agent.subscribes.append(call["subscribe"])
                        agent.changed.notify_all()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    while (event := agent.events.get()) is not None:
                        record = json.dumps(event).encode()
                        self.wfile.write(b"%d\n%s" % (len(record), record))
                        self.wfile.flush()
                    return
                status = call["update"]["status"]
                with agent.changed:
                    agent.statuses.append(status)
                    agent.changed.notify_all()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                agent.events.put({"type": "ACKNOWLEDGED", "acknowledged": {
                    "task_id": status["task_id"], "uuid": status["uuid"]}})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return "127.0.0.1:%d" % self.server.server_address[1]

    def start(self, executor: str, task: dict[str, Any], argv: tuple[str, ...] = (),
              env: Optional[dict[str, str]] = None) -> None:
        """Run ``executor`` (a file of minimesos/libexec) with the environment the agent gives,
        and launch ``task`` on it."""
        sandbox = self.tmp / "sandbox"
        sandbox.mkdir(exist_ok=True)
        self.events.put({"type": "SUBSCRIBED", "subscribed": {
            "agent_info": {"id": {"value": AGENT_ID}, "hostname": "127.0.0.1"},
            "framework_info": {"capabilities": [{"type": "TASK_KILLING_STATE"}]},
            "executor_info": {"executor_id": {"value": EXECUTOR}}}})
        self.events.put({"type": "LAUNCH", "launch": {"task": task}})
        environment = {**os.environ, "MESOS_AGENT_ENDPOINT": self.endpoint, "MESOS_FRAMEWORK_ID": FRAMEWORK,
                       "MESOS_EXECUTOR_ID": EXECUTOR, "MESOS_SLAVE_PID": "slave(1)@" + self.endpoint,
                       "MESOS_SANDBOX": str(sandbox), "MESOS_DIRECTORY": str(sandbox),
                       "MESOS_HTTP_COMMAND_EXECUTOR": "true", **(env or {})}
        self.proc = subprocess.Popen([sys.executable, str(LIBEXEC / executor), *argv], env=environment,
                                     cwd=sandbox, stdout=subprocess.DEVNULL, stderr=open(self.tmp / "stderr", "wb"))

    def restart(self) -> None:
        """The agent process dies (its event stream ends) and comes back: the next SUBSCRIBE is answered."""
        self.events.put(None)
        self.events.put({"type": "SUBSCRIBED", "subscribed": {
            "agent_info": {"id": {"value": AGENT_ID}, "hostname": "127.0.0.1"},
            "framework_info": {"capabilities": [{"type": "TASK_KILLING_STATE"}]},
            "executor_info": {"executor_id": {"value": EXECUTOR}}}})

    def kill(self, task_id: str) -> None:
        self.events.put({"type": "KILL", "kill": {"task_id": {"value": task_id}}})

    def wait_for(self, what: str, match: Callable[[dict[str, Any]], bool], timeout: float = 20.0) -> dict[str, Any]:
        """The first update that matches, waiting for it until ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = next((s for s in self.statuses if match(s)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    log = (self.tmp / "stderr").read_text()[-2000:]
                    raise AssertionError(f"no update {what} within {timeout}s; got "
                                         f"{[(s['state'], s.get('reason'), s.get('check_status')) for s in self.statuses]}"
                                         f"\n{log}")
                self.changed.wait(left)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.events.put(None)
        self.server.shutdown()
        self.server.server_close()


FAKE_DOCKER = r'''#!/usr/bin/env python3
import json, os, signal, subprocess, sys, time
state = os.environ["FAKE_DOCKER_DIR"]
args = sys.argv[1:]
while args and args[0] == "-H":
    args = args[2:]
cmd, rest = args[0], args[1:]
if cmd == "run":
    name = rest[rest.index("--name") + 1]
    open(os.path.join(state, name), "w").write(str(os.getpid()))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    while True:
        time.sleep(0.2)
elif cmd == "inspect":
    name = rest[-1]
    if not os.path.exists(os.path.join(state, name)):
        sys.exit(1)
    print(json.dumps([{"State": {"StartedAt": "2020-01-01T00:00:00Z"}, "HostConfig": {"NetworkMode": "host"},
                       "NetworkSettings": {"Networks": {}}}]))
elif cmd == "exec":
    os.execvp(rest[1], rest[1:])
elif cmd == "stop":
    pid = int(open(os.path.join(state, rest[-1])).read())
    os.kill(pid, signal.SIGTERM)
'''


def fake_docker(tmp: Path) -> tuple[Path, dict[str, str]]:
    """A fake ``docker`` for the Docker executor, and the environment it needs."""
    path = tmp / "docker"
    path.write_text(FAKE_DOCKER)
    path.chmod(0o755)
    state = tmp / "containers"
    state.mkdir()
    return path, {"FAKE_DOCKER_DIR": str(state)}
