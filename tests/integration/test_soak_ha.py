"""The chaos soak with ``--ha`` (bench/soak.py): 3 minutes on a private production-shaped cluster
(3 ZooKeeper servers, 3 masters, 5 agents, no Docker) with 3 schedulers, a fixed seed, the
control plane's faults in the draw (leading master kill -9 and SIGSTOP, ZooKeeper follower and
leader kills, quorum loss): no violation -- no task restarted by a master failover, 503s only
while ZooKeeper has no quorum or no scheduler leads -- a master failover among the faults, its
re-subscription time in the table, and nothing of the cluster left behind."""
from __future__ import annotations

import re

import pytest

from .test_soak import assert_nothing_left, run_soak

pytestmark = pytest.mark.integration
PORT, ZK_PORT, TASK_PORTS = 18550, 12781, 50000   # reserved for this test's private cluster


def test_a_three_minute_ha_soak_finds_no_violation(tmp_path):
    work = tmp_path / "soak-ha"
    faults, _, table = run_soak(work, "--ha", "--no-docker", "--minutes", "3", "--seed", "7", "--port", str(PORT),
                                "--zk-port", str(ZK_PORT), "--task-ports", str(TASK_PORTS))
    print("\n" + table)
    assert faults >= 3, table
    failovers = [line for line in table.splitlines() if re.match(r"(master-kill9|master-freeze|quorum-loss) ", line)]
    assert failovers, table
    assert any(re.search(r"\d+\.\ds +\d+\.\ds$", line) for line in failovers), table   # re-subscription recorded
    assert_nothing_left(work, PORT, PORT + 100, PORT + 200, ZK_PORT, ZK_PORT + 1, ZK_PORT + 2)
