"""How `make test` splits the suite over two pytest-xdist workers (``-n 2 --dist loadgroup``).

Most integration tests share one local cluster (the ``cluster`` fixture) and assume they are alone
on it: they run in order on one worker, as before. The other worker runs, in order too, everything
that needs no shared cluster: the unit tests and the integration modules in :data:`OWN_CLUSTER`,
which bring up a private cluster on their own ports (or the scale simulator). Both halves spend most
of their time waiting on real processes, so the suite takes about half the time on two cores.

The split is by module path, because xdist's scheduler sees only test ids. Each worker checks the
list against what the tests really use: a module listed here whose tests ask for the shared cluster
stops the run. Without xdist (``pytest tests/...``) none of this applies and everything runs in one
process.
"""
from __future__ import annotations

from typing import Any

import pytest

SHARED = "shared-cluster"
OWN = "own-processes"

#: Integration modules that bring up what they need on ports of their own (never the shared cluster).
OWN_CLUSTER = frozenset({
    "tests/integration/test_agents.py",
    "tests/integration/test_framework_auth.py",
    "tests/integration/test_ha_control_plane.py",
    "tests/integration/test_make_run_ha.py",
    "tests/integration/test_minimesos_ha.py",
    "tests/integration/test_minimesos_hosts.py",
    "tests/integration/test_partition_agent.py",
    "tests/integration/test_partition_master.py",
    "tests/integration/test_partition_master_isolated.py",
    "tests/integration/test_partition_scheduler.py",
    "tests/integration/test_partition_zookeeper.py",
    "tests/integration/test_rebalance.py",
    "tests/integration/test_scale_small.py",
    "tests/integration/test_soak.py",
    "tests/integration/test_tls.py",
    "tests/integration/test_soak_ha.py",
    "tests/integration/test_soak_hosts.py",
})


def group_of(nodeid: str) -> str:
    """The worker group of a test id: the shared cluster's, or the one for everything else."""
    path = nodeid.split("::", 1)[0]
    return OWN if path.startswith("tests/unit/") or path in OWN_CLUSTER else SHARED


@pytest.hookimpl(optionalhook=True)  # xdist's hook: unknown when pytest runs without xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Two work units, one per group, each run in collection order on its own worker."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return ByGroup(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a module listed in :data:`OWN_CLUSTER` whose tests use the shared cluster."""
    wrong = sorted({item.nodeid.split("::", 1)[0] for item in items
                    if group_of(item.nodeid) == OWN and "cluster" in getattr(item, "fixturenames", ())})
    if wrong:
        raise pytest.UsageError(f"tests/conftest.py: {', '.join(wrong)} use(s) the shared cluster (fixture "
                                "'cluster') but are listed in OWN_CLUSTER, whose tests run beside it")
