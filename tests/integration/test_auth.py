"""API auth and secrets against a real scheduler."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from .harness import SchedulerProc, clean_shutdown, sleep_app, unique
from .v1client import until

pytestmark = pytest.mark.integration
RW, RO = {"Authorization": "Bearer w-123"}, {"Authorization": "Bearer r-456"}


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    path = tmp_path_factory.mktemp("auth") / "tokens"
    path.write_text("# token grant\nw-123 rw\nr-456 ro\n")
    return path


@pytest.fixture(scope="module")
def sched(cluster, tokens, tmp_path_factory):
    name = unique("halyard-test")
    s = SchedulerProc(cluster, unique("halyard-test"), name, tmp_path_factory.mktemp("authlogs"),
                      "--tokens-file", str(tokens)).start()
    until(s.leading, 30, what="leader")
    yield s
    requests.delete(s.url + "/v2/apps/auth/secret", params={"force": "true"}, headers=RW, timeout=10)
    clean_shutdown(cluster, name, [s])


def test_writes_need_a_read_write_token_reads_stay_open(sched):
    app = sleep_app("/auth/open", 0)
    assert requests.post(sched.url + "/v2/apps", json=app, timeout=10).status_code == 401
    assert requests.post(sched.url + "/v2/apps", json=app, headers=RO, timeout=10).status_code == 403
    assert requests.post(sched.url + "/v2/apps", json=app, headers=RW, timeout=10).status_code == 201
    assert requests.get(sched.url + "/v2/apps/auth/open", timeout=10).status_code == 200
    assert requests.delete(sched.url + "/v2/apps/auth/open", params={"force": "true"}, headers=RO,
                           timeout=10).status_code == 403
    assert requests.delete(sched.url + "/v2/apps/auth/open", params={"force": "true"}, headers=RW,
                           timeout=10).status_code == 200


def test_secret_env_reaches_the_task_but_never_the_api(sched, tmp_path):
    out = tmp_path / "env"
    app = {**sleep_app("/auth/secret", 1), "cmd": f"echo \"pw=$DB_PASSWORD\" > {out}; sleep 3600",
           "env": {"DB_PASSWORD": {"value": "hunter2", "secret": True}, "MODE": "prod"}}
    created = requests.post(sched.url + "/v2/apps", json=app, headers=RW, timeout=10)
    assert created.status_code == 201 and "hunter2" not in created.text
    until(lambda: out.exists() and out.read_text().strip(), 60, what="the task wrote its env")
    assert out.read_text().strip() == "pw=hunter2"
    shown = requests.get(sched.url + "/v2/apps/auth/secret", timeout=10)
    assert shown.json()["app"]["env"] == {"DB_PASSWORD": {"secret": True}, "MODE": "prod"}
    assert "hunter2" not in requests.get(sched.url + "/v2/apps", timeout=10).text
    assert "hunter2" not in Path(sched.log).read_text()


def test_reads_can_be_closed_too(cluster, tokens, tmp_path):
    name = unique("halyard-test")
    s = SchedulerProc(cluster, unique("halyard-test"), name, tmp_path, "--tokens-file", str(tokens),
                      "--auth-reads").start()
    try:
        until(s.leading, 30, what="leader")
        assert requests.get(s.url + "/v2/apps", timeout=10).status_code == 401
        assert requests.get(s.url + "/v2/apps", headers=RO, timeout=10).status_code == 200
        assert requests.get(s.url + "/ping", timeout=10).text == "pong"
    finally:
        clean_shutdown(cluster, name, [s])
