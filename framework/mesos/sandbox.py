"""The tail of a file in a task's sandbox, read from its agent's ``/files`` endpoints.

The agent is found through the master (:meth:`MasterReader.agent_url`), the sandbox through the
agent's virtual path ``/frameworks/<framework>/executors/<executor>/runs/latest`` (falling back to
the executor's directory in the agent's ``/state``). An agent that does not answer is an
:class:`~halyard.errors.UpstreamError`.
"""
from __future__ import annotations

import requests

from ..errors import NotFoundError, UpstreamError
from ..runtime.backend import MasterReader

TIMEOUT = 5.0


def _executor_directory(agent: str, framework_id: str, executor_id: str) -> str | None:
    state = requests.get(f"{agent}/state", timeout=TIMEOUT).json()
    for framework in state.get("frameworks", []) + state.get("completed_frameworks", []):
        if framework.get("id") != framework_id:
            continue
        for executor in framework.get("executors", []) + framework.get("completed_executors", []):
            if executor.get("id") == executor_id:
                return executor.get("directory")
    return None


def _read(agent: str, path: str, offset: int, length: int | None = None) -> requests.Response:
    """The agent's ``/files/read`` of ``path`` from ``offset`` (-1: only the file's size)."""
    params: dict[str, str | int] = {"path": path, "offset": offset}
    if length is not None:
        params["length"] = length
    return requests.get(f"{agent}/files/read", params=params, timeout=TIMEOUT)


def tail(master: MasterReader, agent_id: str, framework_id: str, executor_id: str, name: str,
         max_bytes: int = 65536) -> str:
    """The last ``max_bytes`` of ``name`` (``stdout``, ``stderr``) in the executor's sandbox."""
    agent = master.agent_url(agent_id)
    try:
        path = f"/frameworks/{framework_id}/executors/{executor_id}/runs/latest/{name}"
        size = _read(agent, path, -1)
        if size.status_code == 404:
            directory = _executor_directory(agent, framework_id, executor_id)
            if directory is None:
                raise NotFoundError(f"no sandbox for executor {executor_id} on agent {agent_id} (garbage collected?)")
            path = f"{directory}/{name}"
            size = _read(agent, path, -1)
        if size.status_code == 404:
            raise NotFoundError(f"no file {name} in the sandbox of {executor_id}")
        size.raise_for_status()
        end = int(size.json()["offset"])
        start = max(0, end - max_bytes)
        chunk = _read(agent, path, start, end - start)
        chunk.raise_for_status()
        return chunk.json()["data"]
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise UpstreamError(f"agent {agent_id} at {agent} did not answer: {exc}") from None

