"""A job run's task as a Mesos TaskInfo (v1 JSON) for Halyard's executor, and the ExecutorInfo
that starts that executor. The job's parameters travel as JSON in ``TaskInfo.data`` (see
:mod:`halyard_executor.mesos`)."""
from __future__ import annotations

import base64
import json
from typing import Any

from ..engine.messages import JobTaskLaunch
from ..jobs.executor import executor_id_for
from ..jobs.records import RunRecord
from .resources import resources_json

RUN_ID_LABEL = "HALYARD_RUN_ID"
JOB_ID_LABEL = "HALYARD_JOB_ID"


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
                            "cpus": spec.cpus, "mem": spec.mem,  # the container's limits: Mesos' accounting
                            "parameters": [{"key": p.key, "value": p.value} for p in docker.parameters],
                            "volumes": [{"containerPath": v.container_path, "hostPath": v.host_path, "mode": v.mode}
                                        for v in spec.container.volumes],
                            "name": f"halyard-{run.task_id}", "network": spec.network()}
        if spec.cmd is not None:
            params["docker"]["cmd"] = spec.cmd
    else:
        params["cmd"] = spec.cmd
    return params


def job_task_info(launch: JobTaskLaunch) -> dict[str, Any]:
    """The TaskInfo (with its ExecutorInfo) that runs the current attempt of a run."""
    run, executor, agent_id = launch.run, launch.executor, launch.agent_id
    task_id = launch.task_id
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
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "resources": resources_json(launch.resources),
        "executor": {"executor_id": {"value": executor_id_for(task_id)}, "type": "CUSTOM",
                     "name": f"Halyard executor for {run.job_id}", "source": "halyard",
                     "command": command, "resources": resources_json(launch.executor_resources)},
        "data": base64.b64encode(json.dumps(job_params(run)).encode()).decode(),
        "labels": {"labels": [{"key": k, "value": v} for k, v in labels.items()]},
    }
