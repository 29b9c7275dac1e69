"""Processes around the simulator: a private ZooKeeper, the simulator itself, real ``halyard
scheduler`` processes and the null framework; every one started here is stopped by its pid.

Used by ``bench/scale.py`` and ``tests/integration/test_scale_small.py``. The ideas are those of
bench/soaklib/procs.py (one process per component, its own log, SIGKILL by pid); ``free_port`` and
``until`` are the integration harness's, as in the other benches.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

BENCH = Path(__file__).resolve().parents[1]
HALYARD = str(Path(sys.executable).parent / "halyard")
ZK_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"

# The integration harness's free_port and until, as the other benches use them (one copy of each).
sys.path.insert(0, str(BENCH.parent))
from tests.integration.harness import free_port  # noqa: E402,F401 (re-exported for bench/scale.py)
from tests.integration.v1client import until  # noqa: E402,F401 (re-exported for bench/scale.py)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Proc:
    """One child process with its log; stopped by its pid (SIGTERM, then SIGKILL)."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None):
        self.name, self.argv, self.log, self.env, self.cwd = name, argv, log, env, cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env=self.env, cwd=self.cwd)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(10)   # type: ignore[union-attr]

    def stop(self, grace: float = 15) -> None:
        if self.alive:
            self.proc.terminate()   # type: ignore[union-attr]
            try:
                self.proc.wait(grace)   # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                self.kill9()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"


class ZooKeeper(Proc):
    """A private standalone ZooKeeper 3.8 on loopback, its data in ``work/zk``."""

    def __init__(self, work: Path, port: int):
        self.port = port
        data = work / "zk"
        (data / "data").mkdir(parents=True, exist_ok=True)
        cfg = data / "zoo.cfg"
        cfg.write_text("\n".join([
            "tickTime=1000", "initLimit=10", "syncLimit=5", f"dataDir={data / 'data'}", f"clientPort={port}",
            "clientPortAddress=127.0.0.1", "admin.enableServer=false", "4lw.commands.whitelist=ruok,stat,srvr,mntr",
            "maxClientCnxns=0", "minSessionTimeout=2000", "maxSessionTimeout=60000", "jute.maxbuffer=4194304", ""]))
        super().__init__("zookeeper", ["java", "-Xmx1g", "-XX:+UseSerialGC", f"-Dzookeeper.log.dir={data}",
                                       "-Dzookeeper.root.logger=WARN,CONSOLE", "-Djute.maxbuffer=4194304",
                                       "-cp", ZK_CLASSPATH, "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                                       str(cfg)], work / "zookeeper.log")

    def four_letter(self, word: str, timeout: float = 5) -> str:
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode()

    def mntr(self) -> dict[str, str]:
        return dict(line.split("\t", 1) for line in self.four_letter("mntr").splitlines() if "\t" in line)

    def start(self) -> ZooKeeper:
        super().start()
        until(lambda: self.four_letter("ruok", 1) == "imok", 60, 0.2, "ZooKeeper up")
        return self

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"


def znode_census(hosts: str, root: str) -> dict[str, Any]:
    """Every znode under ``root``: count, total data bytes, the largest (path and bytes).
    Reads stats in pipelined batches (kazoo's async calls)."""
    from kazoo.client import KazooClient

    zk = KazooClient(hosts=hosts, timeout=30)
    zk.start(30)
    try:
        count = total = 0
        largest = ("", 0)
        level = [root]
        while level:
            children: list[str] = []
            for i in range(0, len(level), 2000):
                batch = level[i:i + 2000]
                stats = [(p, zk.exists_async(p)) for p in batch]
                kids = [(p, zk.get_children_async(p)) for p in batch]
                for p, res in stats:
                    stat = res.get(timeout=60)
                    if stat is None:
                        continue
                    count += 1
                    total += stat.dataLength
                    if stat.dataLength > largest[1]:
                        largest = (p, stat.dataLength)
                for p, res in kids:
                    try:
                        children += [f"{p.rstrip('/')}/{c}" for c in res.get(timeout=60)]
                    except Exception:   # noqa: BLE001 - removed meanwhile
                        pass
            level = children
        return {"znodes": count, "bytes": total, "largest_znode": largest[0], "largest_znode_bytes": largest[1]}
    finally:
        zk.stop()
        zk.close()


class Simulator(Proc):
    """``python -m mesos_sim`` with these flags; ``stats()`` and the faults over its HTTP API."""

    def __init__(self, work: Path, port: int, *flags: str):
        self.port = port
        env = {**os.environ, "PYTHONPATH": str(BENCH) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        super().__init__("mesos_sim", [sys.executable, "-m", "mesos_sim", "--port", str(port), *flags],
                         work / "mesos_sim.log", env=env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Simulator:
        super().start()
        until(lambda: requests.get(self.url + "/health", timeout=1).ok, 30, 0.1, "simulator up")
        return self

    def get(self, path: str, timeout: float = 60) -> Any:
        resp = requests.get(self.url + path, timeout=timeout)
        resp.raise_for_status()
        return resp.json()

    def post(self, path: str, body: dict | None = None, timeout: float = 60) -> Any:
        resp = requests.post(self.url + path, json=body or {}, timeout=timeout)
        resp.raise_for_status()
        return resp.json()

    def stats(self) -> dict[str, Any]:
        return self.get("/sim/stats")

    def framework(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.stats()["frameworks"] if f["name"] == name), None)

    def stop(self, grace: float = 10) -> None:
        if self.alive:
            try:
                requests.post(self.url + "/sim/shutdown", timeout=2)
                self.proc.wait(grace)   # type: ignore[union-attr]
            except (requests.RequestException, subprocess.TimeoutExpired):
                pass
        super().stop(grace)


def null_framework(sim: Simulator, tasks: int, timeout: float = 600, **opts: Any) -> dict[str, Any]:
    """Run the null framework to completion against ``sim`` (its own process); its JSON result."""
    argv = [sys.executable, "-m", "mesos_sim.null_framework", "--master", f"127.0.0.1:{sim.port}",
            "--tasks", str(tasks), "--timeout", str(timeout)]
    for key, value in opts.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 60, env=sim.env,
                         start_new_session=True)
    if out.returncode != 0:
        raise RuntimeError(f"null framework failed ({out.returncode}): {out.stdout[-2000:]}{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Scheduler(Proc):
    """One ``halyard scheduler`` against the simulator and the private ZooKeeper."""

    def __init__(self, work: Path, index: int, sim: Simulator, zk: ZooKeeper, chroot: str, name: str,
                 *extra: str, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.index = index
        argv = [HALYARD, "scheduler", "--master", sim.url, "--zk", f"zk://{zk.hosts}/{chroot}",
                "--listen", f"127.0.0.1:{self.port}", "--name", name, *extra]
        super().__init__(f"scheduler-{index}", argv, work / f"scheduler-{index}.log")

    def start(self, wait: float = 60) -> Scheduler:
        super().start()
        until(lambda: requests.get(self.url + "/ping", timeout=1).ok, wait, 0.2, f"{self.name} API")
        return self

    def stats(self, timeout: float = 5) -> dict[str, Any] | None:
        try:
            resp = requests.get(self.url + "/v1/stats", timeout=timeout)
            return resp.json() if resp.ok else None
        except (requests.RequestException, ValueError):
            return None

    def leading(self) -> bool:
        return self.alive and bool((self.stats() or {}).get("leader"))


def stop_all(procs: list[Proc]) -> list[str]:
    """Stop every process (newest first); the names of those that needed SIGKILL or failed."""
    problems = []
    for p in reversed(procs):
        try:
            p.stop()
        except Exception as exc:   # noqa: BLE001 - stop the others anyway
            problems.append(f"{p.name}: {exc!r}")
            try:
                p.kill9()
            except Exception:   # noqa: BLE001
                pass
    return problems


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
