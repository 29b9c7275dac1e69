"""App versions, rollback, lists of apps and groups on the real cluster, driven through
marathon-python (``import marathon``) as a Marathon shop's tools drive Marathon; plus raw HTTP for
what the client does not cover (dependency order, the 422s), and versions read by a new leader."""
from __future__ import annotations

import collections
import collections.abc

import pytest
import requests
from marathon import MarathonClient, MarathonHttpError
from marathon.models import MarathonApp, MarathonGroup

from .harness import SchedulerProc, clean_shutdown, sleep_app, unique
from .v1client import until

pytestmark = pytest.mark.integration

# marathon-python 0.13 encodes with `collections.Iterable`, which Python 3.10 removed.
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def pair(cluster, tmp_path_factory):
    """Two schedulers sharing one store and framework: the first leads, the second stands by."""
    name, chroot = unique("halyard-test"), unique("halyard-test")
    log_dir = tmp_path_factory.mktemp("groups_versions")
    procs = [SchedulerProc(cluster, chroot, name, log_dir).start()]
    try:
        until(procs[0].leading, 30, what="leader")
        procs.append(SchedulerProc(cluster, chroot, name, log_dir).start())
        yield procs
    finally:
        clean_shutdown(cluster, name, procs)


@pytest.fixture(scope="module")
def client(pair):
    return MarathonClient(pair[0].url)


def small(**extra) -> MarathonApp:
    return MarathonApp(**{"cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": 1, "backoff_seconds": 1, **extra})


def settled(client: MarathonClient, app_id: str, instances: int) -> bool:
    app = client.get_app(app_id)
    return app.instances == instances and app.tasks_running == instances and not app.deployments


def gone(client: MarathonClient, prefix: str) -> bool:
    return not [a for a in client.list_apps() if a.id == prefix or a.id.startswith(prefix + "/")]


def test_versions_are_listed_shown_and_rolled_back_to_through_marathon_python(client, pair):
    app_id = "/" + unique("ver")
    client.create_app(app_id, small(env={"V": "1"}))
    try:
        until(lambda: settled(client, app_id, 1), 60, what="created")
        client.update_app(app_id, small(env={"V": "2"}), force=True)
        until(lambda: settled(client, app_id, 1) and client.get_app(app_id).env == {"V": "2"}, 60, what="changed")
        client.scale_app(app_id, instances=2, force=True)
        until(lambda: settled(client, app_id, 2), 60, what="scaled")
        versions = client.list_versions(app_id)
        assert len(versions) == 3 and versions == sorted(versions, reverse=True)
        app = client.get_app(app_id)
        assert app.version == versions[0]
        changed = app.version_info.last_config_change_at  # marathon-python parses it into a datetime
        assert changed.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" == versions[1]  # a scale is no config change
        first = client.get_version(app_id, versions[-1])
        assert first.env == {"V": "1"} and first.instances == 1 and first.version == versions[-1]

        status = requests.put(f"{pair[0].url}/v2/apps{app_id}", json={"version": versions[-1], "instances": 5},
                              timeout=30)
        assert status.status_code == 422 and status.json()["details"][0]["path"] == "/version"
        assert client.get_app(app_id).instances == 2  # refused: nothing changed

        result = client.rollback_app(app_id, versions[-1], force=True)
        assert result["deploymentId"]
        until(lambda: settled(client, app_id, 1) and client.get_app(app_id).env == {"V": "1"}, 60,
              what="rolled back")
        assert len(client.list_versions(app_id)) == 4
    finally:
        client.delete_app(app_id, force=True)
        until(lambda: gone(client, app_id), 60, what="deleted")


def test_update_apps_changes_several_apps_in_one_deployment(client, pair):
    a, b = "/" + unique("many"), "/" + unique("many")
    client.create_app(a, small())
    try:
        until(lambda: settled(client, a, 1), 60, what="first app")
        result = client.update_apps([small(id=a, instances=2), small(id=b)], force=True)
        plan = requests.get(f"{pair[0].url}/v2/deployments/{result['deploymentId']}", timeout=10).json()
        assert plan["affectedApps"] == sorted([a, b])
        until(lambda: settled(client, a, 2) and settled(client, b, 1), 60, what="both deployed")
        assert requests.get(f"{pair[0].url}/v2/deployments/{result['deploymentId']}",
                            timeout=10).json()["status"] == "succeeded"
    finally:
        for app_id in {x.id for x in client.list_apps()} & {a, b}:
            client.delete_app(app_id, force=True)
        until(lambda: gone(client, a) and gone(client, b), 60, what="deleted")


def test_groups_through_marathon_python(client):
    gid = "/" + unique("grp")
    db, web, cron = small(id="db"), small(id="web", dependencies=["db"]), small(id="cron")
    result = client.create_group(MarathonGroup(id=gid, apps=[db, web], groups=[MarathonGroup(id="jobs", apps=[cron])]))
    try:
        assert result["deploymentId"]
        assert gid in [g.id for g in client.list_groups()]
        group = client.get_group(gid)
        assert sorted(a.id for a in group.apps) == [f"{gid}/db", f"{gid}/web"]
        assert [g.id for g in group.groups] == [f"{gid}/jobs"] and group.groups[0].apps[0].id == f"{gid}/jobs/cron"
        assert client.get_app(f"{gid}/web").dependencies == [f"{gid}/db"]  # stored absolute, as Marathon shows them
        until(lambda: all(settled(client, f"{gid}/{a}", 1) for a in ("db", "web", "jobs/cron")), 90,
              what="group deployed")

        web.instances = 2
        client.update_group(gid, MarathonGroup(apps=[db, web]), force=True)  # groups not given: jobs stays
        until(lambda: settled(client, f"{gid}/web", 2), 60, what="web updated")
        assert [g.id for g in client.get_group(gid).groups] == [f"{gid}/jobs"]

        client.scale_group(gid, 2)  # marathon-python sends no force: the group must be idle (it is)
        until(lambda: settled(client, f"{gid}/db", 2) and settled(client, f"{gid}/web", 4)
              and settled(client, f"{gid}/jobs/cron", 2), 90, what="group scaled by 2")
    finally:
        client.delete_group(gid, force=True)
        until(lambda: gone(client, gid), 90, what="group deleted")
    with pytest.raises(MarathonHttpError):
        client.get_group(gid)


def test_an_app_starts_only_after_the_app_it_depends_on_is_deployed(pair):
    url = pair[0].url
    gid = "/" + unique("deps")
    body = {"id": gid, "apps": [sleep_app("db", 1, minReadySeconds=4),
                                sleep_app("web", 1, dependencies=["db"])]}
    created = requests.post(f"{url}/v2/groups", json=body, timeout=30)
    assert created.status_code == 201, created.text
    plan_url = f"{url}/v2/deployments/{created.json()['deploymentId']}"
    try:
        plan = requests.get(plan_url, timeout=10).json()
        assert [[a["app"] for a in s["actions"]] for s in plan["steps"]] == [[f"{gid}/db"], [f"{gid}/web"]]

        def db_running() -> bool:
            tasks = requests.get(f"{url}/v2/apps{gid}/db/tasks", timeout=10).json()["tasks"]
            return any(t["state"] == "TASK_RUNNING" for t in tasks)

        until(db_running, 60, what="db running")
        # db runs, but has not run minReadySeconds yet: web waits, with nothing launched.
        assert requests.get(f"{url}/v2/apps{gid}/web/tasks", timeout=10).json()["tasks"] == []
        assert requests.get(plan_url, timeout=10).json()["currentStep"] == 1
        until(lambda: requests.get(plan_url, timeout=10).json()["status"] == "succeeded", 90, what="deployed")
        db_task = requests.get(f"{url}/v2/apps{gid}/db/tasks", timeout=10).json()["tasks"][0]
        web_task = requests.get(f"{url}/v2/apps{gid}/web/tasks", timeout=10).json()["tasks"][0]
        assert web_task["stagedAt"] >= db_task["startedAt"]  # ISO timestamps: ordered as text

        cycle = {"apps": [sleep_app("db", 1, dependencies=["web"]), sleep_app("web", 1, dependencies=["db"])]}
        refused = requests.put(f"{url}/v2/groups{gid}", json=cycle, timeout=30)
        assert refused.status_code == 422
        assert refused.json()["problems"] == [f"dependencies: cyclic dependencies: {gid}/db -> {gid}/web -> {gid}/db"]
    finally:
        requests.delete(f"{url}/v2/groups{gid}", params={"force": "true"}, timeout=30)
        until(lambda: requests.get(f"{url}/v2/groups{gid}", timeout=10).status_code == 404, 60, what="deleted")


def test_versions_survive_failover(pair):
    first, second = pair
    app_id = "/" + unique("fo")
    assert first.post_app(sleep_app(app_id, 0, env={"V": "1"})).status_code == 201
    assert first.put_app(app_id, {"env": {"V": "2"}}).status_code == 200
    versions = requests.get(f"{first.url}/v2/apps{app_id}/versions", timeout=10).json()["versions"]
    assert len(versions) == 2
    first.stop()
    until(second.leading, 60, what="the standby leads")
    assert requests.get(f"{second.url}/v2/apps{app_id}/versions", timeout=10).json()["versions"] == versions
    old = requests.get(f"{second.url}/v2/apps{app_id}/versions/{versions[-1]}", timeout=10)
    assert old.status_code == 200 and old.json()["env"] == {"V": "1"}  # read back from ZooKeeper
    assert second.put_app(app_id, {"version": versions[-1]}).status_code == 200
    until(lambda: requests.get(f"{second.url}/v2/apps{app_id}", timeout=10).json()["app"]["env"] == {"V": "1"}, 30,
          what="rolled back by the new leader")
