"""The event stream: ``GET /v2/events`` (Server-Sent Events) and the hub that feeds every stream.

The leader loop publishes what happened through :meth:`EventHub.publish`: a domain event is
rendered once, as Marathon's events (``event_json.py``), and queued for every stream that wants
it. As in Marathon:

* each frame is ``event: <eventType>`` and ``data: <json>``;
* ``event_type`` (repeatable) chooses the types; without it a stream carries Marathon's types
  only (Halyard's own, e.g. ``job_created``, only to those who ask for them by name);
* ``?plan-format=light`` leaves ``original`` and ``target`` out of deployment plans;
* opening a stream publishes ``event_stream_attached`` and closing it ``event_stream_detached``
  (with the client's ``remoteAddress``) to every stream;
* a stream gets a keep-alive comment whenever it was sent nothing for ``keepalive`` seconds, and
  stays open for as long as its client keeps it; it is closed when this scheduler stops leading
  (the client reconnects, and is redirected), and when its client falls ``max_queued`` events
  behind (Marathon drops slow consumers: losing events silently would leave a load balancer
  wrong);
* a standby answers 307 to the leader's advertised address (503 while no leader is known); a
  client that cannot follow a redirect to another origin (the dashboard, a page served by this
  standby) asks with ``X-Halyard-Stream: proxy``, and the standby relays the leader's stream.

Streams are served on the API's event loop (a stream holds no worker thread): the leader loop
hands events over with ``call_soon_threadsafe``; an idle stream wakes every ``poll`` seconds to
see whether its client left (then ``event_stream_detached`` goes out at once) and whether this
scheduler still leads.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..engine.domain_events import DomainEvent
from ..errors import Problem, ValidationError
from ..runtime.backend import Backend
from ..timestamps import iso
from . import scopes
from .errors import PROXIED, error_response
from .event_json import MARATHON_TYPES, light_plan, marathon_events
from .read_scopes import event_visible

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 10.0  # as Marathon's (Jetty's EventSource heartbeat): well inside "at least every 15 s"
MAX_QUEUED = 10000    # events a stream may fall behind by before it is closed
KEEPALIVE = ":\n\n"   # an SSE comment: clients ignore it, proxies see traffic
PLAN_FORMATS = ("full", "light")
PROXY_HEADER = "x-halyard-stream"   # "proxy": a standby relays the leader's stream instead of redirecting
POLL_SECONDS = 1.0    # how often an idle stream checks that its client is there and this scheduler leads


def sse(event: dict[str, Any]) -> str:
    """One event on the wire: ``event: TYPE`` / ``data: JSON``."""
    return f"event: {event['eventType']}\ndata: {json.dumps(event)}\n\n"


class Frame:
    """One published event and its SSE text, made once for all the streams that send it (with
    its plan in full, or light)."""

    def __init__(self, event: dict[str, Any]):
        self.event = event
        self.event_type: str = event["eventType"]
        self._text: dict[bool, str] = {}

    def text(self, light: bool) -> str:
        if light not in self._text:
            self._text[light] = sse(light_plan(self.event) if light else self.event)
        return self._text[light]


async def _always() -> bool:
    return True


async def _never() -> bool:
    return False


@dataclass(eq=False)
class Subscription:
    """One open stream: what it wants, and the events queued for it (on the event loop that
    serves it: any thread may :meth:`offer`)."""

    wanted: frozenset[str] = frozenset()
    light: bool = False
    remote_address: str | None = None
    max_queued: int = MAX_QUEUED
    visible: Callable[[dict[str, Any]], bool] | None = None   # a scoped token's stream: which events it may see
    overflowed: bool = False
    closed: bool = False
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)  # SSE text; None: end

    def wants(self, event_type: str) -> bool:
        """The ``event_type``s asked for; without any, Marathon's types."""
        return event_type in self.wanted if self.wanted else event_type in MARATHON_TYPES

    def offer(self, frame: Frame) -> None:
        """Queue ``frame`` if wanted (any thread; never blocks)."""
        if (not self.overflowed and not self.closed and self.wants(frame.event_type)
                and (self.visible is None or self.visible(frame.event))):
            self._call(self._put, frame.text(self.light))

    def close(self) -> None:
        """Wake the stream to end it."""
        self.closed = True
        self._call(self.queue.put_nowait, None)

    def _call(self, fn: Callable[..., Any], arg: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, arg)
        except RuntimeError:  # the loop is closed: the server is gone
            self.closed = True

    def _put(self, text: str) -> None:
        """On the loop: a stream ``max_queued`` behind is marked to close (Marathon drops it)."""
        if self.queue.qsize() >= self.max_queued:
            self.overflowed = True
            self.queue.put_nowait(None)
        else:
            self.queue.put_nowait(text)


class EventHub:
    """Fans every published event out to the open streams; ``keepalive``: seconds of silence
    after which a stream gets a keep-alive comment; ``poll``: how often an idle stream checks
    whether its client is gone."""

    def __init__(self, keepalive: float = KEEPALIVE_SECONDS, max_queued: int = MAX_QUEUED, poll: float = POLL_SECONDS):
        self.keepalive = keepalive
        self.max_queued = max_queued
        self.poll = poll
        self._lock = threading.Lock()
        self._subscribers: list[Subscription] = []

    def publish(self, event: DomainEvent) -> None:
        """Any thread (the leader loop): render once, queue for every stream; never blocks.
        Nothing is rendered while no stream is open."""
        if not self.streams:
            return
        try:
            rendered = marathon_events(event)
        except Exception:  # noqa: BLE001 - logged; a rendering bug must not end the leadership
            log.exception("an event the stream cannot render was not published: %r", event)
            return
        for one in rendered:
            self._fan_out(one)

    def publish_json(self, event: dict[str, Any]) -> None:
        """Any thread: an event already in Marathon's JSON (the API's audit records) to every stream."""
        if self.streams:
            self._fan_out(event)

    def _fan_out(self, event: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        frame = Frame(event)
        for subscriber in subscribers:
            subscriber.offer(frame)

    def subscribe(self, wanted: frozenset[str] = frozenset(), light: bool = False,
                  remote_address: str | None = None,
                  visible: Callable[[dict[str, Any]], bool] | None = None) -> Subscription:
        """On the event loop that will serve it: a new stream's subscription (``visible``: which
        events it may see, for a scoped token). ``event_stream_attached`` goes to every stream,
        this one too."""
        subscription = Subscription(frozenset(wanted), light, remote_address, self.max_queued, visible)
        with self._lock:
            self._subscribers.append(subscription)
        self._fan_out({"remoteAddress": remote_address, "eventType": "event_stream_attached",
                       "timestamp": iso(time.time())})
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Close a subscription; ``event_stream_detached`` goes to the other streams."""
        with self._lock:
            if subscription not in self._subscribers:
                return
            self._subscribers.remove(subscription)
        subscription.close()
        self._fan_out({"remoteAddress": subscription.remote_address, "eventType": "event_stream_detached",
                       "timestamp": iso(time.time())})

    @property
    def streams(self) -> int:
        """How many streams are open."""
        with self._lock:
            return len(self._subscribers)

    async def stream(self, subscription: Subscription, leading: Callable[[], Awaitable[bool]] = _always,
                     gone: Callable[[], Awaitable[bool]] = _never) -> AsyncIterator[str]:
        """The SSE text of one stream: its events, and a keep-alive comment whenever nothing was
        sent for ``keepalive`` seconds. Ends when the client is ``gone`` or this scheduler no
        longer is ``leading`` (both checked every ``poll`` seconds while idle), or when the client
        fell too far behind; unsubscribes when it ends."""
        loop = asyncio.get_running_loop()
        try:
            last_sent = loop.time()
            while True:
                wait = min(self.poll, last_sent + self.keepalive - loop.time())
                try:
                    text = await asyncio.wait_for(subscription.queue.get(), max(0.0, wait))
                except asyncio.TimeoutError:
                    if await gone():
                        return
                    if not await leading():
                        log.info("event stream of %s closed: no longer leading", subscription.remote_address)
                        return
                    if loop.time() - last_sent < self.keepalive:
                        continue
                    yield KEEPALIVE
                else:
                    if text is None:  # closed, or fell behind
                        if subscription.overflowed:
                            log.warning("event stream of %s closed: more than %d events behind",
                                        subscription.remote_address, self.max_queued)
                        return
                    yield text
                last_sent = loop.time()
        finally:
            self.unsubscribe(subscription)


async def relayed(url: str, request: Request) -> Response:
    """The leader's stream at ``url``, relayed to a client of this standby (its query and token
    passed on; the leader's refusal, e.g. a 401, passed back); ends when either side goes. The
    answer starts once the leader's stream is open, so nothing published after it is missed."""
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "accept")}
    headers[PROXIED] = "standby"
    try:
        upstream = await run_in_threadpool(lambda: requests.get(
            url, params=list(request.query_params.multi_items()), headers=headers, stream=True,
            timeout=(5, KEEPALIVE_SECONDS * 3), **request.app.state.peers.requests_options()))
    except requests.RequestException as exc:
        return error_response(503, f"not the leader, and the leader's event stream at {url} did not answer: {exc}")
    if upstream.status_code != 200:
        upstream.close()
        return Response(upstream.content, status_code=upstream.status_code,
                        media_type=upstream.headers.get("content-type"))

    async def chunks() -> AsyncIterator[bytes]:
        try:
            parts = upstream.iter_content(chunk_size=None)
            while not await request.is_disconnected():
                chunk = await run_in_threadpool(next, parts, None)
                if not chunk:
                    return
                yield chunk
        except requests.RequestException as exc:
            log.info("event stream relay from %s ended: %s", url, exc)
        finally:
            upstream.close()

    return StreamingResponse(chunks(), media_type="text/event-stream; charset=utf-8",
                             headers={"Cache-Control": "no-cache"})


def routes(backend: Backend, hub: EventHub) -> APIRouter:
    router = APIRouter()

    def leads() -> bool:
        return backend.leader() == backend.address()

    @router.get("/v2/events")
    async def events(request: Request, event_type: list[str] | None = Query(None),
                     plan_format: str | None = Query(None, alias="plan-format")) -> Response:
        """Server-Sent Events (see the module). A standby redirects to the leader."""
        leader = await run_in_threadpool(backend.leader)
        if leader != backend.address():
            if not leader:
                return error_response(503, "no leader is known: the event stream is served by the leader",
                                      leader=None)
            peers = request.app.state.peers
            if request.headers.get(PROXY_HEADER, "").lower() == "proxy" and PROXIED not in request.headers:
                return await relayed(peers.url(leader, request.url.path), request)
            return RedirectResponse(f"{peers.url(leader, request.url.path)}?{request.url.query}", status_code=307)
        if plan_format is not None and plan_format not in PLAN_FORMATS:
            raise ValidationError([Problem("plan-format", f"expected 'light' or 'full', got {plan_format!r}")])
        scope = scopes.current()
        grant = scope.grant if scope is not None and scope.reads_scoped else None
        subscription = hub.subscribe(frozenset(event_type or ()), plan_format == "light",
                                     request.client.host if request.client else None,
                                     (lambda e: event_visible(e, grant)) if grant is not None else None)
        stream = hub.stream(subscription, leading=lambda: run_in_threadpool(leads), gone=request.is_disconnected)
        return StreamingResponse(stream, media_type="text/event-stream; charset=utf-8",
                                 headers={"Cache-Control": "no-cache"})

    return router
