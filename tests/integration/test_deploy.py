"""`deploy SERVICE VERSION ENVIRONMENT` against a scheduler on the real cluster, with environments
(``environments.yaml``) side by side and images pinned through the local registry."""
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

ENVIRONMENTS = """environments:
  dev:        {namespace: /dev}
  staging:    {namespace: /staging}
  production: {namespace: /production, promoteFrom: staging}
  qa:         {namespace: /qa, pinDigest: false}
"""


@pytest.fixture(scope="module")
def image(cluster):
    if "REGISTRY" not in cluster:
        pytest.fail("no REGISTRY in cluster.env: start it with minimesos/registry start")
    return f"{cluster['REGISTRY']}/busybox"


@pytest.fixture
def services(tmp_path, image):
    (tmp_path / "environments.yaml").write_text(ENVIRONMENTS)
    (tmp_path / "web.yaml").write_text((Path(__file__).parents[2] / "examples" / "services" / "hello.yaml")
                                       .read_text().replace("/examples/hello-service", "/deploy/web")
                                       .replace("image: 127.0.0.1:5000/busybox", f"image: {image}")
                                       + "  qa: {instances: 1}\n")  # staging is in the example already
    (tmp_path / "crasher.yaml").write_text("id: /deploy/crasher\ncmd: 'echo doomed; exit 7'\ncpus: 0.01\nmem: 8\n"
                                           "instances: 2\nenvironments: {dev: {}}\n")
    # No overlay for dev: environments.yaml defines it, so the base is deployed there.
    (tmp_path / "huge.yaml").write_text("id: /deploy/huge\ncmd: sleep 3600\ncpus: 100\nmem: 8\n")
    return tmp_path


def deploy(sched, services, *args, timeout=200):
    t0 = time.monotonic()
    proc = subprocess.run([DEPLOY, *args, "--services", str(services), "--api", sched.url], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "HALYARD_SERVICES": ""})
    return proc, time.monotonic() - t0


def app(sched, app_id):
    return requests.get(sched.url + "/v2/apps" + app_id, timeout=5).json()["app"]


def digest_of(image_tag: str) -> str:
    registry, _, rest = image_tag.partition("/")
    name, _, tag = rest.rpartition(":")
    return requests.head(f"http://{registry}/v2/{name}/manifests/{tag}", timeout=5, headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"}).headers["Docker-Content-Digest"]


def test_environments_run_side_by_side_with_their_topologies(sched, services, image):
    took = {}
    for env in ("dev", "staging", "production"):
        proc, took[env] = deploy(sched, services, "web", "1", env)
        assert proc.returncode == 0, proc.stderr
        assert f"/{env}/deploy/web 1 is running in {env}" in proc.stdout
    pinned = f"{image}@{digest_of(image + ':1')}"
    dev, production = app(sched, "/dev/deploy/web"), app(sched, "/production/deploy/web")
    assert dev["container"]["docker"]["image"] == pinned and dev["instances"] == 1 and dev["tasksHealthy"] == 1
    assert production["container"]["docker"]["image"] == pinned
    assert production["instances"] == 3 and production["tasksHealthy"] == 3
    assert len({t["host"] for t in production["tasks"]}) == 3  # production's UNIQUE hostname
    assert app(sched, "/dev/deploy/web")["tasksHealthy"] == 1   # dev untouched by production's deploy
    body = requests.get(f"http://{dev['tasks'][0]['host']}:{dev['tasks'][0]['ports'][0]}/", timeout=5).text
    assert body.startswith("hello 1 from")
    print(f"\nFIGURE deploy web 1: dev {took['dev']:.1f}s, staging {took['staging']:.1f}s, "
          f"production (3 UNIQUE, health-checked) {took['production']:.1f}s")


def test_an_unknown_tag_is_refused_with_exit_3_and_nothing_changes(sched, services, image):
    before = requests.get(sched.url + "/v1/releases", timeout=5).json()["releases"]
    proc, took = deploy(sched, services, "web", "nope", "dev")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"{image}:nope" in proc.stderr and "MANIFEST_UNKNOWN" in proc.stderr
    assert requests.get(sched.url + "/v1/releases", timeout=5).json()["releases"] == before
    assert requests.get(sched.url + "/v2/deployments", timeout=5).json() == []


def test_an_unpinned_version_that_does_not_exist_fails_fast_and_rolls_back(sched, services, image):
    proc, _ = deploy(sched, services, "web", "1", "qa")
    assert proc.returncode == 0, proc.stderr
    assert "not pinned" in proc.stdout
    proc, took = deploy(sched, services, "web", "2", "qa")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "/qa/deploy/web 2 failed; rolled back." in proc.stderr
    assert "TASK_FAILED" in proc.stderr  # the tasks' failure messages are quoted
    assert took < 120
    until(lambda: (a := app(sched, "/qa/deploy/web"))["container"]["docker"]["image"] == f"{image}:1"
          and not a["deployments"] and a["tasksRunning"] == 1, 60, what="rolled back to version 1")
    qa = requests.get(sched.url + "/v1/releases/web/qa", timeout=5).json()
    assert [(r["version"], r["result"], r["pinned"]) for r in qa["releases"]] == [("2", "failed", False),
                                                                                ("1", "succeeded", False)]
    assert qa["current"]["version"] == "1"


def test_a_command_that_exits_at_once_fails_and_the_new_app_is_removed(sched, services):
    proc, took = deploy(sched, services, "crasher", "1", "dev")
    assert proc.returncode == 1 and "exit" in proc.stderr.lower() or "TASK_FAILED" in proc.stderr, proc.stderr
    assert took < 120
    until(lambda: requests.get(sched.url + "/v2/apps/dev/deploy/crasher", timeout=5).status_code == 404, 60,
          what="new app removed")


def test_a_deployment_that_cannot_finish_times_out_with_the_reasons(sched, services):
    proc, took = deploy(sched, services, "huge", "1", "dev", "--timeout", "8")
    assert proc.returncode == 2, proc.stderr
    assert "did not finish within 8s; rolled back." in proc.stderr
    # "on 3 of 3 agents" on an idle cluster; fewer offer while other tests fill the shared agents
    assert __import__("re").search(r"insufficient cpus \(needs 100\) on \d of \d agents", proc.stderr), proc.stderr
    # ... and the waiting line said so while it waited (after a few seconds without progress)
    assert __import__("re").search(r"0/1 running \(waiting: insufficient cpus \(needs 100\)", proc.stderr), proc.stderr
    until(lambda: requests.get(sched.url + "/v2/apps/dev/deploy/huge", timeout=5).status_code == 404, 60,
          what="new app removed")
    assert requests.get(sched.url + "/v1/releases/huge/dev", timeout=5).json()["releases"][0]["result"] == "cancelled"


def test_bad_input_is_refused_with_exit_3(sched, services):
    proc, _ = deploy(sched, services, "nope", "1", "dev")
    assert proc.returncode == 3 and "no nope.yaml" in proc.stderr
    proc, _ = deploy(sched, services, "web", "1", "nowhere")
    assert proc.returncode == 3 and "no environment 'nowhere'" in proc.stderr


def test_fetched_artifacts_are_recorded_with_their_version_and_checked_against_their_sha256(sched, services, tmp_path):
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    artifacts.chmod(0o755)
    (artifacts / "app-1.txt").write_text("artifact one\n")
    (artifacts / "app-2.txt").write_text("artifact two, tampered\n")
    good = __import__("hashlib").sha256(b"artifact one\n").hexdigest()
    (services / "tarball.yaml").write_text(
        "id: /deploy/tarball\ncmd: 'cat app-{version}.txt && exec sleep 3600'\ncpus: 0.01\nmem: 8\n"
        f"minReadySeconds: 1\nfetch: [{{uri: 'file://{artifacts}/app-{{version}}.txt#sha256:{good}'}}]\n"
        "environments: {dev: {}}\n")
    proc, _ = deploy(sched, services, "tarball", "1", "dev")
    assert proc.returncode == 0, proc.stderr
    release = requests.get(sched.url + "/v1/releases/tarball/dev", timeout=5).json()["current"]
    assert release["fetch"] == [f"file://{artifacts}/app-1.txt#sha256:{good}"] and release["digest"] is None
    proc, _ = deploy(sched, services, "tarball", "2", "dev", "--timeout", "60")  # app-2.txt does not match the hash
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "/dev/deploy/tarball 2 failed; rolled back." in proc.stderr and "status 97" in proc.stderr, proc.stderr
    until(lambda: not app(sched, "/dev/deploy/tarball")["deployments"], 60, what="rolled back")
    assert "app-1.txt" in app(sched, "/dev/deploy/tarball")["fetch"][0]["uri"]
