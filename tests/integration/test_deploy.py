"""`deploy SERVICE VERSION ENVIRONMENT` against a scheduler on the real cluster."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .v1client import until

pytestmark = pytest.mark.integration
DEPLOY = str(Path(sys.executable).parent / "deploy")


# The image under a registry name on loopback where no registry listens: a tag that is not local
# fails its pull at once, on loopback, without looking up any public registry.
IMAGE = "127.0.0.1:5999/busybox"


@pytest.fixture(scope="module", autouse=True)
def loopback_tagged_image(cluster):
    subprocess.run(["/usr/bin/docker", "-H", cluster["DOCKER_HOST"], "tag", "local/busybox:1", f"{IMAGE}:1"],
                   check=True, capture_output=True)


@pytest.fixture
def services(tmp_path):
    (tmp_path / "web.yaml").write_text((Path(__file__).parents[2] / "examples" / "services" / "hello.yaml")
                                       .read_text().replace("/examples/hello-service", "/deploy/web")
                                       .replace("image: local/busybox", f"image: {IMAGE}"))
    (tmp_path / "crasher.yaml").write_text("id: /deploy/crasher\ncmd: 'echo doomed; exit 7'\ncpus: 0.01\nmem: 8\n"
                                           "instances: 2\nenvironments: {dev: {}}\n")
    (tmp_path / "huge.yaml").write_text("id: /deploy/huge\ncmd: sleep 3600\ncpus: 100\nmem: 8\n"
                                        "environments: {dev: {}}\n")
    return tmp_path


def deploy(sched, services, *args, timeout=200):
    t0 = time.monotonic()
    proc = subprocess.run([DEPLOY, *args, "--services", str(services), "--api", sched.url], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "HALYARD_SERVICES": ""})
    return proc, time.monotonic() - t0


def test_same_artifact_different_topology_per_environment(sched, services):
    proc, took = deploy(sched, services, "web", "1", "dev")
    assert proc.returncode == 0, proc.stderr
    assert "/deploy/web 1 is running in dev" in proc.stdout
    app = requests.get(sched.url + "/v2/apps/deploy/web", timeout=5).json()["app"]
    assert app["container"]["docker"]["image"] == f"{IMAGE}:1" and app["instances"] == 1
    proc, took = deploy(sched, services, "web", "1", "production")
    assert proc.returncode == 0, proc.stderr
    app = requests.get(sched.url + "/v2/apps/deploy/web", timeout=5).json()["app"]
    assert app["instances"] == 3 and app["tasksHealthy"] == 3
    assert len({t["host"] for t in app["tasks"]}) == 3  # production's UNIQUE hostname
    body = requests.get(f"http://{app['tasks'][0]['host']}:{app['tasks'][0]['ports'][0]}/", timeout=5).text
    assert body.startswith("hello 1 from")
    print(f"\nFIGURE deploy web 1 production (scale 1 -> 3, health-checked): {took:.1f}s")


def test_a_version_that_does_not_exist_fails_fast_and_rolls_back(sched, services):
    proc, took = deploy(sched, services, "web", "2", "production")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "/deploy/web 2 failed; rolled back." in proc.stderr
    assert "TASK_FAILED" in proc.stderr  # the tasks' failure messages are quoted
    assert took < 120
    print(f"\nFIGURE deploy of a missing image failed in {took:.1f}s:\n{proc.stderr}")
    app = until(lambda: (a := requests.get(sched.url + "/v2/apps/deploy/web", timeout=5).json()["app"])
                ["container"]["docker"]["image"] == f"{IMAGE}:1" and not a["deployments"] and a, 60,
                what="rolled back to version 1")
    assert app["tasksRunning"] == 3


def test_a_command_that_exits_at_once_fails_and_the_new_app_is_removed(sched, services):
    proc, took = deploy(sched, services, "crasher", "1", "dev")
    assert proc.returncode == 1 and "exit" in proc.stderr.lower() or "TASK_FAILED" in proc.stderr, proc.stderr
    assert took < 120
    until(lambda: requests.get(sched.url + "/v2/apps/deploy/crasher", timeout=5).status_code == 404, 60,
          what="new app removed")


def test_a_deployment_that_cannot_finish_times_out_with_the_reasons(sched, services):
    proc, took = deploy(sched, services, "huge", "1", "dev", "--timeout", "5")
    assert proc.returncode == 2, proc.stderr
    assert "did not finish within 5s; rolled back." in proc.stderr
    assert "insufficient cpus (needs 100) on 3 of 3 agents" in proc.stderr
    until(lambda: requests.get(sched.url + "/v2/apps/deploy/huge", timeout=5).status_code == 404, 60,
          what="new app removed")


def test_bad_input_is_refused_with_exit_3(sched, services):
    proc, _ = deploy(sched, services, "nope", "1", "dev")
    assert proc.returncode == 3 and "no nope.yaml" in proc.stderr
    proc, _ = deploy(sched, services, "web", "1", "staging")
    assert proc.returncode == 3 and "no environment 'staging'" in proc.stderr
