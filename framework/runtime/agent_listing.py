"""The master's agent list, read off the leader loop (the engine's ``ListAgents``) on a worker pool
the process shares (``wiring.py`` gives the readiness checks' pool), and posted back as
``AgentsListed``: the constraints and the waiting reasons learn every registered agent.

At most one listing is in flight: the master may be slow, and a listing asked for meanwhile would
only read the same list again while it holds a worker the readiness checks need.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor

from ..engine.messages import AgentsListed, Event, ListAgents
from ..errors import HalyardError
from .backend import MasterReader

log = logging.getLogger(__name__)


class AgentLister:
    """Reads ``master``'s agents on ``pool``, one listing at a time."""

    def __init__(self, master: MasterReader, pool: Executor):
        self.master, self.pool = master, pool
        self._lock = threading.Lock()
        self._in_flight = False

    def list(self, ins: ListAgents, sink: Callable[[Event], None]) -> None:
        """Queue a listing whose answer goes to ``sink``, unless one is in flight; returns at once."""
        with self._lock:
            if self._in_flight:
                log.debug("the master's agents are being listed already")
                return
            self._in_flight = True
        try:
            self.pool.submit(self._list, sink)
        except BaseException:
            self._done()
            raise

    def _list(self, sink: Callable[[Event], None]) -> None:
        try:
            agents = self.master.agents()
        except HalyardError as exc:
            log.warning("cannot list the master's agents (%s); the constraints learn them from offers", exc)
            return
        except Exception:  # noqa: BLE001 - a pool keeps what it raised unread: say it here, as a thread would
            log.exception("listing the master's agents failed")
            return
        finally:
            self._done()
        sink(AgentsListed(agents))

    def _done(self) -> None:
        with self._lock:
            self._in_flight = False
