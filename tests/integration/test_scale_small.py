"""bench/scale.py at a small size, so that the simulator and the bench do not rot: 200 simulated
agents, a launch, 20 apps x 100 instances (2,000 tasks), a kill -9 failover, the API reads; the
figures are sane, nothing was relaunched or killed by the failover, and nothing it started is
left behind. Needs ZooKeeper's jar and Java (as minimesos does), not the local Mesos cluster."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import processes_mentioning

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SIM_PORT, ZK_PORT = 17150, 17281   # not the bench's defaults, not the shared cluster's
ZK_SESSION_TIMEOUT = 4.0


def _listening(port: int) -> bool:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    return f":{port} " in out


def test_two_thousand_tasks_on_two_hundred_simulated_agents_survive_a_failover(tmp_path):
    assert shutil.which("java") and Path("/usr/share/java/zookeeper.jar").exists(), \
        "needs Java and ZooKeeper's jar (minimesos/up installs them: apt-get install zookeeper)"
    work = tmp_path / "scale"
    argv = [sys.executable, str(ROOT / "bench" / "scale.py"), "--agents", "200", "--scenario", "all",
            "--launch-instances", "500", "--apps", "20", "--app-instances", "100", "--restart-apps", "2",
            "--samples", "3", "--settle", "5", "--zk-session-timeout", f"{ZK_SESSION_TIMEOUT:g}s",
            "--deadline", "300", "--sim-port", str(SIM_PORT), "--zk-port", str(ZK_PORT), "--json",
            "--work-dir", str(work), "--keep"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    tail = f"\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    assert proc.returncode == 0, tail
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("scale: ") and "tasks/s (null" in lines[-1], tail
    r = json.loads("\n".join(lines[:-1]))

    assert r["launch.tasks_per_s"] > 0 and r["launch.null_tasks_per_s"] > 0, tail
    assert r["launch.accept_p99_ms"] is not None, tail
    assert r["many.seconds_all_running"] > 0, tail
    assert r["failover.relaunched"] == 0 and r["failover.killed"] == 0, tail
    assert r["failover.reconcile_tasks_explicit"] + r["failover.reconcile_implicit"] > 0, tail
    assert r["failover.seconds_to_serve"] <= ZK_SESSION_TIMEOUT + 60, tail
    for read in ("apps", "apps_embed_tasks", "tasks", "app", "scale", "cluster"):
        assert r[f"api.{read}.p99_ms"] is not None, (read, tail)
    assert r["api.errors"] == {}, tail
    assert r["events.received"] > 0, tail
    assert 0 < r["zk.largest_znode_bytes"] < 256 * 1024, tail
    assert r["memory.rss_mb_50k"] > 0, tail

    assert not processes_mentioning(str(work)), processes_mentioning(str(work))
    assert not _listening(SIM_PORT) and not _listening(ZK_PORT)
