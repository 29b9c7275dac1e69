"""The scheduler against the real local cluster, with faults injected."""
from __future__ import annotations

import subprocess
import time

import pytest
import requests

from .conftest import minimesos
from .harness import SchedulerProc, clean_shutdown, docker_container_of, framework, mesos_tasks, sleep_app, teardown, unique
from .v1client import until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def no_stray_test_frameworks(cluster):
    """Frameworks left by an interrupted earlier run would skew the master's state: remove them."""
    data = requests.get(cluster["MESOS_MASTER"] + "/master/frameworks", timeout=5).json()
    for fw in data["frameworks"]:
        if fw["name"].startswith("halyard-test-"):
            teardown(cluster, fw["name"])


@pytest.fixture
def deployment(cluster, tmp_path):
    """Schedulers sharing one fresh ZooKeeper chroot and framework name; torn down afterwards."""
    name, chroot = unique("halyard-test"), unique("halyard-test")
    procs: list[SchedulerProc] = []

    def spawn(*extra: str) -> SchedulerProc:
        proc = SchedulerProc(cluster, chroot, name, tmp_path, *extra).start()
        procs.append(proc)
        return proc

    spawn.name = name  # type: ignore[attr-defined]
    yield spawn
    clean_shutdown(cluster, name, procs)


def test_deploy_five_and_a_killed_container_is_replaced_within_the_backoff(cluster, deployment):
    s = deployment()
    until(s.leading, 30, what="leader")
    assert s.post_app(sleep_app("/five", 5, docker=True)).status_code == 201
    until(lambda: len(s.running("/five")) == 5, 60, what="5 tasks running")
    assert set(mesos_tasks(cluster, deployment.name)) == {t["id"] for t in s.running("/five")}
    assert len({t["host"] for t in s.running("/five")}) >= 1 and all(t["ports"] for t in s.running("/five"))

    victim = s.running("/five")[0]["id"]
    container = docker_container_of(cluster, victim)
    assert container, "no container found for the task"
    killed_at = time.monotonic()
    subprocess.run(["/usr/bin/docker", "-H", cluster["DOCKER_HOST"], "kill", container], check=True,
                   capture_output=True)
    until(lambda: victim not in {t["id"] for t in s.tasks("/five")} and len(s.running("/five")) == 5, 30,
          what="the killed task replaced")
    elapsed = time.monotonic() - killed_at
    app = requests.get(s.url + "/v2/apps/five", timeout=5).json()["app"]
    assert app["lastTaskFailure"]["taskId"] == victim
    print(f"\nFIGURE container killed -> replacement running: {elapsed:.2f}s (backoffSeconds 1)")
    assert set(mesos_tasks(cluster, deployment.name)) == {t["id"] for t in s.running("/five")}


def test_kill9_mid_deploy_of_50_then_restart_runs_exactly_50(cluster, deployment):
    s = deployment()
    until(s.leading, 30, what="leader")
    framework_id = until(lambda: (framework(cluster, deployment.name) or {}).get("id"), 30, what="framework")
    assert s.post_app(sleep_app("/fifty", 50)).status_code == 201
    until(lambda: len(s.tasks("/fifty")) >= 1, 30, what="deployment under way")
    s.kill9()
    restarted = deployment()
    until(restarted.leading, 30, what="new leader")
    until(lambda: len(restarted.running("/fifty")) == 50, 120, what="50 running")
    until(lambda: len(mesos_tasks(cluster, deployment.name)) == 50, 30, what="master sees 50")
    live = mesos_tasks(cluster, deployment.name, ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"))
    assert set(live) == {t["id"] for t in restarted.tasks("/fifty")}  # no duplicate, no orphan
    assert framework(cluster, deployment.name)["id"] == framework_id


def test_standby_takes_over_with_the_same_framework_and_tasks(cluster, deployment):
    a, b = deployment(), deployment()
    until(lambda: a.leading() or b.leading(), 30, what="a leader")
    assert not (a.leading() and b.leading())
    leader, standby = (a, b) if a.leading() else (b, a)
    until(lambda: requests.get(standby.url + "/v2/leader", timeout=5).ok, 30, what="the standby knows the leader")
    assert requests.get(standby.url + "/v2/apps", timeout=5).status_code == 200  # proxied to the leader
    assert requests.get(standby.url + "/v2/info", timeout=5).json()["elected"] is False
    assert leader.post_app(sleep_app("/ha", 3)).status_code == 201
    until(lambda: len(leader.running("/ha")) == 3, 60, what="3 running")
    before = {t["id"] for t in leader.running("/ha")}
    framework_id = framework(cluster, deployment.name)["id"]

    killed = time.monotonic()
    leader.kill9()
    until(lambda: standby.leading() and standby.stats()["reconciling"] == 0, 60, what="standby leads, reconciled")
    print(f"\nFIGURE failover: leader killed -> standby subscribed and reconciled: "
          f"{time.monotonic() - killed:.2f}s (session timeout 4s)")
    until(lambda: (framework(cluster, deployment.name) or {}).get("active"), 30, what="framework active again")
    assert framework(cluster, deployment.name)["id"] == framework_id
    assert {t["id"] for t in standby.running("/ha")} == before == set(mesos_tasks(cluster, deployment.name))


def test_zookeeper_restart_and_session_expiry_kill_nothing_and_keep_one_leader(cluster, deployment):
    a, b = deployment("--zk-session-timeout", "8s"), deployment("--zk-session-timeout", "8s")

    def the_leader():
        """The one leader, reconciled; None while there is none or (never allowed to last) two."""
        states = [a.leading(), b.leading()]
        if sum(states) != 1:
            return None
        leader = a if states[0] else b
        return leader if leader.stats()["reconciling"] == 0 else None

    leader = until(the_leader, 30, what="a leader")
    assert leader.post_app(sleep_app("/zk", 2)).status_code == 201
    until(lambda: len(leader.running("/zk")) == 2, 60, what="2 running")
    before = set(mesos_tasks(cluster, deployment.name))
    framework_id = framework(cluster, deployment.name)["id"]

    minimesos("zk", "restart")
    # A restart shorter than the session timeout keeps sessions; should a client be slow to
    # reconnect, leadership may move, but it settles on one scheduler and no task dies.
    leader = until(the_leader, 60, what="one leader after the zk restart")
    assert set(mesos_tasks(cluster, deployment.name)) == before
    epoch = leader.stats()["epoch"]

    # Expire the leader's session for real: freeze it longer than its session timeout while
    # ZooKeeper stays up. ZooKeeper expires the session; the other scheduler takes over.
    other = b if leader is a else a
    leader.freeze()
    try:
        until(lambda: other.leading() and other.stats()["reconciling"] == 0, 60, what="the other leads")
    finally:
        leader.thaw()
    final = until(the_leader, 60, what="one leader again after the thaw")
    assert final.stats()["epoch"] > epoch  # a new epoch: writes of the old one are fenced
    assert framework(cluster, deployment.name)["id"] == framework_id
    assert set(mesos_tasks(cluster, deployment.name)) == before  # nothing was killed
    assert final.put_app("/zk", {"instances": 3}).status_code == 200  # work resumes
    until(lambda: len(final.running("/zk")) == 3, 60, what="scaled to 3")


def test_a_stopped_agents_tasks_are_replaced_on_the_others(cluster, deployment):
    s = deployment()
    until(s.leading, 30, what="leader")
    assert s.post_app(sleep_app("/spread", 3, strategy="spread")).status_code == 201
    until(lambda: len(s.running("/spread")) == 3, 60, what="3 running")
    assert {t["host"] for t in s.running("/spread")} == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}
    try:
        minimesos("agent", "stop", "3")
        until(lambda: len(s.running("/spread")) == 3 and "127.0.0.3" not in {t["host"] for t in s.running("/spread")},
              90, what="replaced on agents 1 and 2")
    finally:
        minimesos("agent", "start", "3")
    until(lambda: len(mesos_tasks(cluster, deployment.name)) == 3, 60, what="master agrees: 3 running")
    assert len(s.running("/spread")) == 3


def test_master_restart_keeps_tasks_and_the_scheduler_resubscribes(cluster, deployment):
    s = deployment("--master", cluster["MESOS_MASTER_ZK"])  # master detection through ZooKeeper
    until(s.leading, 30, what="leader")
    assert s.post_app(sleep_app("/m", 2)).status_code == 201
    until(lambda: len(s.running("/m")) == 2, 60, what="2 running")
    before = {t["id"] for t in s.running("/m")}
    minimesos("master", "restart")
    until(lambda: (framework(cluster, deployment.name) or {}).get("active"), 90, what="framework re-subscribed")
    until(lambda: set(mesos_tasks(cluster, deployment.name)) == before, 90, what="same tasks running")
    assert s.put_app("/m", {"instances": 3}).status_code == 200
    until(lambda: len(s.running("/m")) == 3, 60, what="work resumes: scaled to 3")
    assert before < {t["id"] for t in s.running("/m")}
