"""Constraints on the real cluster: GROUP_BY balances at every step (Marathon's ``checkGroupBy``)
and a scale-down keeps it balanced (Marathon's ``selectTasksToKill``), as the master reports."""
from __future__ import annotations

from collections import Counter

import pytest
import requests

from .harness import mesos_tasks, sleep_app
from .v1client import until

pytestmark = pytest.mark.integration

APP = "/constraints/zones"


def zone_counts(cluster: dict[str, str], framework_name: str, app_id: str) -> Counter:
    """Running tasks of ``app_id`` per value of the agents' ``zone`` attribute, as the master sees them."""
    agents = requests.get(cluster["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"]
    zone_of = {a["id"]: a["attributes"]["zone"] for a in agents}
    counts: Counter = Counter()
    for task in mesos_tasks(cluster, framework_name).values():
        labels = {label["key"]: label["value"] for label in task.get("labels", [])}
        if labels.get("HALYARD_APP_ID") == app_id:
            counts[zone_of[task["slave_id"]]] += 1
    return counts


def settled(cluster: dict[str, str], sched, total: int) -> Counter:
    """The zone counts once exactly ``total`` tasks run and the scheduler knows no others."""
    def check():
        counts = zone_counts(cluster, sched.name, APP)
        return counts if sum(counts.values()) == total and len(sched.tasks(APP)) == total else None

    return until(check, 90, what=f"{total} tasks of {APP} running")


def test_group_by_zone_is_balanced_when_placed_and_when_scaled_down(cluster, sched):
    zones = {a["attributes"]["zone"] for a in
             requests.get(cluster["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"]}
    assert len(zones) == 3, zones
    try:
        # 7 over 3 zones: 3/2/2 whatever the strategy (a per-zone quota of 3 let binpack make 3/3/1).
        assert sched.post_app(sleep_app(APP, 7, constraints=[["zone", "GROUP_BY"]])).status_code == 201
        counts = settled(cluster, sched, 7)
        assert sorted(counts.values()) == [2, 2, 3], counts

        # Replace one task in each smaller zone: the replacements go back there (the least used
        # zones) and are now the youngest tasks.
        crowded = counts.most_common(1)[0][0]
        by_zone: dict[str, str] = {}
        agents = requests.get(cluster["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"]
        zone_of_host = {a["hostname"]: a["attributes"]["zone"] for a in agents}
        for task in sched.running(APP):
            by_zone.setdefault(zone_of_host[task["host"]], task["id"])
        victims = [task_id for zone, task_id in by_zone.items() if zone != crowded]
        for task_id in victims:
            assert requests.delete(sched.url + f"/v2/apps{APP}/tasks/{task_id}", timeout=10).status_code == 200
        until(lambda: not set(victims) & {t["id"] for t in sched.tasks(APP)} and len(sched.running(APP)) == 7,
              90, what="both replacements running")
        counts = settled(cluster, sched, 7)
        assert counts[crowded] == 3 and sorted(counts.values()) == [2, 2, 3], counts

        # Scale to 5: youngest first alone would kill both replacements (3/1/1); Marathon kills from
        # the largest zone first, so every zone stays within one task of the others.
        assert sched.put_app(APP, {"instances": 5}).status_code == 200
        counts = settled(cluster, sched, 5)
        assert sorted(counts.values()) == [1, 2, 2], counts
    finally:
        requests.delete(sched.url + "/v2/apps" + APP, params={"force": "true"}, timeout=10)
        until(lambda: not zone_counts(cluster, sched.name, APP), 90, what=f"{APP} gone")


def test_unique_counts_the_task_on_a_full_agent_that_is_not_offered(cluster, sched):
    """Two rack-1 agents (127.0.0.1 and .2); the app takes a whole agent, so the one it runs on is
    not offered again. Scaled to 2 with [rack_id, UNIQUE], the second instance must not go to the
    other rack-1 agent: it waits, with the reason."""
    app_id = "/constraints/full"
    definition = sleep_app(app_id, 1, cpus=2, mem=2020,  # all of an agent's cpus, all but 28 MB of memory
                           constraints=[["rack_id", "UNIQUE"], ["hostname", "UNLIKE", "127.0.0.3"]])
    try:
        assert sched.post_app(definition).status_code == 201
        until(lambda: len(sched.running(app_id)) == 1, 60, what="the first instance running")
        scaled = requests.put(sched.url + "/v2/apps" + app_id, json={"instances": 2}, params={"force": "true"},
                              timeout=30)
        assert scaled.status_code == 200

        def waiting():
            return requests.get(sched.url + "/v1/apps" + app_id + "/placement", timeout=5).json()["reasons"]

        reasons = until(lambda: waiting() or None, 30, what="the second instance waiting with a reason")
        assert any("rack_id" in r for r in reasons), reasons
        racks = {t["host"] for t in sched.tasks(app_id)}
        assert len(sched.tasks(app_id)) == 1 and len(racks) == 1
    finally:
        requests.delete(sched.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
        until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code == 404, 60, what="gone")


def test_an_app_that_gets_no_offer_says_what_it_needs_and_which_agents_are_full(cluster, sched):
    """Every agent is taken whole by the app's first 3 instances, so the master sends no offer at
    all. The 4th instance's reason says so, and names the full agents (from the master's list)."""
    app_id = "/constraints/no-room"
    hosts = sorted(a["hostname"] for a in
                   requests.get(cluster["MESOS_MASTER"] + "/master/slaves", timeout=5).json()["slaves"])
    try:
        assert sched.post_app(sleep_app(app_id, len(hosts), cpus=2, mem=2020)).status_code == 201
        until(lambda: len(sched.running(app_id)) == len(hosts), 60, what="one instance on every agent")
        scaled = requests.put(sched.url + "/v2/apps" + app_id, json={"instances": len(hosts) + 1},
                              params={"force": "true"}, timeout=30)
        assert scaled.status_code == 200

        def no_offer():
            reasons = requests.get(sched.url + "/v1/apps" + app_id + "/placement", timeout=5).json()["reasons"]
            return reasons if any(r.startswith("no offer with 2 cpus, 2020 MB mem for") for r in reasons) else None

        until(no_offer, 40, what="the reason saying no offer came")
        # The master's agent list is read again while the app waits: then the agents are named full.
        until(lambda: (r := no_offer()) and r[0].endswith(f"; agents {', '.join(hosts)} full") and r,
              30, what="the reason naming the full agents")
        queued = requests.get(sched.url + "/v2/queue", timeout=5).json()["queue"]
        (queued_reasons,) = [q["reasons"] for q in queued if q["app"]["id"] == app_id]
        assert queued_reasons[0].startswith("no offer with 2 cpus") and queued_reasons[0].endswith(" full")
    finally:
        requests.delete(sched.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
        until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code == 404, 60, what="gone")
