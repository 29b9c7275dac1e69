"""Service ports, resource limits and the per-app unreachable strategy on the real cluster,
through marathon-python where it can express them."""
from __future__ import annotations

import collections
import collections.abc
import json
import subprocess

import pytest
import requests
from marathon import MarathonClient
from marathon.models import MarathonApp
from marathon.models.app import PortDefinition

from .harness import SchedulerProc, clean_shutdown, docker_container_of, sleep_app, unique
from .v1client import until

pytestmark = pytest.mark.integration

if not hasattr(collections, "Iterable"):  # marathon-python 0.13 on Python 3.10+ (see test_marathon_client)
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]


def service_ports(client: MarathonClient, app_id: str) -> list[int]:
    return [pd.port for pd in client.get_app(app_id).port_definitions]


def test_service_ports_are_unique_kept_by_updates_and_the_same_after_failover(cluster, tmp_path):
    name, chroot = unique("halyard-test"), unique("halyard-test")
    first = SchedulerProc(cluster, chroot, name, tmp_path).start()
    second = None
    web, worker = f"/{unique('sp-web')}", f"/{unique('sp-worker')}"
    try:
        until(first.leading, 30, what="the first scheduler leads")
        client = MarathonClient(first.url)
        client.create_app(web, MarathonApp(cmd="sleep 3600", cpus=0.01, mem=8, instances=1,
                                           port_definitions=[PortDefinition(port=0, protocol="tcp"),
                                                             PortDefinition(port=0, protocol="tcp")]))
        client.create_app(worker, MarathonApp(cmd="sleep 3600", cpus=0.01, mem=8, instances=0))  # Marathon's default port
        bridged = f"/{unique('sp-bridged')}"
        assert first.post_app({"id": bridged, "cpus": 0.01, "mem": 8, "instances": 0,
                               "container": {"type": "DOCKER", "docker": {"image": "local/busybox:1", "network": "BRIDGE"},
                                             "portMappings": [{"containerPort": 80}, {"containerPort": 81}]}}
                              ).status_code == 201
        ports = {web: service_ports(client, web), worker: service_ports(client, worker),
                 bridged: [m["servicePort"] for m in requests.get(first.url + "/v2/apps" + bridged, timeout=10)
                           .json()["app"]["container"]["portMappings"]]}
        every = ports[web] + ports[worker] + ports[bridged]
        assert len(ports[web]) == 2 and len(ports[worker]) == 1 and len(ports[bridged]) == 2
        assert len(set(every)) == 5 and all(10000 <= p <= 20000 for p in every), ports

        # An update that gives 0 again keeps them; the task's host port is still from the offer.
        client.update_app(web, MarathonApp(cmd="sleep 3601", port_definitions=[PortDefinition(port=0),
                                                                               PortDefinition(port=0)]), force=True)
        until(lambda: client.get_app(web).cmd == "sleep 3601", 30, what="the update applied")
        assert service_ports(client, web) == ports[web]
        changed_at = requests.get(first.url + "/v2/apps" + web, timeout=10).json()["app"]["versionInfo"]["lastConfigChangeAt"]
        until(lambda: [t for t in first.running(web) if t["version"] == changed_at] and len(first.tasks(web)) == 1,
              90, what="the updated task running alone")
        [task] = first.running(web)
        assert not set(task["ports"]) & set(ports[web]) and len(task["ports"]) == 2

        # Another app may not take them.
        clash = first.post_app(sleep_app(f"/{unique('sp-clash')}", 0, portDefinitions=[{"port": ports[worker][0]}]))
        assert clash.status_code == 422, clash.text
        assert f"service port {ports[worker][0]} is already used by app '{worker}'" in clash.text

        # A second scheduler takes over: the ports are the ones stored with the apps.
        second = SchedulerProc(cluster, chroot, name, tmp_path).start()
        first.stop()
        until(second.leading, 60, what="the second scheduler leads")
        successor = MarathonClient(second.url)
        assert {app_id: service_ports(successor, app_id) for app_id in (web, worker)} == \
            {web: ports[web], worker: ports[worker]}
        assert [m["servicePort"] for m in requests.get(second.url + "/v2/apps" + bridged, timeout=10)
                .json()["app"]["container"]["portMappings"]] == ports[bridged]
        successor.update_app(worker, MarathonApp(instances=0, cmd="sleep 3602"), force=True)
        assert service_ports(successor, worker) == ports[worker]
    finally:
        clean_shutdown(cluster, name, [s for s in (first, second) if s is not None])


def inspect(cluster: dict[str, str], container: str) -> dict:
    out = subprocess.run(["/usr/bin/docker", "-H", cluster["DOCKER_HOST"], "inspect", container],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]["HostConfig"]


def test_resource_limits_reach_the_container_and_definitions_round_trip(cluster, sched):
    app_id = f"/{unique('limits')}"
    app = sleep_app(app_id, 1, docker=True, cpus=0.1, mem=32, resourceLimits={"cpus": 0.5, "mem": 64},
                    unreachableStrategy={"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120},
                    portDefinitions=[{"port": 0, "name": "http"}],
                    healthChecks=[{"protocol": "HTTP", "portIndex": 0, "path": "/", "ignoreHttp1xx": True,
                                   "gracePeriodSeconds": 3600}])
    created = sched.post_app(app)
    assert created.status_code == 201, created.text
    try:
        shown = requests.get(sched.url + "/v2/apps" + app_id, timeout=10).json()["app"]
        assert shown["resourceLimits"] == {"cpus": 0.5, "mem": 64.0}
        assert shown["unreachableStrategy"] == {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120}
        assert shown["healthChecks"][0]["ignoreHttp1xx"] is True
        until(lambda: sched.running(app_id), 90, what="the limited task running")
        [task] = sched.running(app_id)
        container = until(lambda: docker_container_of(cluster, task["id"]), 30, what="its container")
        host = inspect(cluster, container)
        # The containerizer applies the limits: a CFS quota of 0.5 cpu, a 64 MB memory limit, and
        # the request (32 MB) as the reservation.
        assert (host["CpuQuota"], host["Memory"], host["MemoryReservation"]) == (50000, 64 << 20, 32 << 20)

        # Changed to "disabled" and "unlimited": accepted, shown as Marathon shows them.
        changed = sched.put_app(app_id, {"unreachableStrategy": "disabled", "instances": 0,
                                         "resourceLimits": {"cpus": "unlimited", "mem": "unlimited"}})
        assert changed.status_code == 200, changed.text
        shown = requests.get(sched.url + "/v2/apps" + app_id, timeout=10).json()["app"]
        assert shown["unreachableStrategy"] == "disabled"
        assert shown["resourceLimits"] == {"cpus": "unlimited", "mem": "unlimited"}
        bad = sched.put_app(app_id, {"resourceLimits": {"mem": 16}})
        assert bad.status_code == 422 and "resourceLimits.mem" in bad.text, bad.text
    finally:
        requests.delete(sched.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
        until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=10).status_code == 404, 60,
              what="deleted")


def test_limits_an_agent_cannot_apply_fail_the_deployment_instead_of_relaunching_forever(sched):
    """These agents run Mesos containers without the cgroups isolators: Mesos refuses a command
    task with limits (TASK_DROPPED). Three refusals fail the new app's deployment, which removes it."""
    app_id = f"/{unique('limits-cmd')}"
    created = sched.post_app(sleep_app(app_id, 1, cpus=0.1, mem=32, resourceLimits={"cpus": 1}))
    assert created.status_code == 201, created.text
    deployment = created.json()["deployments"][0]["id"]
    until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=10).status_code == 404, 90,
          what="the app rolled back (removed)")
    assert deployment not in [d["id"] for d in requests.get(sched.url + "/v2/deployments", timeout=10).json()]
