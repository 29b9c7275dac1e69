"""A job run's output: the tail of its task's ``stdout`` or ``stderr``, read from the agent's
sandbox, its secret values masked (the jobs API and Eremetic's read it the same way)."""
from __future__ import annotations

from ..errors import NotFoundError
from ..jobs.executor import executor_id_for
from ..jobs.records import RunRecord
from ..mesos import sandbox
from ..runtime.backend import Backend


def run_output(backend: Backend, run: RunRecord, framework_id: str | None, name: str, max_bytes: int) -> str:
    """The tail of a run's current task's ``stdout`` or ``stderr``, read from its sandbox, secret
    values masked; NotFoundError before it is launched."""
    if run.task_id is None or run.agent_id is None or framework_id is None:
        raise NotFoundError(f"run '{run.run_id}' has not been launched yet: no {name}")
    text = sandbox.tail(backend.master(), run.agent_id, framework_id, executor_id_for(run.task_id), name,
                        max_bytes=max_bytes)
    values = run.spec.env_values()
    for secret in run.spec.secret_names():  # the job's output may print its secrets: never shown
        if values.get(secret):
            text = text.replace(values[secret], "******")
    return text

