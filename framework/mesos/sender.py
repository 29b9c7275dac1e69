"""The Mesos calls the leader loop does not wait for: acknowledgements and kills, sent by one
thread in the order they were given (so per task too: a task's acknowledgements in order, a kill
after what came before it).

Each call is an HTTP round trip to the master. On the leader loop, 10,000 tasks' acknowledgements
(three per task) held the next status updates and offers behind them. Nothing waits for their
answers: the master answers 202 and Mesos resends an update until it is acknowledged, and kills are
retried by the engine, so a call lost here (as one lost while disconnected) is covered the same way.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from ..engine.messages import Instruction

log = logging.getLogger(__name__)


class CallSender:
    """A queue of calls and the one thread that sends them with ``send`` (which must not raise)."""

    def __init__(self, send: Callable[[Instruction], None], name: str = "mesos-calls"):
        self._send = send
        self._queue: queue.Queue[Instruction | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, ins: Instruction) -> None:
        """Queue a call; returns at once."""
        self._queue.put(ins)

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (for at most ``timeout`` seconds), then end the thread."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("%d Mesos calls still queued at stop (Mesos resends, the engine retries)",
                            self._queue.qsize())

    def _run(self) -> None:
        while (ins := self._queue.get()) is not None:
            self._send(ins)
