"""The tail of a file in a task's sandbox, read from its agent's ``/files`` endpoints.

The agent is found through the master (``/master/slaves``), the sandbox through the agent's
virtual path ``/frameworks/<framework>/executors/<executor>/runs/latest`` (falling back to the
executor's directory in the agent's ``/state``).
"""
from __future__ import annotations

from typing import Optional

import requests

from ..errors import HalyardError, NotFoundError

TIMEOUT = 5.0


class SandboxUnavailable(HalyardError):
    """The agent holding the sandbox did not answer."""


def agent_url(master_url: str, agent_id: str) -> str:
    try:
        agents = requests.get(f"{master_url}/master/slaves", timeout=TIMEOUT).json().get("slaves", [])
    except (requests.RequestException, ValueError) as exc:
        raise SandboxUnavailable(f"the Mesos master at {master_url} did not answer: {exc}") from None
    for agent in agents:
        if agent.get("id") == agent_id:
            return "http://" + agent["pid"].rsplit("@", 1)[1]
    raise NotFoundError(f"agent {agent_id} is not registered with the master (its sandboxes are out of reach)")


def _executor_directory(agent: str, framework_id: str, executor_id: str) -> Optional[str]:
    state = requests.get(f"{agent}/state", timeout=TIMEOUT).json()
    for framework in state.get("frameworks", []) + state.get("completed_frameworks", []):
        if framework.get("id") != framework_id:
            continue
        for executor in framework.get("executors", []) + framework.get("completed_executors", []):
            if executor.get("id") == executor_id:
                return executor.get("directory")
    return None


def tail(master_url: str, agent_id: str, framework_id: str, executor_id: str, name: str,
         max_bytes: int = 65536) -> str:
    """The last ``max_bytes`` of ``name`` (``stdout``, ``stderr``) in the executor's sandbox."""
    agent = agent_url(master_url, agent_id)
    try:
        path = f"/frameworks/{framework_id}/executors/{executor_id}/runs/latest/{name}"
        size = requests.get(f"{agent}/files/read", params={"path": path, "offset": -1}, timeout=TIMEOUT)
        if size.status_code == 404:
            directory = _executor_directory(agent, framework_id, executor_id)
            if directory is None:
                raise NotFoundError(f"no sandbox for executor {executor_id} on agent {agent_id} (garbage collected?)")
            path = f"{directory}/{name}"
            size = requests.get(f"{agent}/files/read", params={"path": path, "offset": -1}, timeout=TIMEOUT)
        if size.status_code == 404:
            raise NotFoundError(f"no file {name} in the sandbox of {executor_id}")
        size.raise_for_status()
        end = int(size.json()["offset"])
        start = max(0, end - max_bytes)
        chunk = requests.get(f"{agent}/files/read", params={"path": path, "offset": start, "length": end - start},
                             timeout=TIMEOUT)
        chunk.raise_for_status()
        return chunk.json()["data"]
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise SandboxUnavailable(f"agent {agent_id} at {agent} did not answer: {exc}") from None


def last_lines(text: str, lines: Optional[int]) -> str:
    if lines is None:
        return text
    kept = text.splitlines(keepends=True)[-lines:] if lines > 0 else []
    return "".join(kept)
