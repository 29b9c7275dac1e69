"""``--rebalance-on-agent-join``: a thread of the scheduler process that, a cooldown after an
agent joins (:class:`~halyard.rebalance.trigger.JoinTrigger`), runs what ``halyard rebalance``
runs for every app (:func:`~halyard.runtime.rebalancing.rebalance`, default ``--min-age``).
It learns a join from the master's operator stream (AGENT_ADDED, told through :meth:`joined`),
and also looks at the master's active agents every few seconds while this scheduler leads (the
stream may be down).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from ..cluster.agents import load_cluster
from ..errors import HalyardError
from ..rebalance.planner import DEFAULT_MIN_AGE
from ..rebalance.trigger import JoinTrigger
from .backend import Backend
from .rebalancing import rebalance

log = logging.getLogger(__name__)


class AutoRebalancer:
    """Rebalances every app ``cooldown`` seconds after agents join, while ``leading()``."""

    def __init__(self, backend: Backend, cooldown: float, leading: Callable[[], bool], min_age: float = DEFAULT_MIN_AGE):
        self.backend, self.leading, self.min_age = backend, leading, min_age
        self.trigger = JoinTrigger(cooldown)
        self.poll = min(5.0, max(0.5, cooldown / 4))
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="halyard-auto-rebalance", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def joined(self, agent_id: str) -> None:
        """An agent joined (the operator stream's AGENT_ADDED; any thread): counted at once."""
        with self._lock:
            self.trigger.join(agent_id, time.time())
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            if self._stop.is_set():
                return
            if not self.leading():
                self.trigger.reset()
                continue
            try:
                self.look(time.time())
            except HalyardError as exc:  # the master did not answer, leadership moved: look again later
                log.warning("automatic rebalance: %s", exc)

    def look(self, now: float) -> None:
        """One look at the master; a rebalance when one is due."""
        agents = load_cluster(self.backend.master().state())
        with self._lock:
            if not self.trigger.observe([a.id for a in agents], now):
                return
        joined = ", ".join(sorted(self.trigger.joined)) or "?"
        self.trigger.joined = set()
        plan, ids = rebalance(self.backend, None, False, None, self.min_age, lambda: str(uuid.uuid4()), agents)
        log.info("automatic rebalance after agent(s) %s joined: %d move(s), deployments %s", joined,
                 len(plan.moves), ", ".join(f"{app} {i}" for app, i in ids.items()) or "none")
