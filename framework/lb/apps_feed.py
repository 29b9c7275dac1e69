"""The apps a load balancer serves, from Halyard's API: ``GET /v2/apps``, again after each event
that changes an app (``/v2/events``: ``api_post_event``, ``app_terminated_event``,
``deployment_success``), and after the event stream reconnects."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast

import requests

from ..errors import HalyardError

log = logging.getLogger(__name__)

EVENTS = ("api_post_event", "app_terminated_event", "deployment_success")


class AppsFeed:
    """Calls ``on_apps(apps)`` with every app (Marathon's JSON) at start and after each change."""

    def __init__(self, api: str, on_apps: Callable[[list[dict[str, Any]]], None], token: str | None = None,
                 retry_seconds: float = 1.0, tls: dict[str, Any] | None = None,
                 explain_tls: Callable[[requests.exceptions.SSLError], str] | None = None):
        self.api = api.rstrip("/")
        self.explain_tls = explain_tls   # a refused handshake in words: which certificate, and why
        self.on_apps = on_apps
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.retry_seconds = retry_seconds
        self.tls = tls or {}   # requests' verify/cert, for an API over HTTPS
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        """Read every app now and hand them over; HalyardError when the API does not answer."""
        try:
            resp = requests.get(self.api + "/v2/apps", headers=self.headers, timeout=10, **self.tls)
            resp.raise_for_status()
            apps = resp.json()["apps"]
        except requests.exceptions.SSLError as exc:
            raise HalyardError(f"cannot read the apps from {self.api}: {self._said(exc)}") from None
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise HalyardError(f"cannot read the apps from {self.api}: {exc}") from None
        self.on_apps(apps)

    def _said(self, exc: requests.exceptions.SSLError) -> str:
        return self.explain_tls(exc) if self.explain_tls is not None else str(exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, name="lb-apps-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following (the thread is a daemon: a read blocked on the stream ends with the
        process; closing the stream under it would wait for that read)."""
        self._stop.set()

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                with requests.get(self.api + "/v2/events", params={"event_type": list(EVENTS)}, headers=self.headers,
                                  **self.tls,
                                  stream=True, timeout=(10, None)) as resp:
                    resp.raise_for_status()
                    # An event stream is UTF-8 whatever its headers say; without an encoding, requests
                    # hands over bytes when the response names no text type (no Content-Type).
                    resp.encoding = "utf-8"
                    self.refresh()  # what changed before the stream was attached
                    for line in cast(Iterator[str], resp.iter_lines(decode_unicode=True)):  # text: encoding set
                        if self._stop.is_set():
                            return
                        if line and line.startswith("data: "):
                            self.refresh()
            except (requests.RequestException, HalyardError, AttributeError, ValueError) as exc:
                if self._stop.is_set():
                    return
                said = self._said(exc) if isinstance(exc, requests.exceptions.SSLError) else exc
                log.warning("event stream of %s: %s; reconnecting", self.api, said)
            self._stop.wait(self.retry_seconds)
