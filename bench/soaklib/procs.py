"""Processes the soak owns: its private minimesos cluster and N ``halyard scheduler`` processes.

The ideas are those of tests/integration/harness.py's SchedulerProc (one process per scheduler,
its own log, SIGKILL/SIGSTOP/SIGCONT by pid), with the soak's own flags and start wait; the small
helpers (a free port, waiting on a condition, reading cluster.env) are the test harness's own, as
the other benches use them.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import requests

from tests.integration.conftest import read_env
from tests.integration.harness import free_port
from tests.integration.v1client import until

ROOT = Path(__file__).resolve().parents[2]
MINIMESOS = ROOT / "minimesos"
HALYARD = str(Path(sys.executable).parent / "halyard")
ZK_SESSION_TIMEOUT = 4.0     # seconds (--zk-session-timeout of every scheduler)
UNREACHABLE_GRACE = 2.0      # seconds (--unreachable-grace)


class Cluster:
    """A private minimesos cluster in ``run_dir`` (``up`` and ``down`` with MINIMESOS_RUN_DIR).

    ``ha``: 3 ZooKeeper servers and 3 masters (``--masters 3 --zookeepers 3``); the schedulers
    find the leading master through ZooKeeper, and :attr:`master` is the leader's URL then.

    ``hosts``: every member on a network host of its own (``up --hosts``), and ``schedulers`` more
    hosts (``sched1`` ..) for the schedulers (``host add``); :attr:`host_addresses` names them."""

    def __init__(self, run_dir: Path, agents: int, port: int, zk_port: int, task_ports: int,
                 ha: bool = False, docker: bool = True, hosts: bool = False, schedulers: int = 0):
        self.run_dir, self.agents = run_dir, agents
        self.port, self.zk_port, self.task_ports = port, zk_port, task_ports
        self.ha, self.docker_on, self.hosts, self.scheduler_hosts = ha, docker, hosts, schedulers
        self.env: dict[str, str] = {}
        self.host_addresses: dict[str, str] = {}   # added host -> its address (``--hosts``)
        self._leader: Optional[str] = None   # the leading master's URL, as last found

    @property
    def minimesos_env(self) -> dict[str, str]:
        """The environment a minimesos command on this cluster runs with."""
        return {**os.environ, "MINIMESOS_RUN_DIR": str(self.run_dir)}

    def _cmd(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        env = self.minimesos_env
        return subprocess.run([str(MINIMESOS / args[0]), *args[1:]], capture_output=True, text=True,
                              timeout=timeout, env=env)

    def run(self, *args: str, timeout: float = 300) -> None:
        """A minimesos command on this cluster (``agent stop 3``, ``zk restart``...); RuntimeError when it fails."""
        proc = self._cmd(*args, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"minimesos {' '.join(args)} failed ({proc.returncode}): {proc.stdout[-2000:]}"
                               f"{proc.stderr[-2000:]}")

    def up(self) -> dict[str, str]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        shape = ["--masters", "3", "--zookeepers", "3"] if self.ha else []
        self.run("up", "--agents", str(self.agents), "--port", str(self.port), "--zk-port", str(self.zk_port),
                 "--task-ports", str(self.task_ports), *shape, *([] if self.docker_on else ["--no-docker"]),
                 *(["--hosts"] if self.hosts else []), timeout=900)
        for i in range(1, self.scheduler_hosts + 1 if self.hosts else 1):
            name, address = (self.output("host", "add", f"sched{i}") or "").split()
            self.host_addresses[name] = address
        return self.read()

    def read(self) -> dict[str, str]:
        """``cluster.env`` of a cluster that is up (``up`` reads it; a cluster started elsewhere too)."""
        self.env = read_env(self.run_dir / "cluster.env")
        return self.env

    def output(self, *args: str, timeout: float = 60) -> Optional[str]:
        """A minimesos command's output (``master leader``...); None when it fails."""
        proc = self._cmd(*args, timeout=timeout)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def pid(self, member: str) -> Optional[int]:
        """The pid of ``member`` (``zk1``, ``master2``, ``agent3``) from the run dir, None when it is not running."""
        try:
            return int(json.loads((self.run_dir / "pids" / f"{member}.pid").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None

    def pids(self) -> dict[str, int]:
        """Every member's pid, by name."""
        found = {}
        for path in sorted((self.run_dir / "pids").glob("*.pid")):
            pid = self.pid(path.stem)
            if pid is not None:
                found[path.stem] = pid
        return found

    def down(self) -> Optional[str]:
        """Stops everything ``up`` started; what went wrong, or None."""
        proc = self._cmd("down", timeout=300)
        return None if proc.returncode == 0 else (proc.stdout + proc.stderr)[-2000:]

    @property
    def masters(self) -> list[str]:
        """Every master's URL (one without HA)."""
        return self.env["MASTERS"].split(",") if "MASTERS" in self.env else [self.env["MESOS_MASTER"]]

    def leading_master(self, timeout: float = 2) -> Optional[str]:
        """The leading master's URL as the masters name it (``/master/redirect``); None when none leads
        or none answers. Without HA, the master."""
        if not self.ha:
            return self.env["MESOS_MASTER"]
        for url in dict.fromkeys(([self._leader] if self._leader else []) + self.masters):
            try:
                resp = requests.get(url + "/master/redirect", timeout=timeout, allow_redirects=False)
            except requests.RequestException:
                continue
            where = resp.headers.get("Location", "")
            if resp.status_code == 307 and where.startswith("//"):
                return "http:" + where
        return None

    @property
    def master(self) -> str:
        """The master's URL to read (in HA the leader's, or the last known leader's when none answers)."""
        if self.ha:
            self._leader = self.leading_master() or self._leader or self.masters[0]
            return self._leader
        return self.env["MESOS_MASTER"]

    def agent_host(self, k: int) -> str:
        """Agent ``k``'s hostname as the master names it (``127.0.0.K``, or its host's address)."""
        return self.env[f"MESOS_AGENT{k}"].split("//", 1)[1].rsplit(":", 1)[0]

    def net(self, *args: str) -> None:
        """``minimesos/net ARGS`` (``cut agent2 masters --for 9``, ``heal``): ``--hosts`` only."""
        self.run("net", *args, timeout=60)

    @property
    def zk_hosts(self) -> str:
        return self.env["ZK"].removeprefix("zk://")

    def docker(self, *args: str, timeout: float = 60, agent: int = 1) -> subprocess.CompletedProcess:
        """``docker ARGS`` against the cluster's dockerd (with ``--hosts``, agent ``agent``'s own)."""
        where = self.env["DOCKER_HOST"].replace("/agent1/", f"/agent{agent}/") if self.hosts else self.env["DOCKER_HOST"]
        return subprocess.run(["docker", "-H", where, *args], capture_output=True, text=True, timeout=timeout)


class SchedulerProc:
    """One ``halyard scheduler``; several share the chroot (one leads). With a ``--hosts``
    cluster, scheduler I runs on host ``sched<I+1>`` (``minimesos/host exec``, which execs it: the
    pid is Halyard's own), listening on that host's address and port ``--port + 10 + I``."""

    def __init__(self, cluster: Cluster, chroot: str, name: str, log_dir: Path, index: int,
                 session_timeout: float = ZK_SESSION_TIMEOUT):
        self.cluster, self.chroot, self.name, self.index = cluster, chroot, name, index
        self.session_timeout = session_timeout
        self.host: Optional[str] = f"sched{index + 1}" if cluster.hosts else None
        if self.host is not None:
            self.address, self.port = cluster.host_addresses[self.host], cluster.port + 10 + index
        else:
            self.address, self.port = "127.0.0.1", free_port()
        self.url = f"http://{self.address}:{self.port}"
        self.log = log_dir / f"scheduler-{index}.log"
        self.proc: Optional[subprocess.Popen] = None
        self.frozen = False
        self.frozen_at: Optional[float] = None   # when it was last frozen

    def start(self, wait: float = 60) -> "SchedulerProc":
        argv = [HALYARD, "scheduler", "--master", self.cluster.env["MESOS_MASTER"],  # zk://... in HA
                "--zk", f"{self.cluster.env['ZK']}/{self.chroot}", "--listen", f"{self.address}:{self.port}",
                "--name", self.name, "--unreachable-grace", f"{UNREACHABLE_GRACE:g}s",
                "--zk-session-timeout", f"{self.session_timeout:g}s", "--no-discovery"]
        with open(self.log, "ab") as out:
            out.write(f"\n=== soak: start {time.strftime('%H:%M:%S')} ===\n".encode())
            if self.host is not None:
                argv = [str(MINIMESOS / "host"), "exec", self.host, "--", *argv]
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env=self.cluster.minimesos_env)
        self.frozen = False
        until(lambda: requests.get(self.url + "/ping", timeout=1).ok, wait, interval=0.5,
              what=f"scheduler {self.index} API")
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stats(self, timeout: float = 2) -> Optional[dict[str, Any]]:
        try:
            resp = requests.get(self.url + "/v1/stats", timeout=timeout)
            return resp.json() if resp.ok else None
        except (requests.RequestException, ValueError):
            return None

    def signal(self, sig: int) -> None:
        if self.alive:
            os.kill(self.proc.pid, sig)  # type: ignore[union-attr]

    def freeze(self) -> None:
        self.frozen_at = time.time()
        self.signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        self.signal(signal.SIGCONT)
        self.frozen = False

    def kill9(self) -> None:
        if self.alive:
            self.signal(signal.SIGCONT)
            os.kill(self.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
            self.proc.wait(10)  # type: ignore[union-attr]
        self.frozen = False

    def stop(self) -> None:
        if self.alive:
            self.thaw()
            self.proc.terminate()  # type: ignore[union-attr]
            try:
                self.proc.wait(20)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                self.kill9()
