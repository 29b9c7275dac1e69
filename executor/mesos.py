"""The Mesos side of Halyard's executor: pymesos' v1 executor driver around :class:`JobRunner`.

The job's parameters arrive as JSON in ``TaskInfo.data``: ``cmd`` (a shell command), ``argv``, or
``docker`` (``image``, ``args`` or ``cmd``, ``forcePullImage``, ``privileged``, ``parameters``,
``volumes``, ``name``: run with the ``docker`` CLI, the sandbox mounted at /mnt/mesos/sandbox, and
the container removed when the job ends, whatever ended it), ``env``, ``secretEnv`` (names whose values are masked wherever the executor shows them),
``timeoutSeconds`` and ``killGracePeriodSeconds``. Updates: TASK_STARTING, TASK_RUNNING, then
TASK_FINISHED, TASK_FAILED (exit status, signal or timeout in ``message``; ``data`` is JSON with
``exitCode``, ``signal``, ``timedOut``, ``runtimeSeconds`` and ``executor``: its own peak RSS and CPU time) or TASK_KILLED. The job's output goes to
the sandbox's ``stdout`` and ``stderr``; the executor's own log to ``executor.log``.
"""
from __future__ import annotations

import base64
import json
import logging
import math
import os
import resource
import subprocess
import threading
import time
from typing import Any

from pymesos import Executor, MesosExecutorDriver, encode_data

from .runner import JobRunner

log = logging.getLogger("halyard.executor")


def job_spec(task: dict) -> dict[str, Any]:
    data = task.get("data")
    return json.loads(base64.b64decode(data)) if data else {}


def mask(text: str, secrets: list[str]) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, "******")
    return text


class JobExecutor(Executor):
    """Runs each launched task with its own JobRunner, on a thread of its own (never pymesos' IO thread)."""

    def __init__(self) -> None:
        self.runners: dict[str, JobRunner] = {}
        self.lock = threading.Lock()

    def launchTask(self, driver: Any, task: dict) -> None:  # noqa: N802 - pymesos' name
        threading.Thread(target=self._run, args=(driver, task), name="job", daemon=True).start()

    def killTask(self, driver: Any, task_id: dict) -> None:  # noqa: N802
        runner = self.runners.get(task_id["value"])
        if runner is not None:
            threading.Thread(target=runner.kill, daemon=True).start()

    def shutdown(self, driver: Any) -> None:
        for runner in list(self.runners.values()):
            runner.kill()

    def _run(self, driver: Any, task: dict) -> None:
        task_id = task["task_id"]
        spec = job_spec(task)
        secrets = [str(v) for k, v in (spec.get("env") or {}).items() if k in set(spec.get("secretEnv") or ())]
        update(driver, task_id, "TASK_STARTING")
        sandbox = os.environ.get("MESOS_SANDBOX") or os.getcwd()
        job_env = {k: str(v) for k, v in (spec.get("env") or {}).items()}
        docker = spec.get("docker")
        command = docker_argv(docker, sorted(job_env), sandbox) if docker else (spec.get("argv") or spec.get("cmd") or "true")
        timeout: float | None = spec.get("timeoutSeconds")
        runner = JobRunner(command, env={**os.environ, **job_env}, cwd=sandbox, timeout=timeout,
                           grace=float(spec.get("killGracePeriodSeconds", 3.0)))
        with self.lock:
            self.runners[task_id["value"]] = runner
        try:
            pid = runner.start()
        except OSError as exc:
            update(driver, task_id, "TASK_FAILED", mask(f"cannot start: {exc}", secrets))
            return finish(driver, self, task_id)
        log.info("task %s: started pid %d", task_id["value"], pid)
        update(driver, task_id, "TASK_RUNNING", data={"pid": pid})
        outcome = runner.wait()
        if docker:
            remove_container(docker["name"])
        state = "TASK_FINISHED" if outcome.succeeded else "TASK_KILLED" if outcome.killed else "TASK_FAILED"
        message = mask(outcome.message(timeout), secrets)
        log.info("task %s: %s (%s)", task_id["value"], state, message)
        update(driver, task_id, state, message, {"exitCode": outcome.exit_code, "signal": outcome.signal,
                                                  "timedOut": outcome.timed_out,
                                                  "runtimeSeconds": round(outcome.runtime, 3),
                                                  "executor": own_usage()})
        finish(driver, self, task_id)


def docker_argv(docker: dict, env_names: list[str], sandbox: str) -> list[str]:
    """``docker run`` for a job's image: its network (the host's by default), the sandbox mounted, env passed by name
    (values stay out of the command line), the job's own parameters and volumes."""
    argv = ["docker", "run", "--rm", "--name", docker["name"], "--network", docker.get("network") or "host",
            "-v", f"{sandbox}:/mnt/mesos/sandbox", "-e", "MESOS_SANDBOX=/mnt/mesos/sandbox", "-w", "/mnt/mesos/sandbox"]
    if docker.get("forcePullImage"):
        argv += ["--pull", "always"]
    if docker.get("privileged"):
        argv.append("--privileged")
    if docker.get("cpus"):  # the job's resources, as limits: the container stays inside what Mesos gave it
        argv.append(f"--cpus={docker['cpus']:g}")
    if docker.get("mem"):
        argv.append(f"--memory={max(6, math.ceil(docker['mem']))}m")  # docker's minimum is 6 MB
    for volume in docker.get("volumes") or []:
        argv += ["-v", f"{volume['hostPath']}:{volume['containerPath']}:{volume.get('mode', 'RW').lower()}"]
    for param in docker.get("parameters") or []:
        argv.append(f"--{param['key']}={param['value']}")
    for name in env_names:
        argv += ["-e", name]
    argv.append(docker["image"])
    if docker.get("cmd"):
        argv += ["/bin/sh", "-c", docker["cmd"]]
    else:
        argv += list(docker.get("args") or [])
    return argv


def remove_container(name: str) -> None:
    """The job is over: its container goes too (a killed ``docker run`` client leaves it running)."""
    try:
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("cannot remove container %s: %s", name, exc)


def own_usage() -> dict[str, float]:
    """The executor's own overhead so far (not the job's): peak RSS and CPU seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"maxRssKb": usage.ru_maxrss, "cpuSeconds": round(usage.ru_utime + usage.ru_stime, 3)}


def update(driver: Any, task_id: dict, state: str, message: str = "", data: dict | None = None) -> None:
    status: dict[str, Any] = {"task_id": task_id, "state": state}
    if message:
        status["message"] = message
    if data is not None:
        status["data"] = encode_data(json.dumps(data).encode())
    driver.sendStatusUpdate(status)


def finish(driver: Any, executor: JobExecutor, task_id: dict, wait: float = 10.0) -> None:
    """The job is over: once its terminal update is acknowledged (or after ``wait``), stop."""
    with executor.lock:
        executor.runners.pop(task_id["value"], None)
        if executor.runners:
            return
    deadline = time.monotonic() + wait
    while getattr(driver, "updates", None) and time.monotonic() < deadline:
        time.sleep(0.05)
    driver.stop()


def main() -> None:
    sandbox = os.environ.get("MESOS_SANDBOX") or os.getcwd()
    logging.basicConfig(filename=os.path.join(sandbox, "executor.log"), level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    driver = MesosExecutorDriver(JobExecutor(), use_addict=True)
    driver.run()
