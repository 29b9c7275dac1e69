"""The leading scheduler's subscription to the leading master's operator API: ``SUBSCRIBE``'s
RecordIO stream, decoded (``operator_codec.py``) into engine events on the leader's queue.

One thread reads the stream while this scheduler leads: on each new term of leadership it
subscribes again (the new engine gets the snapshot first), follows the leading master (a new
connection asks ``MesosMaster.url`` again: for ``zk://`` masters, ZooKeeper's leader), and after a
failure or a silence longer than ``silence`` seconds (the master sends a HEARTBEAT every 15 s)
reconnects with backoff (0.5 s doubling to 15 s, reset by a snapshot). ``StreamChanged`` tells the
engine when the stream is up or down (while it is down, the 60 s agent listing is the source).
A second, small thread watches the term, and closes the stream when leadership ends or changes.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import requests

from ..engine.messages import ClusterSnapshot, Event, StreamChanged
from ..errors import HalyardError
from .operator_api import OperatorApi
from .operator_codec import decode_event
from .recordio import RecordIODecoder

log = logging.getLogger(__name__)

FIRST_BACKOFF, MAX_BACKOFF = 0.5, 15.0
SILENCE = 50.0     # seconds without a byte (3 missed heartbeats and some) before reconnecting
WATCH_EVERY = 0.2  # how often the term is looked at


class OperatorStream:
    """Reads the master's operator stream into ``post`` while ``term()`` is not None (the leader's
    epoch); ``own_framework()``: this framework's id, whose tasks the stream need not tell."""

    def __init__(self, api: OperatorApi, post: Callable[[Event], None], term: Callable[[], int | None],
                 own_framework: Callable[[], str | None], silence: float = SILENCE):
        self.api, self.post, self.term, self.own_framework, self.silence = api, post, term, own_framework, silence
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self._epoch: int | None = None      # the term the open stream serves
        self.connected = threading.Event()  # set while a stream is up (tests and logs)
        self._threads = [threading.Thread(target=self._loop, name="halyard-operator-stream", daemon=True),
                         threading.Thread(target=self._watch, name="halyard-operator-watch", daemon=True)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        self._close()

    # --- the reader -----------------------------------------------------------------------------

    def _loop(self) -> None:
        backoff = FIRST_BACKOFF
        while not self._stop.is_set():
            epoch = self.term()
            if epoch is None:
                self._stop.wait(WATCH_EVERY)
                continue
            try:
                if self._follow(epoch):
                    backoff = FIRST_BACKOFF
                    continue  # closed on purpose (the term changed): subscribe again at once
                why = "the master closed the stream"
            except (requests.RequestException, HalyardError, ValueError, KeyError, TypeError) as exc:
                why = str(exc) or type(exc).__name__
            finally:
                self._went_down(epoch)
            if self._stop.is_set():
                return
            log.warning("operator stream: %s; subscribing again in %.1f s", why, backoff)
            self._stop.wait(backoff)
            backoff = min(MAX_BACKOFF, backoff * 2)

    def _follow(self, epoch: int) -> bool:
        """Read one subscription until it ends; True when it was closed on purpose."""
        response = self.api.subscribe(read_timeout=self.silence)
        with self._lock:
            self._response, self._epoch = response, epoch
        if self.term() != epoch or self._stop.is_set():
            return True
        decoder = RecordIODecoder()
        try:
            for chunk in response.iter_content(chunk_size=None):
                for record in decoder.feed(chunk):
                    self._record(record, epoch)
                if self.term() != epoch:
                    return True
        except (requests.RequestException, AttributeError):
            # A close from the watcher surfaces as an error of the read (or of a closed pool).
            if self._stop.is_set() or self.term() != epoch:
                return True
            raise
        return self._stop.is_set() or self.term() != epoch

    def _record(self, record: bytes, epoch: int) -> None:
        event = decode_event(json.loads(record), self.own_framework())
        if event is None or self.term() != epoch:
            return
        self.post(event)
        if isinstance(event, ClusterSnapshot):
            if not self.connected.is_set():
                log.info("operator stream: subscribed (%d agents, %d tasks of other frameworks)",
                         len(event.agents), len(event.tasks))
            self.connected.set()
            self.post(StreamChanged(True))

    def _went_down(self, epoch: int) -> None:
        with self._lock:
            response, self._response, self._epoch = self._response, None, None
        if response is not None:
            response.close()
        if self.connected.is_set():
            self.connected.clear()
            if self.term() == epoch:
                self.post(StreamChanged(False))

    # --- the watcher ----------------------------------------------------------------------------

    def _watch(self) -> None:
        """Close the open stream when the term it serves is over (stepped down, or a new term)."""
        while not self._stop.wait(WATCH_EVERY):
            with self._lock:
                stale = self._response is not None and self.term() != self._epoch
            if stale:
                self._close()

    def _close(self) -> None:
        with self._lock:
            response = self._response
        if response is not None:
            try:
                response.close()
            except Exception:  # noqa: BLE001 - closing a stream another thread reads may fail in many ways
                log.debug("closing the operator stream", exc_info=True)
