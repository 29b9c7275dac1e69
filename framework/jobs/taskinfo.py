"""A job run's task as a Mesos TaskInfo (v1 JSON) for Halyard's executor, and the ExecutorInfo
that starts that executor. The job's parameters travel as JSON in ``TaskInfo.data`` (see
:mod:`halyard_executor.mesos`)."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from .records import RunRecord

RUN_ID_LABEL = "HALYARD_RUN_ID"
JOB_ID_LABEL = "HALYARD_JOB_ID"


@dataclass(frozen=True)
class ExecutorSettings:
    """How agents start Halyard's executor.

    ``command`` runs in the sandbox after ``uris`` are fetched into it (by default the scheduler
    serves the executor as one zipapp file, run with the agent's ``python3``). ``cpus`` and ``mem``
    are the executor's own share, added to each run's resources.
    """

    command: str = "python3 -m halyard_executor"
    uris: tuple[str, ...] = ()
    cpus: float = 0.05
    mem: float = 32.0


def executor_id_for(task_id: str) -> str:
    return f"halyard-executor.{task_id}"


def job_params(run: RunRecord) -> dict[str, Any]:
    """What the executor runs: command or image, environment, timeout and kill grace period."""
    spec = run.spec
    env = spec.env_values()
    env.update({"HALYARD_JOB_ID": run.job_id, "HALYARD_RUN_ID": run.run_id, "HALYARD_ATTEMPT": str(run.attempt),
                "MESOS_TASK_ID": run.task_id or ""})
    params: dict[str, Any] = {"env": env, "secretEnv": spec.secret_names(),
                              "killGracePeriodSeconds": spec.task_kill_grace_period_seconds}
    if spec.timeout_seconds is not None:
        params["timeoutSeconds"] = spec.timeout_seconds
    if spec.container is not None:
        docker = spec.container.docker
        params["docker"] = {"image": docker.image, "forcePullImage": docker.force_pull_image,
                            "privileged": docker.privileged, "args": list(spec.args or []),
                            "parameters": [{"key": p.key, "value": p.value} for p in docker.parameters],
                            "volumes": [{"containerPath": v.container_path, "hostPath": v.host_path, "mode": v.mode}
                                        for v in spec.container.volumes],
                            "name": f"halyard-{run.task_id}"}
        if spec.cmd is not None:
            params["docker"]["cmd"] = spec.cmd
    else:
        params["cmd"] = spec.cmd
    return params


def job_task_info(run: RunRecord, agent_id: str, task_resources: list[dict], executor_resources: list[dict],
                  executor: ExecutorSettings) -> dict[str, Any]:
    """The TaskInfo (with its ExecutorInfo) that runs the current attempt of ``run``."""
    assert run.task_id is not None, "launching() first"
    spec = run.spec
    uris = [{"value": u, "extract": False, "executable": False, "cache": True} for u in executor.uris]
    uris += [{"value": f.uri, "extract": f.extract, "executable": f.executable, "cache": f.cache,
              **({"output_file": f.dest_path} if f.dest_path else {})} for f in spec.fetch]
    command: dict[str, Any] = {"value": executor.command, "shell": True, "uris": uris}
    if spec.user:
        command["user"] = spec.user
    labels = {**spec.labels, JOB_ID_LABEL: run.job_id, RUN_ID_LABEL: run.run_id}
    return {
        "name": f"job.{run.job_id}",
        "task_id": {"value": run.task_id},
        "agent_id": {"value": agent_id},
        "resources": task_resources,
        "executor": {"executor_id": {"value": executor_id_for(run.task_id)}, "type": "CUSTOM",
                     "name": f"Halyard executor for {run.job_id}", "source": "halyard",
                     "command": command, "resources": executor_resources},
        "data": base64.b64encode(json.dumps(job_params(run)).encode()).decode(),
        "labels": {"labels": [{"key": k, "value": v} for k, v in labels.items()]},
    }


def split_allocation(allocation: tuple[tuple[str, str, float], ...], cpus: float,
                     mem: float) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, float]]]:
    """Split a planned allocation (job + executor) into the task's part and the executor's part."""
    want = {"cpus": cpus, "mem": mem}
    task: list[tuple[str, str, float]] = []
    execu: list[tuple[str, str, float]] = []
    for name, role, amount in allocation:
        take = min(amount, want.get(name, 0.0))
        if take > 0:
            execu.append((name, role, round(take, 6)))
            want[name] -= take
        if amount - take > 1e-9:
            task.append((name, role, round(amount - take, 6)))
    return task, execu
