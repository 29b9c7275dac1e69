"""Releases in the real ZooKeeper: written by the leader of the current epoch only, bounded, read back."""
from __future__ import annotations

import pytest
from kazoo.client import KazooClient

from halyard.errors import FencedError
from halyard.releases.records import Release, ended, record
from halyard.store.release_store import ZkReleaseStore
from halyard.store.zk import ZkStore

from .harness import unique

pytestmark = pytest.mark.integration


@pytest.fixture
def zk(cluster):
    client = KazooClient(hosts=cluster["ZK"].removeprefix("zk://"), timeout=10)
    client.start()
    root = "/" + unique("halyard-releases")
    yield client, root
    client.delete(root, recursive=True)
    client.stop()
    client.close()


def rel(n: int) -> Release:
    return Release(id=f"r{n}", service="hello", environment="prod:eu", version=f"v{n}", app_id="/prod/hello",
                   deployment_id=f"d{n}", at=float(n), who="ci")


def test_releases_are_fenced_by_the_leader_epoch_and_bounded(zk):
    client, root = zk
    old = ZkStore(client, root)
    old.ensure_layout()
    old.become_leader()
    releases = ZkReleaseStore(old)
    for n in range(25):
        releases.update("hello", "prod:eu", lambda h, n=n: record(h, rel(n)))
    releases.update("hello", "prod:eu", lambda h: ended(h, "d24", "succeeded", [], 99.0))
    new = ZkStore(client, root)
    new.become_leader()
    with pytest.raises(FencedError):
        releases.update("hello", "prod:eu", lambda h: record(h, rel(99)))
    again = ZkReleaseStore(new)
    history = again.history("hello", "prod:eu")
    assert len(history) == 20 and history[0].version == "v5" and history[-1].result == "succeeded"
    assert list(again.histories()) == [("hello", "prod:eu")]
