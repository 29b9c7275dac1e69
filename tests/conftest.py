"""How `make test` splits the suite over three pytest-xdist workers (``-n 3 --dist loadgroup``).

Most integration tests share one local cluster (the ``cluster`` fixture) and assume they are alone
on it: they run in order on one worker, as before. The other two workers run, in order too,
everything that needs no shared cluster: the unit tests and the integration modules in
:data:`OWN_CLUSTER`, which bring up a private cluster on their own ports (or the scale simulator);
the long soaks and the HA control plane's modules (:data:`SOAKS`) on one, the rest on the other, so
that no worker's share is much over a third of the whole. All three spend most of their time
waiting on real processes (the machine has two cores), so the suite takes about a third of the time
it would in one process.

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
SOAK = "own-soaks"

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


#: Modules of :data:`OWN_CLUSTER` given a worker of their own: the three-minute soaks and the HA
#: control plane's (about 18 minutes together).
SOAKS = frozenset({
    "tests/integration/test_soak.py",
    "tests/integration/test_soak_ha.py",
    "tests/integration/test_soak_hosts.py",
    "tests/integration/test_ha_control_plane.py",
    "tests/integration/test_make_run_ha.py",   # opt-in; on the ports of test_soak_ha's cluster
    "tests/integration/test_minimesos_ha.py",
    "tests/integration/test_partition_master_isolated.py",
})
assert SOAKS <= OWN_CLUSTER


def group_of(nodeid: str) -> str:
    """The worker group of a test id: the shared cluster's, the soaks', or the one for the rest."""
    path = nodeid.split("::", 1)[0]
    if path in SOAKS:
        return SOAK
    return OWN if path.startswith("tests/unit/") or path in OWN_CLUSTER else SHARED


@pytest.hookimpl(optionalhook=True)  # xdist's hook: unknown when pytest runs without xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Three work units, one per group, each run in collection order on its own worker."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return ByGroup(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a module listed in :data:`OWN_CLUSTER` whose tests use the shared cluster."""
    wrong = sorted({item.nodeid.split("::", 1)[0] for item in items
                    if group_of(item.nodeid) != SHARED and "cluster" in getattr(item, "fixturenames", ())})
    if wrong:
        raise pytest.UsageError(f"tests/conftest.py: {', '.join(wrong)} use(s) the shared cluster (fixture "
                                "'cluster') but are listed in OWN_CLUSTER, whose tests run beside it")
