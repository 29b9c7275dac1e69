"""Releases on the real cluster and the local registry: promotion by digest (a tag re-pushed after
staging), a refused promotion (exit 4), --force recorded, rollback, and a failover in the middle of
a deploy recording the release once."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .harness import SchedulerProc, clean_shutdown, unique
from .v1client import until

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent

ENVIRONMENTS = """environments:
  staging:    {namespace: /staging}
  production: {namespace: /production, promoteFrom: staging}
"""
SERVICE = """id: /rel/svc
container: {type: DOCKER, docker: {image: IMAGE, network: HOST}}
cmd: 'echo "$HALYARD_VERSION" > /tmp/index.html && exec httpd -f -p $PORT0 -h /tmp'
cpus: 0.05
mem: 16
instances: 1
minReadySeconds: MINREADY
environments: {staging: {}, production: {}}
"""


def docker(cluster, *args):
    return subprocess.run(["/usr/bin/docker", "-H", cluster["DOCKER_HOST"], *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def push_variant(cluster, target: str, label: str) -> None:
    """Push an image that differs from busybox (one label) as ``target``: a new digest for the tag."""
    container = docker(cluster, "create", "local/busybox:1", "true")
    try:
        docker(cluster, "commit", "--change", f"LABEL variant={label}", container, target)
    finally:
        docker(cluster, "rm", container)
    docker(cluster, "push", target)


def registry_digest(image_tag: str) -> str:
    registry, _, rest = image_tag.partition("/")
    name, _, tag = rest.rpartition(":")
    return requests.head(f"http://{registry}/v2/{name}/manifests/{tag}", timeout=5, headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"}).headers["Docker-Content-Digest"]


def run(tool, url, services, *args, timeout=200):
    return subprocess.run([str(BIN / tool), *args, "--services", str(services), "--api", url], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "HALYARD_SERVICES": ""})


@pytest.fixture(scope="module")
def repo(cluster):
    """A repository of its own in the local registry, with tags v1 and v2 (busybox)."""
    name = f"{cluster['REGISTRY']}/{unique('rel')}"
    for tag in ("v1", "v2"):
        docker(cluster, "tag", "local/busybox:1", f"{name}:{tag}")
        docker(cluster, "push", f"{name}:{tag}")
    return name


def services_dir(path: Path, image: str, min_ready: float = 1) -> Path:
    (path / "environments.yaml").write_text(ENVIRONMENTS)
    (path / "svc.yaml").write_text(SERVICE.replace("IMAGE", image).replace("MINREADY", str(min_ready)))
    return path


def releases(sched, env):
    return requests.get(f"{sched.url}/v1/releases/svc/{env}", timeout=5).json()


def image_of(sched, app_id):
    return requests.get(sched.url + "/v2/apps" + app_id, timeout=5).json()["app"]["container"]["docker"]["image"]


def test_promotion_by_digest_refusal_force_and_rollback(sched, cluster, repo, tmp_path):
    services = services_dir(tmp_path, repo)
    staged = registry_digest(f"{repo}:v1")
    proc = run("deploy", sched.url, services, "svc", "v1", "staging")
    assert proc.returncode == 0, proc.stderr
    assert image_of(sched, "/staging/rel/svc") == f"{repo}@{staged}"

    push_variant(cluster, f"{repo}:v1", "moved")   # the tag moves after staging tested it
    assert registry_digest(f"{repo}:v1") != staged
    proc = run("halyard", sched.url, services, "promote", "svc", "staging", "production")
    assert proc.returncode == 0, proc.stderr
    assert image_of(sched, "/production/rel/svc") == f"{repo}@{staged}"   # what staging ran, not the moved tag
    production = releases(sched, "production")
    assert production["current"]["digest"] == staged and production["current"]["promotedFrom"] == "staging"

    proc = run("deploy", sched.url, services, "svc", "v2", "production")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "v2 has no successful release in staging (staging runs v1)" in proc.stderr
    assert image_of(sched, "/production/rel/svc") == f"{repo}@{staged}" and len(releases(sched, "production")["releases"]) == 1

    proc = run("deploy", sched.url, services, "svc", "v2", "production", "--force")
    assert proc.returncode == 0, proc.stderr
    now = releases(sched, "production")["current"]
    assert now["version"] == "v2" and now["forced"] is True and now["digest"] == registry_digest(f"{repo}:v2")

    proc = run("halyard", sched.url, services, "rollback", "svc", "production")
    assert proc.returncode == 0, proc.stderr
    now = releases(sched, "production")["current"]
    assert now["version"] == "v1" and now["digest"] == staged and now["rollback"] is True
    assert image_of(sched, "/production/rel/svc") == f"{repo}@{staged}"

    table = run("halyard", sched.url, services, "releases", "svc", "production").stdout
    lines = table.splitlines()
    assert lines[0].split()[:6] == ["VERSION", "DIGEST", "ENVIRONMENT", "WHEN", "RESULT", "CURRENT"]
    assert lines[1].split()[:2] == ["v1", staged[:19]] and "*" in lines[1] and "rollback" in lines[1]
    assert "forced" in lines[2] and "from staging" in lines[3]


def test_failover_in_the_middle_of_a_deploy_records_the_release_once(cluster, repo, tmp_path):
    services = services_dir(tmp_path, repo, min_ready=12)
    chroot, name = unique("halyard-test"), unique("halyard-test")
    a = SchedulerProc(cluster, chroot, name, tmp_path).start()
    b = SchedulerProc(cluster, chroot, name, tmp_path)
    try:
        until(a.leading, 30, what="a leads")
        b.start()
        deploy = subprocess.Popen([str(BIN / "deploy"), "svc", "v1", "staging", "--services", str(services),
                                   "--api", b.url, "--timeout", "150"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env={**os.environ, "HALYARD_SERVICES": ""})
        history = until(lambda: releases(a, "staging")["releases"], 60, what="the release recorded")
        assert history[0]["result"] == "deploying"
        until(lambda: a.running("/staging/rel/svc"), 60, what="the task running (the deployment under way)")
        a.kill9()                                # the leader dies while the deployment waits minReadySeconds
        t0 = time.monotonic()
        until(b.leading, 60, what="b leads")
        out, err = deploy.communicate(timeout=180)
        assert deploy.returncode == 0, out + err
        history = releases(b, "staging")["releases"]
        assert len(history) == 1, history
        assert history[0]["result"] == "succeeded" and history[0]["deploymentId"] == \
            requests.get(b.url + "/v2/deployments/" + history[0]["deploymentId"], timeout=5).json()["id"]
        print(f"\nFIGURE failover mid-deploy: release settled {time.monotonic() - t0:.1f}s after the leader died")
    finally:
        clean_shutdown(cluster, name, [a, b])


def test_an_environment_on_another_halyard_gets_the_promoted_digest_and_names_the_token(sched, cluster, repo,
                                                                                        tmp_path):
    from .harness import leading_scheduler
    tokens = tmp_path / "tokens"
    tokens.write_text("prod-s3cret rw deployer-bot\n")
    with leading_scheduler(cluster, tmp_path, "--tokens-file", str(tokens)) as prod:
        services = services_dir(tmp_path, repo)
        (services / "far.yaml").write_text((services / "svc.yaml").read_text().replace("/rel/svc", "/rel/far"))
        (services / "environments.yaml").write_text(
            "environments:\n  staging: {namespace: /staging}\n"
            f"  production: {{namespace: /production, api: '{prod.url}', tokenEnv: PROD_T, promoteFrom: staging}}\n")
        proc = subprocess.run([str(BIN / "deploy"), "far", "v2", "staging", "--services", str(services), "--api",
                               sched.url], capture_output=True, text=True, timeout=200)
        assert proc.returncode == 0, proc.stderr
        env = {**os.environ, "HALYARD_SERVICES": "", "PROD_T": "prod-s3cret"}
        proc = subprocess.run([str(BIN / "halyard"), "promote", "far", "staging", "production", "--services",
                               str(services), "--api", sched.url], capture_output=True, text=True, timeout=200, env=env)
        assert proc.returncode == 0, proc.stderr
        staged = requests.get(f"{sched.url}/v1/releases/far/staging", timeout=5).json()["current"]
        shipped = requests.get(f"{prod.url}/v1/releases/far/production", timeout=5, headers=prod.headers).json()
        assert shipped["current"]["digest"] == staged["digest"] and shipped["current"]["who"] == "deployer-bot"
        assert requests.get(f"{sched.url}/v1/releases?service=far&environment=production", timeout=5).json() == \
            {"releases": []}   # the first Halyard never saw production
        assert staged["who"] == "anonymous"
