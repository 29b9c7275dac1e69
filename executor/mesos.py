"""The Mesos side of Halyard's executor: pymesos' v1 executor driver around :class:`JobRunner`.

The job's parameters arrive as JSON in ``TaskInfo.data``: ``cmd`` (a shell command) or ``argv``,
``env``, ``secretEnv`` (names whose values are masked wherever the executor shows them),
``timeoutSeconds`` and ``killGracePeriodSeconds``. Updates: TASK_STARTING, TASK_RUNNING, then
TASK_FINISHED, TASK_FAILED (exit status, signal or timeout in ``message``; ``data`` is JSON with
``exitCode``, ``signal``, ``timedOut``, ``runtimeSeconds``) or TASK_KILLED. The job's output goes to
the sandbox's ``stdout`` and ``stderr``; the executor's own log to ``executor.log``.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from typing import Any, Optional

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
        command = spec.get("argv") or spec.get("cmd") or "true"
        timeout: Optional[float] = spec.get("timeoutSeconds")
        runner = JobRunner(command, env={**os.environ, **{k: str(v) for k, v in (spec.get("env") or {}).items()}},
                           cwd=os.environ.get("MESOS_SANDBOX") or os.getcwd(), timeout=timeout,
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
        state = "TASK_FINISHED" if outcome.succeeded else "TASK_KILLED" if outcome.killed else "TASK_FAILED"
        message = mask(outcome.message(timeout), secrets)
        log.info("task %s: %s (%s)", task_id["value"], state, message)
        update(driver, task_id, state, message, {"exitCode": outcome.exit_code, "signal": outcome.signal,
                                                  "timedOut": outcome.timed_out,
                                                  "runtimeSeconds": round(outcome.runtime, 3)})
        finish(driver, self, task_id)


def update(driver: Any, task_id: dict, state: str, message: str = "", data: Optional[dict] = None) -> None:
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
