"""Which schedulers reach the Mesos master: every scheduler, leader or standby, says so in the
store (``StateStore.mark_master_reach``: an ephemeral node while it does), so that a leader cut off
from the master yields only to a scheduler that would do better (``step_down.py``'s
:meth:`~halyard.runtime.step_down.StepDownRules.check_master`), and a cut that keeps every
scheduler from the master makes no one step down (leadership never flaps).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..errors import StoreError
from ..store.base import StateStore

log = logging.getLogger(__name__)
PROBE_SECONDS = 2.0


class MasterReachProbe:
    """A thread that asks ``reachable`` every ``every`` seconds and marks the answer in the store
    under ``identifier`` (a mark that fails, ZooKeeper being unreachable, is tried again next time;
    the ephemeral mark goes with the session anyway)."""

    def __init__(self, reachable: Callable[[], bool], store: StateStore, identifier: str,
                 every: float = PROBE_SECONDS):
        self._reachable, self._store, self._identifier, self._every = reachable, store, identifier, every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="halyard-master-reach", daemon=True)
        self.reaches: bool | None = None  # the last answer (None: not asked yet)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            reaches = self._reachable()
            if reaches != self.reaches:
                log.info("the Mesos master %s", "answers" if reaches else "does not answer")
            self.reaches = reaches
            try:
                self._store.mark_master_reach(self._identifier, reaches)
            except StoreError as exc:
                log.debug("cannot mark whether the master answers: %s", exc)
            self._stopped.wait(self._every)
