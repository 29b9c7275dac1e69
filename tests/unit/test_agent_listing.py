"""The master's agents listed on a shared pool, at most one listing in flight, the answer posted back."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from halyard.cluster.mesos_types import AgentSeen
from halyard.engine.messages import AgentsListed, ListAgents
from halyard.errors import ClusterSourceError
from halyard.runtime.agent_listing import AgentLister

from .test_service import until


class SlowMaster:
    """Answers ``agents`` once ``release`` is set; counts the listings."""

    def __init__(self, fail: Exception | None = None):
        self.release, self.listings, self.fail = threading.Event(), 0, fail

    def agents(self):
        self.listings += 1
        self.release.wait(5)
        if self.fail is not None:
            raise self.fail
        return (AgentSeen("S1", "h1"),)


def test_a_listing_asked_for_while_one_is_in_flight_is_not_queued_and_the_answer_is_posted():
    master, posted = SlowMaster(), []
    with ThreadPoolExecutor(max_workers=2) as pool:
        lister = AgentLister(master, pool)
        lister.list(ListAgents(), posted.append)
        until(lambda: master.listings == 1)
        lister.list(ListAgents(), posted.append)  # in flight: skipped, no second worker taken
        master.release.set()
        until(lambda: posted)
        lister.list(ListAgents(), posted.append)  # done: the next one runs
        until(lambda: len(posted) == 2)
    assert master.listings == 2 and posted == [AgentsListed((AgentSeen("S1", "h1"),))] * 2


def test_a_failed_listing_is_logged_and_the_next_one_runs(caplog):
    master, posted = SlowMaster(fail=ClusterSourceError("cannot reach the master")), []
    master.release.set()
    with ThreadPoolExecutor(max_workers=1) as pool:
        lister = AgentLister(master, pool)
        lister.list(ListAgents(), posted.append)
        until(lambda: any("cannot list the master's agents" in r.getMessage() for r in caplog.records))
        master.fail = RuntimeError("boom")
        # asked again until the failed listing is no longer in flight (a listing asked meanwhile is skipped)
        until(lambda: lister.list(ListAgents(), posted.append) or master.listings == 2)
        until(lambda: any("listing the master's agents failed" in r.getMessage() for r in caplog.records))
    assert posted == []
