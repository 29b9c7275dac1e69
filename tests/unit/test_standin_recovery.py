"""The minimesos command executor stand-in across an agent restart (``minimesos/agent restart``:
the agent crashes and comes back on its work dir): with checkpointing, as Mesos' own, it
subscribes again and its task keeps running; without, it kills the task.

Found by the chaos soak (bench/soak.py, fault ``agent-restart``): command tasks were lost on
every agent restart, Docker tasks were recovered."""
from __future__ import annotations

import time


def sleeper() -> dict:
    return {"task_id": {"value": "t1"}, "name": "t1", "agent_id": {"value": "S-1"},
            "command": {"value": "sleep 60", "shell": True},
            "kill_policy": {"grace_period": {"nanoseconds": 1_000_000_000}}}


def wait(fn, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s")


def test_with_checkpointing_the_task_survives_an_agent_restart(agent):
    agent.start("mesos-executor", sleeper(), env={"MESOS_CHECKPOINT": "1", "MESOS_RECOVERY_TIMEOUT": "15mins"})
    agent.wait_for("TASK_RUNNING", lambda s: s["state"] == "TASK_RUNNING")
    agent.restart()
    wait(lambda: len(agent.subscribes) >= 2)
    assert agent.proc.poll() is None
    assert [s["state"] for s in agent.statuses] == ["TASK_STARTING", "TASK_RUNNING"]   # nothing ended
    agent.kill("t1")   # the recovered executor still runs its task and obeys
    agent.wait_for("TASK_KILLED", lambda s: s["state"] == "TASK_KILLED")


def test_without_checkpointing_an_agent_restart_ends_the_task(agent):
    agent.start("mesos-executor", sleeper())
    agent.wait_for("TASK_RUNNING", lambda s: s["state"] == "TASK_RUNNING")
    agent.restart()
    wait(lambda: agent.proc.poll() is not None)
    assert len(agent.subscribes) == 1
