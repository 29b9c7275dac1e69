"""The stand-in executors run a task's Mesos check (a CheckInfo: COMMAND, HTTP, TCP) as Mesos
1.11's executors do, run here as the agent runs them (``fake_agent.FakeAgent``): the first
TASK_RUNNING carries an empty ``check_status`` of the check's type; each changed result is a
TASK_RUNNING with reason REASON_TASK_CHECK_STATUS_UPDATED; later updates repeat the last result;
a failing check never kills the task."""
from __future__ import annotations

import socket

import pytest

from .fake_agent import LIBEXEC, FakeAgent, fake_docker
from .test_standin_executors import load

UPDATED = "REASON_TASK_CHECK_STATUS_UPDATED"
FAST = {"delay_seconds": 0.0, "interval_seconds": 0.2, "timeout_seconds": 5.0}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def task(task_id: str, check: dict, **extra) -> dict:
    return {"task_id": {"value": task_id}, "name": task_id, "agent_id": {"value": "S-1"},
            "command": {"value": "sleep 60", "shell": True}, "check": {**FAST, **check},
            "kill_policy": {"grace_period": {"nanoseconds": 1_000_000_000}}, **extra}


def command_check(shell: str) -> dict:
    return {"type": "COMMAND", "command": {"command": {"value": shell, "shell": True}}}


def updated(agent: FakeAgent, expected: dict) -> dict:
    return agent.wait_for(f"with check_status {expected}",
                          lambda s: s.get("reason") == UPDATED and s.get("check_status") == expected)


def test_the_command_executor_reports_each_changed_command_check_result_and_never_kills(agent, tmp_path):
    agent.start("mesos-executor", task("t-cmd", command_check("test -f ready")))
    first = agent.wait_for("TASK_RUNNING", lambda s: s["state"] == "TASK_RUNNING")
    assert first["check_status"] == {"type": "COMMAND", "command": {}} and "reason" not in first
    failing = updated(agent, {"type": "COMMAND", "command": {"exit_code": 1}})
    assert failing["state"] == "TASK_RUNNING"
    (tmp_path / "sandbox" / "ready").write_text("")
    updated(agent, {"type": "COMMAND", "command": {"exit_code": 0}})
    # One update per change: the failing result, checked every 0.2 s, was reported once.
    assert sum(s.get("check_status") == {"type": "COMMAND", "command": {"exit_code": 1}}
               for s in agent.statuses) == 1
    assert not any(s["state"] != "TASK_RUNNING" for s in agent.statuses[1:])   # the check killed nothing
    agent.kill("t-cmd")
    killed = agent.wait_for("TASK_KILLED", lambda s: s["state"] == "TASK_KILLED")
    assert killed["check_status"] == {"type": "COMMAND", "command": {"exit_code": 0}}  # the last result, repeated
    assert agent.proc.wait(15) == 0


@pytest.mark.parametrize("kind", ["HTTP", "TCP-open", "TCP-closed"])
def test_the_command_executor_reports_http_and_tcp_results(agent, status_server, kind):
    check, expected = {
        "HTTP": ({"type": "HTTP", "http": {"port": status_server, "path": "/503"}}, {"type": "HTTP", "http": {"status_code": 503}}),
        "TCP-open": ({"type": "TCP", "tcp": {"port": status_server}}, {"type": "TCP", "tcp": {"succeeded": True}}),
        "TCP-closed": ({"type": "TCP", "tcp": {"port": closed_port()}}, {"type": "TCP", "tcp": {"succeeded": False}}),
    }[kind]
    agent.start("mesos-executor", task("t-" + kind, check))
    first = agent.wait_for("TASK_RUNNING", lambda s: s["state"] == "TASK_RUNNING")
    assert first["check_status"] == {"type": check["type"], check["type"].lower(): {}}
    updated(agent, expected)


def test_a_check_without_a_result_leaves_the_field_empty(monkeypatch):
    module = load("mesos-executor", monkeypatch)
    check = command_check("sleep 5")
    assert module.run_check(check, "127.0.0.1", 0.3) is None   # timed out
    assert module.check_status(check, None) == {"type": "COMMAND", "command": {}}
    assert module.run_check({"type": "HTTP", "http": {"port": closed_port()}}, "127.0.0.1", 1) is None
    assert module.run_check(command_check("exit 7"), "127.0.0.1", 5) == 7


def test_a_task_without_a_check_reports_no_check_status(agent):
    agent.start("mesos-executor", {**task("t-none", {}), "check": None})
    running = agent.wait_for("TASK_RUNNING", lambda s: s["state"] == "TASK_RUNNING")
    assert "check_status" not in running


def test_the_docker_executor_runs_checks_in_the_container_and_reports_them(agent, tmp_path, status_server):
    docker, env = fake_docker(tmp_path)
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    flags = ("--container=mesos-c1", f"--docker={docker}", f"--docker_socket={tmp_path}/docker.sock",
             f"--sandbox_directory={sandbox}", "--mapped_directory=/mnt/mesos/sandbox", f"--launcher_dir={LIBEXEC}",
             "--stop_timeout=1secs")
    docker_task = task("t-docker", command_check("exit 3"),
                       container={"type": "DOCKER", "docker": {"image": "busybox", "network": "HOST"}},
                       resources=[{"name": "cpus", "scalar": {"value": 0.1}}, {"name": "mem", "scalar": {"value": 32}}])
    agent.start("mesos-docker-executor", docker_task, flags, env)
    first = agent.wait_for("TASK_RUNNING", lambda s: s["state"] == "TASK_RUNNING")
    assert first["check_status"] == {"type": "COMMAND", "command": {}}
    updated(agent, {"type": "COMMAND", "command": {"exit_code": 3}})
    agent.kill("t-docker")
    killed = agent.wait_for("TASK_KILLED", lambda s: s["state"] == "TASK_KILLED")
    assert killed["check_status"] == {"type": "COMMAND", "command": {"exit_code": 3}}
