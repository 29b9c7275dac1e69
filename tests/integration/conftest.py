"""Session fixtures: a real local cluster brought up (and torn down) with minimesos' own commands.

If a cluster is already running from ``minimesos/.run`` (a developer's), the tests use it and
leave it running; otherwise they start one and stop it at the end.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
MINIMESOS = ROOT / "minimesos"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed integration test's report carries the log tails of the schedulers running when it
    failed (the newest three), so that a failure on CI says what the scheduler saw."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when == "call":
        from .harness import STARTED

        live = [s for s in STARTED if s.proc is not None and s.proc.poll() is None][-3:]
        for s in live:
            report.sections.append((f"scheduler {s.name} at {s.url}: log tail", s.log_tail(80)))


def minimesos(*args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run a minimesos command; fail the test with its output if it fails."""
    proc = subprocess.run([str(MINIMESOS / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise AssertionError(f"minimesos {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def private_cluster(up: tuple[str, ...], run_dir: str, tmp_root: str = "/tmp") -> tuple[tuple[str, ...], str]:
    """A module's private cluster: its ``minimesos up`` arguments and run dir, as written, or, with
    ``HALYARD_TEST_CLUSTER=MASTER_PORT,ZK_PORT,FIRST_TASK_PORT-LAST_TASK_PORT`` (a developer whose runs
    share the machine with others'), on those ports: the task range split evenly between the
    agents, the run dir named for the master port."""
    given = os.environ.get("HALYARD_TEST_CLUSTER")
    if not given:
        return up, run_dir
    master, zk, tasks = given.split(",")
    first_port, last_port = (int(p) for p in tasks.split("-"))
    args = list(up)
    agents = int(args[args.index("--agents") + 1])
    for flag, value in (("--port", master), ("--zk-port", zk), ("--task-ports", str(first_port))):
        args[args.index(flag) + 1] = value
    width = (last_port - first_port + 1) // agents
    resources = args[args.index("--resources") + 1] if "--resources" in args else "cpus:2;mem:2048;disk:4096"
    config = Path(tmp_root) / f"halyard-test-cluster-{master}.json"
    config.write_text(json.dumps({"agents": [
        {"resources": f"{resources};ports:[{first_port + k * width}-{first_port + (k + 1) * width - 1}]"}
        for k in range(agents)]}))
    return (*args, "--config", str(config)), f"{run_dir}-{master}"


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def _running() -> bool:
    env_file = MINIMESOS / ".run" / "cluster.env"
    if not env_file.exists():
        return False
    status = subprocess.run([str(MINIMESOS / "status")], capture_output=True, text=True)
    if status.returncode != 0:  # a running cluster that lacks only its registry (started before it had one)
        subprocess.run([str(MINIMESOS / "registry"), "start"], capture_output=True, text=True)
        status = subprocess.run([str(MINIMESOS / "status")], capture_output=True, text=True)
    return status.returncode == 0


@pytest.fixture(scope="module")
def sched(cluster, tmp_path_factory, request):
    """One leading scheduler for a test module (fresh chroot and framework name), cleaned up after.
    Modules that need other scheduler flags define their own ``sched``."""
    from .harness import leading_scheduler

    with leading_scheduler(cluster, tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])) as s:
        yield s


@pytest.fixture(scope="session")
def cluster() -> Iterator[dict[str, str]]:
    """The cluster's variables (MESOS_MASTER, ZK, DOCKER_HOST, MESOS_AGENTk) from cluster.env."""
    started = not _running()
    if started:
        minimesos("up", "--agents", "3")
    env = read_env(MINIMESOS / ".run" / "cluster.env")
    requests.get(env["MESOS_MASTER"] + "/master/state", timeout=5).raise_for_status()
    yield env
    if started:
        minimesos("down")
