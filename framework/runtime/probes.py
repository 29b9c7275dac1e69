"""Readiness checks performed over HTTP, off the leader loop: the engine says which (a
``CheckReadiness`` instruction), a worker thread GETs the URL and posts the answer back as a
``ReadinessChecked`` event."""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from ..engine.messages import CheckReadiness, Event, ReadinessChecked

log = logging.getLogger(__name__)
MAX_BODY = 4096  # characters of a preserved answer


class HttpProbes:
    """Runs readiness checks on a few threads; each answer goes to the ``sink`` it was asked with."""

    def __init__(self, workers: int = 4):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="halyard-readiness")
        self.session = requests.Session()

    def check(self, ins: CheckReadiness, sink: Callable[[Event], None]) -> None:
        """Queue one check; returns at once."""
        self.pool.submit(self._check, ins, sink)

    def _check(self, ins: CheckReadiness, sink: Callable[[Event], None]) -> None:
        try:
            response = self.session.get(ins.url, timeout=ins.timeout, verify=False)
        except requests.RequestException as exc:
            log.info("readiness check of %s (%s): no answer: %s", ins.task_id, ins.url, exc)
            sink(ReadinessChecked(ins.task_id, False))
            return
        body = response.text[:MAX_BODY] if ins.keep_body else None
        sink(ReadinessChecked(ins.task_id, response.status_code in ins.ready_statuses, response.status_code, body))

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
