"""Real `halyard scheduler` processes for the integration tests, and views of the master's state."""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import requests

from .v1client import until

HALYARD = str(Path(sys.executable).parent / "halyard")


#: Ports handed out for schedulers and other servers the tests start: below the kernel's ephemeral
#: range (32768+, so no outgoing connection takes one), above the service ports (10000-20000) that
#: HAProxy binds, clear of the local clusters' ports; split between `make test`'s xdist workers.
PORTS = range(20100, 26000)
_handed: set[int] = set()


def _ports() -> range:
    """:data:`PORTS`, or ``HALYARD_TEST_PORTS=FIRST-LAST`` (a developer whose runs share the machine
    with others' keeps to a range of their own)."""
    given = os.environ.get("HALYARD_TEST_PORTS")
    if not given:
        return PORTS
    first, _, last = given.partition("-")
    return range(int(first), int(last) + 1)


def _worker_ports() -> range:
    ports = _ports()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...: inherited by the benches the tests run
    if not (worker.startswith("gw") and worker[2:].isdigit()):
        return ports
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    share = len(ports) // workers
    start = ports.start + share * (int(worker[2:]) % workers)
    return range(start, start + share)


def free_port() -> int:
    """A port nothing listens on, never handed out before by this process, from this worker's share
    (the kernel's ``bind(0)`` hands the same port to two workers asking at nearly the same time)."""
    candidates = [p for p in _worker_ports() if p not in _handed]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port
    raise RuntimeError(f"no free port left in {_worker_ports()}")


STARTED: list["SchedulerProc"] = []  # every scheduler started in this session, newest last


class SchedulerProc:
    """One scheduler process; several may share a ``chroot`` (one leads)."""

    def __init__(self, cluster: dict[str, str], chroot: str, name: str, log_dir: Path, *extra: str,
                 port: Optional[int] = None):
        self.cluster, self.chroot, self.name, self.extra = cluster, chroot, name, list(extra)
        self.port = port or free_port()  # a port of a range reserved for the test, or any free one
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"scheduler-{self.port}.log"
        self.proc: Optional[subprocess.Popen] = None
        # With --tokens-file, the harness itself uses the first read-write token it finds there.
        self.headers: dict[str, str] = {}
        if "--tokens-file" in self.extra:
            path = self.extra[self.extra.index("--tokens-file") + 1]
            token = next(line.split()[0] for line in Path(path).read_text().splitlines()
                         if line.strip() and not line.startswith("#") and line.split()[1] == "rw")
            self.headers = {"Authorization": f"Bearer {token}"}

    def start(self) -> "SchedulerProc":
        argv = [HALYARD, "scheduler", "--master", self.cluster["MESOS_MASTER"],
                "--zk", f"{self.cluster['ZK']}/{self.chroot}", "--listen", f"127.0.0.1:{self.port}",
                "--name", self.name, "--unreachable-grace", "2s", "--zk-session-timeout", "4s", *self.extra]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        STARTED.append(self)
        until(lambda: requests.get(self.url + "/ping", timeout=1).ok, 30, what=f"scheduler {self.port} API")
        return self

    def log_tail(self, lines: int) -> str:
        """The last ``lines`` lines of this scheduler's log (for a failed test's report)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"

    def stats(self) -> dict[str, Any]:
        return requests.get(self.url + "/v1/stats", timeout=5, headers=self.headers).json()

    def leading(self) -> bool:
        try:
            return bool(self.stats()["leader"])
        except (requests.RequestException, ValueError):
            return False

    def freeze(self) -> None:
        """SIGSTOP: the process stops answering anyone, ZooKeeper included."""
        os.kill(self.proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)  # type: ignore[union-attr]

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()

    # --- API ----------------------------------------------------------------------------------

    def post_app(self, app: dict) -> requests.Response:
        return requests.post(self.url + "/v2/apps", json=app, timeout=30, headers=self.headers)

    def put_app(self, app_id: str, body: dict, force: bool = True) -> requests.Response:
        """Change an app; by default superseding a deployment under way (Marathon's ``?force=true``)."""
        return requests.put(self.url + "/v2/apps" + app_id, json=body, params={"force": str(force).lower()},
                            timeout=30)

    def tasks(self, app_id: str) -> list[dict]:
        resp = requests.get(self.url + f"/v2/apps{app_id}/tasks", timeout=5, headers=self.headers)
        resp.raise_for_status()
        return resp.json()["tasks"]

    def running(self, app_id: str) -> list[dict]:
        return [t for t in self.tasks(app_id) if t["state"] == "TASK_RUNNING"]


def framework(cluster: dict[str, str], name: str) -> Optional[dict]:
    """The master's view of the (only) framework called ``name``."""
    data = requests.get(cluster["MESOS_MASTER"] + "/master/frameworks", timeout=5).json()
    found = [f for f in data["frameworks"] if f["name"] == name]
    assert len(found) <= 1, f"{len(found)} frameworks named {name}"
    return found[0] if found else None


def mesos_tasks(cluster: dict[str, str], name: str, states: tuple[str, ...] = ("TASK_RUNNING",)) -> dict[str, dict]:
    fw = framework(cluster, name)
    return {t["id"]: t for t in (fw or {}).get("tasks", []) if t["state"] in states}


def teardown(cluster: dict[str, str], name: str) -> None:
    fw = framework(cluster, name)
    if fw is not None:
        requests.post(cluster["MESOS_MASTER"] + "/master/teardown", data={"frameworkId": fw["id"]}, timeout=10)


def clean_shutdown(cluster: dict[str, str], name: str, schedulers: list["SchedulerProc"]) -> None:
    """Leave the cluster as an operator would: destroy every app through the leader, wait until the
    framework holds no task, stop the schedulers, then remove the (empty) framework.

    Tearing down a framework whose scheduler is gone while its tasks are still dying has crashed the
    Mesos 1.11 master's allocator here (a CHECK failure in recoverResources), so tasks end first.
    """
    def destroy_everything() -> bool:
        """Through whichever scheduler leads now (leadership may be moving: then try again)."""
        leader = next((s for s in schedulers if s.proc and s.proc.poll() is None and s.leading()), None)
        if leader is None:
            return False
        jobs = requests.get(leader.url + "/v1/jobs", params={"embed": "halyard"}, timeout=10,   # Eremetic's tasks too
                            headers=leader.headers).json()
        apps = requests.get(leader.url + "/v2/apps", timeout=10, headers=leader.headers).json()
        if not isinstance(jobs, list) or not isinstance(apps, dict) or "apps" not in apps:
            return False  # it stopped leading between the two calls
        for job in jobs:
            requests.delete(leader.url + "/v1/jobs/" + job["id"], params={"stopCurrentJobRuns": "true"},
                            timeout=30, headers=leader.headers)
        for app in apps["apps"]:
            requests.delete(leader.url + "/v2/apps" + app["id"], params={"force": "true"}, timeout=30,
                            headers=leader.headers)
        return True

    if any(s.proc and s.proc.poll() is None for s in schedulers):
        try:
            until(destroy_everything, 30, what="the leader destroyed every job and app")
            until(lambda: not (framework(cluster, name) or {}).get("tasks"), 90, what="every task ended")
        except TimeoutError:
            pass  # fall back to the master's teardown below
    for s in schedulers:
        s.stop()
    teardown(cluster, name)
    until(lambda: framework(cluster, name) is None, 30, what="framework torn down")


def cli(s: SchedulerProc, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``halyard ARGS`` against scheduler ``s`` (through HALYARD_API); never raises on its exit code."""
    return subprocess.run([HALYARD, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HALYARD_API": s.url})


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def sleep_app(app_id: str, instances: int, docker: bool = False, **extra: Any) -> dict:
    app = {"id": app_id, "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": instances,
           "backoffSeconds": 1, **extra}
    if docker:
        app["container"] = {"type": "DOCKER", "docker": {"image": "local/busybox:1", "network": "HOST"}}
    return app


def docker_container_of(cluster: dict[str, str], task_id: str) -> Optional[str]:
    """The Docker container running ``task_id`` (found by its MESOS_TASK_ID environment)."""
    docker = ["/usr/bin/docker", "-H", cluster["DOCKER_HOST"]]
    ids = subprocess.run(docker + ["ps", "-q"], capture_output=True, text=True, check=True).stdout.split()
    for cid in ids:
        env = subprocess.run(docker + ["inspect", "--format", "{{json .Config.Env}}", cid], capture_output=True,
                             text=True).stdout
        if env and f"MESOS_TASK_ID={task_id}" in json.loads(env):
            return cid
    return None



@contextmanager
def leading_scheduler(cluster: dict[str, str], log_dir: Path, *extra: str) -> Iterator[SchedulerProc]:
    """One scheduler in a fresh chroot under a fresh framework name, leading; cleaned up after."""
    name = unique("halyard-test")
    s = SchedulerProc(cluster, unique("halyard-test"), name, log_dir, *extra).start()
    try:
        until(s.leading, 30, what="leader")
        yield s
    finally:
        clean_shutdown(cluster, name, [s])


def running_pid(pid: int) -> bool:
    """True while the process exists and has not finished (a zombie awaiting its reaper has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def processes_mentioning(needle: str) -> list[str]:
    """Live processes other than this one whose command line mentions ``needle``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or proc.name == str(os.getpid()):
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline and running_pid(int(proc.name)):
            found.append(f"{proc.name}: {cmdline[:160]}")
    return found


def masters_ready(cluster: dict) -> bool:
    """Every master of ``cluster`` (its ``MASTERS``) answers and its replica of the registry's log
    has caught up (``registrar/log/recovered``): a master failure after that leaves a quorum of
    replicas to the next leader."""
    for url in cluster["MASTERS"].split(","):
        metrics = requests.get(url + "/metrics/snapshot", timeout=5).json()
        if metrics.get("registrar/log/recovered", 1.0) != 1.0:
            return False
    return True
