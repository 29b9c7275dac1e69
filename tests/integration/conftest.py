"""Session fixtures: a real local cluster brought up (and torn down) with minimesos' own commands.

If a cluster is already running from ``minimesos/.run`` (a developer's), the tests use it and
leave it running; otherwise they start one and stop it at the end.
"""
from __future__ import annotations

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
