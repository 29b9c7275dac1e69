"""The engine's :class:`~halyard.engine.messages.OperatorCall` (deactivate, drain, reactivate an
agent at the master), made off the leader loop on a worker pool the process shares, and answered
with :class:`~halyard.engine.messages.OperatorAnswered` (the master's refusal, if any, is said in
the drain's progress and the log)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor

from ..engine.messages import Event, OperatorAnswered, OperatorCall
from ..errors import HalyardError
from ..mesos.operator_api import OperatorApi

log = logging.getLogger(__name__)


class AgentCaller:
    """Makes ``OperatorCall``s with ``api`` on ``pool``."""

    def __init__(self, api: OperatorApi, pool: Executor):
        self.api, self.pool = api, pool

    def call(self, ins: OperatorCall, sink: Callable[[Event], None]) -> None:
        """Queue the call, whose answer goes to ``sink``; returns at once."""
        self.pool.submit(self._call, ins, sink)

    def _call(self, ins: OperatorCall, sink: Callable[[Event], None]) -> None:
        try:
            self.api.agent_call(ins.call, ins.agent_id, ins.max_grace)
        except HalyardError as exc:
            log.warning("%s of agent %s: %s", ins.call, ins.agent_id, exc)
            sink(OperatorAnswered(ins.call, ins.agent_id, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a pool keeps what it raised unread: say it here
            log.exception("%s of agent %s failed", ins.call, ins.agent_id)
            sink(OperatorAnswered(ins.call, ins.agent_id, repr(exc)))
            return
        log.info("%s of agent %s: done", ins.call, ins.agent_id)
        sink(OperatorAnswered(ins.call, ins.agent_id))
