"""Job webhooks: POST a run's task states to the job's ``callbackUri``, off the leader loop (the
body is rendered by the API's callback format, :func:`halyard.api.eremetic.callback_json`).

Best effort, as Eremetic's: a few attempts with a short backoff; a callback that cannot be
delivered is logged, never retried forever and never allowed to slow the scheduler.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import requests

log = logging.getLogger(__name__)


class WebhookPoster:
    """Delivers the engine's ``Notify`` instructions on a small thread pool."""

    def __init__(self, attempts: int = 3, timeout: float = 5.0, workers: int = 4):
        self.attempts, self.timeout = attempts, timeout
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="halyard-webhook")
        self.session = requests.Session()

    def post(self, url: str, body: dict) -> None:
        """Queue one POST; returns at once."""
        self.pool.submit(self._deliver, url, body)

    def _deliver(self, url: str, body: dict) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.post(url, json=body, timeout=self.timeout)
                if response.status_code < 500:
                    if response.status_code >= 400:
                        log.warning("callback %s for %s answered %d", url, body.get("task_id"), response.status_code)
                    return
                why = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                why = repr(exc)
            log.warning("callback %s for %s failed (attempt %d of %d): %s", url, body.get("task_id"), attempt,
                        self.attempts, why)
            time.sleep(min(2 ** attempt * 0.25, 2.0))

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
