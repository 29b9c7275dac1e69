"""The event stream: ``GET /v2/events`` (Server-Sent Events), the hub that feeds every stream, and
Marathon's event JSON for each of Halyard's domain events.

The leader loop publishes what happened through :meth:`EventHub.publish`: a domain event
(``engine/events.py``, ``jobs/events.py``) is rendered here, once, by :func:`marathon_event`. An idle stream gets a keep-alive comment every ``keepalive`` seconds
and stays open for as long as its client keeps it.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from functools import singledispatch
from typing import Any, Iterator, Optional

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from ..backend import Backend
from ..engine.app_records import DeploymentRecord, TaskRecord
from ..engine.events import (AppChanged, AppTerminated, DeploymentFailed, DeploymentStarted, DeploymentSucceeded,
                             DomainEvent, HealthChanged, PlacementFailed, TaskChanged)
from ..jobs.events import JobDefined, JobDeleted, JobRunChanged, JobRunSkipped
from ..timestamps import iso

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0
MAX_QUEUED = 10000    # events a stream may fall behind by before it loses some
KEEPALIVE = ":\n\n"   # an SSE comment: clients ignore it, proxies see traffic

# --- Marathon's event JSON --------------------------------------------------------------------


@singledispatch
def marathon_event(event: object) -> dict[str, Any]:
    """A domain event as Marathon's event JSON (``eventType``, ``timestamp``, then its fields)."""
    raise TypeError(f"no Marathon event for {type(event).__name__}")


def _event(event_type: str, at: float, **fields: Any) -> dict[str, Any]:
    return {"eventType": event_type, "timestamp": iso(at), **fields}


def _plan(deployment: DeploymentRecord) -> dict[str, Any]:
    return {"id": deployment.id, "version": iso(deployment.version), "affectedApps": [deployment.app_id],
            "kind": deployment.kind}


@marathon_event.register
def _app_changed(event: AppChanged) -> dict[str, Any]:
    return _event("api_post_event", event.at, clientIp=None, uri=f"/v2/apps{event.spec.id}",
                  appDefinition=event.spec.public_json())


@marathon_event.register
def _app_terminated(event: AppTerminated) -> dict[str, Any]:
    return _event("app_terminated_event", event.at, appId=event.app_id)


@marathon_event.register
def _deployment_started(event: DeploymentStarted) -> dict[str, Any]:
    d = event.deployment
    return _event("deployment_info", event.at, plan=_plan(d), currentStep={"actions": [{"app": d.app_id}]})


@marathon_event.register
def _deployment_succeeded(event: DeploymentSucceeded) -> dict[str, Any]:
    return _event("deployment_success", event.at, id=event.deployment.id, plan=_plan(event.deployment))


@marathon_event.register
def _deployment_failed(event: DeploymentFailed) -> dict[str, Any]:
    d = event.deployment
    return _event("deployment_failed", event.at, id=d.id, plan=_plan(d), reason=d.status, failures=list(d.failures))


@marathon_event.register
def _task_changed(event: TaskChanged) -> dict[str, Any]:
    task: TaskRecord = event.task
    return _event("status_update_event", event.at, slaveId=event.agent_id or task.agent_id, taskId=task.task_id,
                  taskStatus=event.state, message=event.message, appId=task.app_id, host=task.hostname,
                  ipAddresses=[{"ipAddress": task.hostname, "protocol": "IPv4"}], ports=list(task.ports),
                  version=iso(task.config_version))


@marathon_event.register
def _health_changed(event: HealthChanged) -> dict[str, Any]:
    task = event.task
    return _event("health_status_changed_event", event.at, appId=task.app_id, taskId=task.task_id,
                  instanceId=task.task_id, version=iso(task.config_version), alive=event.alive)


@marathon_event.register
def _placement_failed(event: PlacementFailed) -> dict[str, Any]:
    """Halyard's own event (Marathon has none): an app's or a job run's strategy failed."""
    ids = {"appId": event.id} if event.kind == "app" else {"jobId": event.id, "runId": event.run_id}
    return _event("placement_failed_event", event.at, **ids, reason=event.reason)


@marathon_event.register
def _job_defined(event: JobDefined) -> dict[str, Any]:
    return _event("job_created" if event.created else "job_updated", event.at, jobId=event.spec.id,
                  job=event.spec.public_json())


@marathon_event.register
def _job_deleted(event: JobDeleted) -> dict[str, Any]:
    return _event("job_deleted", event.at, jobId=event.job_id)


@marathon_event.register
def _job_run_changed(event: JobRunChanged) -> dict[str, Any]:
    run = event.run
    return _event("job_run_status_event", event.at, jobId=run.job_id, runId=run.run_id, status=event.status,
                  attempt=run.attempt, taskId=run.task_id, exitCode=run.exit_code, message=event.message)


@marathon_event.register
def _job_run_skipped(event: JobRunSkipped) -> dict[str, Any]:
    return _event("job_run_skipped", event.at, jobId=event.job_id, reason=event.reason)


def sse(event: dict[str, Any]) -> str:
    """One event on the wire: ``event: TYPE`` / ``data: JSON``."""
    return f"event: {event['eventType']}\ndata: {json.dumps(event)}\n\n"


# --- the hub ----------------------------------------------------------------------------------


class EventHub:
    """Fans every published event out to the open streams; ``keepalive``: seconds between
    keep-alive comments on an idle stream."""

    def __init__(self, keepalive: float = KEEPALIVE_SECONDS, max_queued: int = MAX_QUEUED):
        self.keepalive = keepalive
        self.max_queued = max_queued
        self._lock = threading.Lock()
        self._subscribers: list[queue.Queue] = []

    def publish(self, event: DomainEvent) -> None:
        """Any thread (the leader loop): render once, queue for every stream; never blocks."""
        try:
            rendered = marathon_event(event)
        except Exception:  # noqa: BLE001 - logged; a rendering bug must not end the leadership
            log.exception("an event the stream cannot render was not published: %r", event)
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber.put_nowait(rendered)
            except queue.Full:  # a reader that does not keep up loses events, not the scheduler
                pass

    def subscribe(self) -> queue.Queue:
        """A queue that receives every event published from now on."""
        subscription: queue.Queue = queue.Queue(maxsize=self.max_queued)
        with self._lock:
            self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: queue.Queue) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)

    @property
    def streams(self) -> int:
        """How many streams are open."""
        with self._lock:
            return len(self._subscribers)

    def stream(self, subscription: queue.Queue, wanted: set[str], first: Optional[dict[str, Any]] = None
               ) -> Iterator[str]:
        """The SSE text of one stream: ``first``, then every published event whose type is
        ``wanted`` (all if empty), with a keep-alive comment whenever it was idle for ``keepalive``
        seconds. Unsubscribes when closed."""
        try:
            if first is not None and (not wanted or first["eventType"] in wanted):
                yield sse(first)
            while True:
                try:
                    event = subscription.get(timeout=self.keepalive)
                except queue.Empty:
                    yield KEEPALIVE
                    continue
                if not wanted or event["eventType"] in wanted:
                    yield sse(event)
        finally:
            self.unsubscribe(subscription)


# --- the route --------------------------------------------------------------------------------


def routes(backend: Backend, hub: EventHub) -> APIRouter:
    router = APIRouter()

    @router.get("/v2/events")
    def events(request: Request, event_type: Optional[list[str]] = Query(None)) -> Response:
        """Server-Sent Events: ``event: TYPE`` / ``data: JSON``; ``event_type`` filters (repeatable).
        A standby redirects to the leader."""
        leader = backend.leader()
        if leader and leader != backend.address():
            return RedirectResponse(f"http://{leader}{request.url.path}?{request.url.query}", status_code=307)
        attached = {"eventType": "event_stream_attached",
                    "remoteAddress": request.client.host if request.client else None, "timestamp": iso(time.time())}
        stream = hub.stream(hub.subscribe(), set(event_type or ()), attached)
        return StreamingResponse(stream, media_type="text/event-stream; charset=utf-8",
                                 headers={"Cache-Control": "no-cache"})

    return router
