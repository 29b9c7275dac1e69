"""More of the Marathon v2 API, with a leader and a standby: proxying, info, tasks, metrics, abdication."""
from __future__ import annotations

import pytest
import requests

from .harness import SchedulerProc, clean_shutdown, sleep_app, unique
from .v1client import until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pair(cluster, tmp_path_factory):
    name, chroot = unique("halyard-test"), unique("halyard-test")
    log_dir = tmp_path_factory.mktemp("pair")
    a = SchedulerProc(cluster, chroot, name, log_dir).start()
    b = SchedulerProc(cluster, chroot, name, log_dir).start()
    until(lambda: a.leading() or b.leading(), 30, what="a leader")
    yield a, b
    clean_shutdown(cluster, name, [a, b])


def roles(pair):
    a, b = pair
    leader, standby = (a, b) if a.leading() else (b, a)
    until(lambda: requests.get(standby.url + "/v2/leader", timeout=5).ok, 30, what="the standby knows the leader")
    return leader, standby


def test_a_standby_proxies_reads_and_writes_to_the_leader(pair):
    leader, standby = roles(pair)
    created = requests.post(standby.url + "/v2/apps", json=sleep_app("/more/proxied", 1), timeout=30)
    assert created.status_code == 201 and created.json()["id"] == "/more/proxied"
    assert "/more/proxied" in [a["id"] for a in requests.get(standby.url + "/v2/apps", timeout=10).json()["apps"]]
    assert requests.get(standby.url + "/v2/leader", timeout=10).json() == {"leader": leader.url.removeprefix("http://")}
    info = requests.get(standby.url + "/v2/info", timeout=10).json()
    assert info["elected"] is False and info["leader"] == leader.url.removeprefix("http://")
    assert requests.get(leader.url + "/v2/info", timeout=10).json()["elected"] is True


def test_tasks_patch_kill_with_scale_and_metrics(pair):
    leader, _ = roles(pair)
    assert leader.post_app(sleep_app("/more/m", 1)).status_code == 201
    until(lambda: len(leader.running("/more/m")) == 1, 60, what="running")
    patched = requests.patch(leader.url + "/v2/apps/more/m", json={"instances": 2}, params={"force": "true"},
                             timeout=30)
    assert patched.status_code == 200
    until(lambda: len(leader.running("/more/m")) == 2, 60, what="patched to 2")
    running = requests.get(leader.url + "/v2/tasks", params={"status": "running"}, timeout=10).json()["tasks"]
    assert {t["appId"] for t in running} >= {"/more/m"}
    metrics = requests.get(leader.url + "/metrics", timeout=10).text
    assert "halyard_leader 1.0" in metrics and 'halyard_tasks{state="TASK_RUNNING"}' in metrics
    assert "halyard_apps " in metrics and "halyard_pending_instances" in metrics
    killed = requests.delete(leader.url + "/v2/apps/more/m/tasks", params={"scale": "true"}, timeout=30)
    assert killed.status_code == 200
    until(lambda: not leader.tasks("/more/m"), 60, what="all tasks killed")
    assert requests.get(leader.url + "/v2/apps/more/m", timeout=10).json()["app"]["instances"] == 0


def test_the_leader_abdicates_and_the_standby_takes_over(pair):
    leader, standby = roles(pair)
    assert requests.get(standby.url + "/metrics", timeout=10).text.count("halyard_leader 0.0") == 1
    resp = requests.delete(leader.url + "/v2/leader", timeout=30)
    assert resp.status_code == 200 and resp.json() == {"message": "Leadership abdicated"}
    until(standby.leading, 30, what="the standby leads")
    assert not leader.leading()
    assert "/more/proxied" in [a["id"] for a in requests.get(standby.url + "/v2/apps", timeout=10).json()["apps"]]


def test_an_ended_deployment_and_its_result_survive_a_failover(pair):
    leader, standby = roles(pair)
    created = leader.post_app(sleep_app("/more/history", 1))
    deployment_id = created.json()["deployments"][0]["id"]
    until(lambda: requests.get(leader.url + f"/v2/deployments/{deployment_id}", timeout=5).json().get("status")
          == "succeeded", 60, what="the deployment succeeded")
    assert requests.delete(leader.url + "/v2/leader", timeout=30).status_code == 200
    until(standby.leading, 30, what="the standby leads")
    after = requests.get(standby.url + f"/v2/deployments/{deployment_id}", timeout=10)
    assert after.status_code == 200 and after.json()["status"] == "succeeded"
    assert after.json()["affectedApps"] == ["/more/history"]


def test_dry_run_plan_against_the_live_cluster_changes_nothing(pair):
    leader, standby = roles(pair)
    body = {"apps": [sleep_app("/more/plan", 4, constraints=[["hostname", "UNIQUE"]]),
                     sleep_app("/more/big", 1, cpus=50)]}
    for s in (leader, standby):  # a standby answers this read itself
        resp = requests.post(s.url + "/v1/plan", json=body, timeout=30)
        assert resp.status_code == 200, resp.text
        plan = resp.json()
        placed = [p for p in plan["placements"] if p["app"] == "/more/plan"]
        assert len(placed) == 3 and len({p["hostname"] for p in placed}) == 3
        reasons = {u["app"]: u["reasons"] for u in plan["unplaced"]}
        assert any("UNIQUE" in r for r in reasons["/more/plan"])
        assert "insufficient cpus (needs 50) on 3 of 3 agents" in reasons["/more/big"]
    assert requests.get(leader.url + "/v2/apps/more/plan", timeout=10).status_code == 404  # a dry run
    bad = requests.post(leader.url + "/v1/plan", json={"id": "/x", "cmd": "y", "cpus": "z"}, timeout=10)
    assert bad.status_code == 422 and bad.json()["problems"] == ["cpus: expected a number, got 'z'"]


def test_a_leader_publishes_its_advertised_address_and_a_standby_forwards_there(cluster, tmp_path):
    name, chroot = unique("halyard-test"), unique("halyard-test")
    a, b = SchedulerProc(cluster, chroot, name, tmp_path), SchedulerProc(cluster, chroot, name, tmp_path)
    for s in (a, b):
        s.extra += ["--advertise", f"localhost:{s.port}"]  # listens on 127.0.0.1, reached as localhost
    try:
        a.start()
        until(a.leading, 30, what="a leads")
        b.start()
        advertised = f"localhost:{a.port}"
        until(lambda: requests.get(b.url + "/v2/leader", timeout=5).json() == {"leader": advertised}, 30,
              what="the standby knows the leader by its advertised address")
        assert requests.get(a.url + "/v2/info", timeout=5).json()["leader"] == advertised
        redirect = requests.get(b.url + "/v2/events", timeout=5, allow_redirects=False, stream=True)
        assert redirect.status_code == 307 and redirect.headers["location"].startswith(f"http://{advertised}/v2/events")
        assert requests.get(b.url + "/v2/apps", timeout=10).json() == {"apps": []}  # forwarded to the leader
    finally:
        clean_shutdown(cluster, name, [a, b])
