"""The engine's :class:`~halyard.engine.messages.OperatorCall` (deactivate, drain, reactivate an
agent at the master), made off the leader loop on a worker pool the process shares, and answered
with :class:`~halyard.engine.messages.OperatorAnswered` (the master's refusal, if any, is said in
the drain's progress and the log)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from urllib.parse import urlparse

from ..engine.messages import Event, MaintenanceCall, OperatorAnswered, OperatorCall
from ..errors import HalyardError, UpstreamError
from ..mesos.operator_api import OperatorApi

log = logging.getLogger(__name__)


class AgentCaller:
    """Makes ``OperatorCall``s with ``api`` on ``pool``."""

    def __init__(self, api: OperatorApi, pool: Executor):
        self.api, self.pool = api, pool

    def call(self, ins: OperatorCall | MaintenanceCall, sink: Callable[[Event], None]) -> None:
        """Queue the call, whose answer goes to ``sink``; returns at once."""
        self.pool.submit(self._call, ins, sink)

    def _call(self, ins: OperatorCall | MaintenanceCall, sink: Callable[[Event], None]) -> None:
        name = ins.call if isinstance(ins, OperatorCall) else "UPDATE_MAINTENANCE_SCHEDULE"
        try:
            if isinstance(ins, OperatorCall):
                self.api.agent_call(ins.call, ins.agent_id, ins.max_grace)
            else:
                self.maintenance(ins)
        except HalyardError as exc:
            log.warning("%s of agent %s: %s", name, ins.agent_id, exc)
            sink(OperatorAnswered(name, ins.agent_id, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a pool keeps what it raised unread: say it here
            log.exception("%s of agent %s failed", name, ins.agent_id)
            sink(OperatorAnswered(name, ins.agent_id, repr(exc)))
            return
        log.info("%s of agent %s: done", name, ins.agent_id)
        sink(OperatorAnswered(name, ins.agent_id))

    def maintenance(self, ins: MaintenanceCall) -> None:
        """Set or remove the agent's machine's window in the master's schedule (read, changed, posted
        back: the schedule is the whole cluster's). A machine is its hostname and IP."""
        ip = urlparse(self.api.master.agent_url(ins.agent_id)).hostname or ins.hostname
        answer = self.api.post({"type": "GET_MAINTENANCE_SCHEDULE"})
        try:
            schedule = answer.json().get("get_maintenance_schedule", {}).get("schedule", {})
        except ValueError:
            raise UpstreamError("the master's maintenance schedule is not JSON") from None
        machine = {"hostname": ins.hostname, "ip": ip}
        windows = []
        for window in schedule.get("windows") or ():
            others = [m for m in window.get("machine_ids") or () if m != machine]
            if others:
                windows.append({**window, "machine_ids": others})
        if ins.duration is not None:
            windows.append({"machine_ids": [machine], "unavailability": {
                "start": {"nanoseconds": int(ins.start * 1e9)}, "duration": {"nanoseconds": int(ins.duration * 1e9)}}})
        self.api.post({"type": "UPDATE_MAINTENANCE_SCHEDULE",
                       "update_maintenance_schedule": {"schedule": {"windows": windows}}}).close()
