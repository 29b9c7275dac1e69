"""Mesos framework authentication, on a private cluster of its own (``minimesos/up --auth``).

Its master requires HTTP basic credentials from schedulers (principal ``halyard``, a secret that
``up`` generates) and its ACLs let only that principal register, in role ``*``. A scheduler with the
right secret subscribes and runs tasks and jobs; a wrong secret, an unknown principal or a role the
ACLs refuse ends the scheduler at once with a message naming the principal; a master that cannot be
reached is retried with backoff, and the log says so.
"""
from __future__ import annotations

import collections
import collections.abc
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
from marathon import MarathonClient
from marathon.models import MarathonApp

from .conftest import MINIMESOS, minimesos, read_env
from .harness import HALYARD, SchedulerProc, clean_shutdown, cli, framework, free_port, unique
from .v1client import until

pytestmark = pytest.mark.integration

# marathon-python 0.13 uses `collections.Iterable`, which Python 3.10 removed (as in test_marathon_client).
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

RUN = Path("/tmp/wt-auth-run")
ENV = {"MINIMESOS_RUN_DIR": str(RUN)}
UP = ("up", "--auth", "--agents", "1", "--port", "15350", "--zk-port", "12481", "--task-ports", "44000")
REFUSED_WITHIN = 60.0  # seconds: a refused scheduler exits well before this


@pytest.fixture(scope="module")
def auth_cluster() -> Iterator[dict[str, str]]:
    """The private cluster's variables; it is stopped at the end, and also when ``up`` fails."""
    try:
        minimesos(*UP, env=ENV, timeout=600)
    except AssertionError:
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **ENV}, capture_output=True, timeout=300)
        raise
    try:
        yield read_env(RUN / "cluster.env")
    finally:
        minimesos("down", env=ENV, timeout=300)


def run_refused(cluster: dict[str, str], tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run a scheduler that the master should refuse; its result and how long it ran."""
    argv = [HALYARD, "scheduler", "--master", cluster["MESOS_MASTER"], "--zk", f"{cluster['ZK']}/{unique('auth')}",
            "--listen", f"127.0.0.1:{free_port()}", "--name", unique("halyard-auth"), *extra]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=REFUSED_WITHIN + 30)
    (tmp_path / "refused.log").write_text(proc.stdout + proc.stderr)
    return proc, time.monotonic() - t0


def test_up_auth_writes_the_secret_credentials_and_acls_and_agents_still_register(auth_cluster):
    secret_file = Path(auth_cluster["MESOS_SECRET_FILE"])
    assert auth_cluster["MESOS_PRINCIPAL"] == "halyard" and secret_file.parent == RUN
    assert secret_file.stat().st_mode & 0o777 == 0o600 and (RUN / "credentials.json").stat().st_mode & 0o777 == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) >= 24
    assert json.loads((RUN / "credentials.json").read_text()) == {
        "credentials": [{"principal": "halyard", "secret": secret}]}
    flags = requests.get(auth_cluster["MESOS_MASTER"] + "/master/flags", timeout=5).json()["flags"]
    assert flags["authenticate_http_frameworks"] == "true" and flags["http_framework_authenticators"] == "basic"
    assert flags["credentials"] == str(RUN / "credentials.json") and 'values: "halyard"' in flags["acls"]
    assert flags["authenticate_agents"] == "false"
    agents = requests.get(auth_cluster["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"]
    assert [a["hostname"] for a in agents if a["active"]] == ["127.0.0.1"]
    # A scheduler without credentials is refused before its subscription starts.
    bare = requests.post(auth_cluster["MESOS_MASTER"] + "/api/v1/scheduler", timeout=5,
                         json={"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "root", "name": "x"}}},
                         headers={"Accept": "application/json"})
    assert bare.status_code == 401
    status = subprocess.run([str(MINIMESOS / "status")], env={**os.environ, **ENV}, capture_output=True, text=True)
    assert status.returncode == 0 and "frameworks authenticate as halyard" in status.stdout


def test_the_right_secret_subscribes_and_runs_an_app_and_a_job(auth_cluster, tmp_path):
    name = unique("halyard-auth")
    s = SchedulerProc(auth_cluster, unique("auth"), name, tmp_path, "--principal", "halyard",
                      "--secret-file", auth_cluster["MESOS_SECRET_FILE"])
    try:
        s.start()
        until(s.leading, 30, what="leader")
        until(lambda: framework(auth_cluster, name), 30, what="framework subscribed")
        assert framework(auth_cluster, name)["principal"] == "halyard"
        client = MarathonClient(s.url)
        client.create_app("auth-sleep", MarathonApp(cmd="sleep 3600", cpus=0.1, mem=32, instances=1))
        until(lambda: client.get_app("auth-sleep").tasks_running == 1, 60, what="the app's task running")
        (tmp_path / "job.yaml").write_text("id: auth.hello\ncmd: 'echo authenticated-job'\ncpus: 0.1\nmem: 32\n")
        job = cli(s, "job", "run", str(tmp_path / "job.yaml"), "--wait", timeout=90)
        assert job.returncode == 0 and "authenticated-job" in job.stdout, job.stdout + job.stderr
    finally:
        clean_shutdown(auth_cluster, name, [s])


@pytest.mark.parametrize("principal, secret, extra, expected", [
    ("halyard", "not-the-secret", (), r"the master refused framework principal 'halyard': wrong secret .*\(401\)"),
    ("intruder", None, (), r"the master refused framework principal 'intruder': .*unknown principal \(401\)"),
    ("halyard", None, ("--role", "web"),
     r"the master refused framework principal 'halyard': not allowed by its ACLs \(Not authorized .*web"),
], ids=["wrong-secret", "unknown-principal", "role-refused-by-acls"])
def test_a_refused_scheduler_exits_non_zero_naming_the_principal(auth_cluster, tmp_path, principal, secret, extra,
                                                                 expected):
    secret_file = Path(auth_cluster["MESOS_SECRET_FILE"])
    if secret is not None:
        secret_file = tmp_path / "secret"
        secret_file.write_text(secret + "\n")
    proc, seconds = run_refused(auth_cluster, tmp_path, "--principal", principal, "--secret-file", str(secret_file),
                                *extra)
    assert proc.returncode != 0 and seconds < REFUSED_WITHIN
    last = proc.stderr.strip().splitlines()[-1]
    assert re.match("error: " + expected, last), proc.stderr[-3000:]
    assert proc.stderr.count("leading (epoch") == 1  # not re-subscribing: one leadership, then the end


def test_an_unreachable_master_is_retried_with_backoff_and_the_log_says_so(auth_cluster, tmp_path):
    closed = free_port()  # nothing listens there
    log = tmp_path / "unreachable.log"
    argv = [HALYARD, "scheduler", "--master", f"http://127.0.0.1:{closed}",
            "--zk", f"{auth_cluster['ZK']}/{unique('auth')}", "--listen", f"127.0.0.1:{free_port()}", "--name", unique("halyard-auth"), "--principal", "halyard",
            "--secret-file", auth_cluster["MESOS_SECRET_FILE"]]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        pattern = re.compile(rf"master 127\.0\.0\.1:{closed} unreachable; retrying in (\d+(?:\.\d+)?) s")
        waits = until(lambda: len(found := [float(w) for w in pattern.findall(log.read_text())]) >= 2 and found, 60,
                      what="two retries in the log")
        assert waits[1] > waits[0]  # backoff: each wait longer than the one before
        assert proc.poll() is None  # still trying, not given up
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0
