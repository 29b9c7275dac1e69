"""`make run HA=1` (scripts/run-local.sh with HA=1) on a production-shaped cluster of its own: 3
ZooKeeper servers, 3 masters (with Docker: the hello app and the release need it), 3 schedulers.

About 105 s (a second cluster's start and stop with Docker), so it runs only with
HALYARD_MAKE_RUN_HA=1, not in `make test`."""
from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from .conftest import MINIMESOS, minimesos
from .harness import free_port, unique

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _three_free_ports() -> int:
    """A port P with P, P+1 and P+2 free on loopback (the HA run's three schedulers)."""
    for _ in range(50):
        base = free_port()
        try:
            for offset in (1, 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise AssertionError("no three consecutive free ports")


@pytest.mark.skipif(os.environ.get("HALYARD_MAKE_RUN_HA") != "1",
                    reason="about 105 s (its own HA cluster with Docker): outside make test; HALYARD_MAKE_RUN_HA=1 runs it")
def test_make_run_ha_runs_three_schedulers_on_three_masters(tmp_path):
    """`make run HA=1` on its own production-shaped cluster (3 ZooKeeper servers, 3 masters, the
    reserved ports 18550/12781/50000, a tmp run dir, started here so that the script finds it):
    three schedulers, one leader and two standbys, each URL printed; the app and the job through
    a standby's address (it forwards to the leader)."""
    dry = subprocess.run(["make", "-n", "run", "HA=1"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "HA='1' scripts/run-local.sh" in dry.stdout, dry.stdout + dry.stderr
    run = tmp_path / "run"
    mm_env = {"MINIMESOS_RUN_DIR": str(run)}
    minimesos("up", "--masters", "3", "--zookeepers", "3", "--port", "18550", "--zk-port", "12781",
              "--task-ports", "50000", env=mm_env, timeout=600)
    try:
        port = _three_free_ports()
        name = unique("halyard-make-run-ha")
        env = {**os.environ, **mm_env, "HA": "1", "HALYARD_LISTEN": f"127.0.0.1:{port}", "HALYARD_CHROOT": name,
               "HALYARD_NAME": name}
        proc = subprocess.run([str(ROOT / "scripts" / "run-local.sh"), "--once"], capture_output=True, text=True,
                              timeout=300, env=env, cwd=ROOT)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        roles = re.findall(r"^Scheduler: +http://127\.0\.0\.1:(\d+)/ui/ +\((leader|standby)\)$", proc.stdout, re.M)
        assert sorted(int(p) for p, _ in roles) == [port, port + 1, port + 2], proc.stdout
        assert sorted(role for _, role in roles) == ["leader", "standby", "standby"], proc.stdout
        assert proc.stdout.count("-> hello from 127.0.0.") == 2  # both instances answered
        assert "report done on" in proc.stdout and "greeting: hello" in proc.stdout
        assert "http://127.0.0.1:18550 http://127.0.0.1:18650 http://127.0.0.1:18750" in proc.stdout
    finally:
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **mm_env}, capture_output=True, timeout=300)
