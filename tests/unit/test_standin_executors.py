"""The minimesos stand-ins for Mesos' command and Docker executors, as far as Halyard's app
fields reach them: ignoreHttp1xx (a 1xx answer leaves the health status as it is) and infinite
resource limits (Mesos' JSON gives them as the string "Infinity")."""
from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

LIBEXEC = Path(__file__).resolve().parents[2] / "minimesos" / "libexec"
IGNORE = {"labels": {"labels": [{"key": "HALYARD_HEALTH_IGNORE_HTTP1XX", "value": "true"}]}}


def load(name, monkeypatch):
    for key, value in {"MESOS_AGENT_ENDPOINT": "127.0.0.1:1", "MESOS_FRAMEWORK_ID": "F",
                       "MESOS_EXECUTOR_ID": "E"}.items():
        monkeypatch.setenv(key, value)
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(LIBEXEC / name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.mark.parametrize("executor", ["mesos-executor", "mesos-docker-executor"])
def test_a_1xx_answer_is_ignored_only_when_the_task_asks(executor, monkeypatch):
    module = load(executor, monkeypatch)
    assert module.ignores_1xx(IGNORE) and not module.ignores_1xx({})
    assert module.http_verdict(102, None, True) is None
    assert module.http_verdict(102, None, False) is False
    assert module.http_verdict(204, None, True) is True and module.http_verdict(500, None, True) is False


def test_the_command_executor_checks_a_real_answer(status_server, monkeypatch):
    module = load("mesos-executor", monkeypatch)
    check = {"type": "HTTP", "http": {"port": status_server, "path": "/102"}}
    assert module.check_once(check, 5, ignore_1xx=True) is None
    assert module.check_once(check, 5) is False
    assert module.check_once({"type": "HTTP", "http": {"port": status_server, "path": "/200"}}, 5, ignore_1xx=True) is True


def test_the_docker_executor_applies_infinite_and_finite_limits(monkeypatch):
    module = load("mesos-docker-executor", monkeypatch)
    task = {"container": {"docker": {"image": "busybox"}}, "command": {"value": "sleep 1"},
            "resources": [{"name": "cpus", "scalar": {"value": 0.5}}, {"name": "mem", "scalar": {"value": 64}}]}

    def argv(limits):
        return module.docker_run_argv(["docker"], {**task, "limits": limits}, "n", "/s", "/m", False, {})

    unlimited = argv({"cpus": {"value": "Infinity"}, "mem": {"value": "Infinity"}})
    assert "--cpu-quota" not in unlimited and "--memory" not in unlimited
    assert unlimited[unlimited.index("--memory-reservation") + 1] == str(64 << 20)
    finite = argv({"cpus": {"value": 1.5}, "mem": {"value": 128}})
    assert finite[finite.index("--cpu-quota") + 1] == "150000" and finite[finite.index("--memory") + 1] == str(128 << 20)
