"""``GET /metrics``: the scheduler's state in Prometheus' text format, or in Marathon's JSON.

Counters only go up: ``halyard_offer_cycles`` is counted by the process across its terms as
leader (a new process starts from 0, as any Prometheus counter does). Figures read from the kept
state that may shrink are gauges (``halyard_deployments_failed_kept``).

A client that asks for JSON (``Accept: application/json``, as marathon-python's
``get_metrics()`` does) gets the same figures in the JSON Marathon 1.7+ serves at ``/metrics``
(Dropwizard's registry: ``version``, ``counters``, ``gauges``, ``histograms``, ``meters``,
``timers``; Marathon's ``MetricsConversion``), each named as Marathon names them: the Prometheus
name's words and then its label values joined by dots, then the kind, then the unit
(``halyard_app_waiting{app="/web",reason="resources"}`` is ``halyard.app.waiting.web.resources.gauge``,
the offer-to-accept quantiles ``halyard.offer.to.accept.p50.gauge.seconds``). Any other client,
Prometheus included, gets the text format.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..engine.app_records import AppRecord
from ..engine.view import EngineView
from ..runtime.backend import Backend
from .leader import JSON, preferred_type

RUN_STATUSES = ("QUEUED", "STARTING", "RUNNING", "FINISHED", "FAILED", "KILLED")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class AppFigures:
    """One app's figures for the per-app gauges."""

    app_id: str
    instances: int
    running: int
    healthy: int
    waiting: int
    reason: str | None   # why they wait (EngineView.waiting_classes()); None when none do


def app_figures(view: EngineView, app: AppRecord) -> AppFigures:
    tasks = view.tasks_of(app.app_id)
    return AppFigures(app.app_id, app.spec.instances, sum(1 for t in tasks if t.running),
                      sum(1 for t in tasks if t.running and t.healthy is True), view.pending(app), view.waiting_class(app))


def app_gauges(figures: list[AppFigures]) -> Iterator[Metric]:
    """``halyard_app_{instances,running,healthy,waiting}`` by app (waiting also by reason class,
    every class present so a series drops to 0 rather than vanishing)."""
    gauges = {name: GaugeMetricFamily(f"halyard_app_{name}", text, labels=["app"]) for name, text in (
        ("instances", "instances the app asks for"), ("running", "the app's running tasks"),
        ("healthy", "the app's running tasks whose health check passes"))}
    waiting = GaugeMetricFamily("halyard_app_waiting", "the app's instances waiting to be launched, by why",
                                labels=["app", "reason"])
    for f in figures:
        gauges["instances"].add_metric([f.app_id], f.instances)
        gauges["running"].add_metric([f.app_id], f.running)
        gauges["healthy"].add_metric([f.app_id], f.healthy)
        for reason in EngineView.waiting_classes():
            waiting.add_metric([f.app_id, reason], f.waiting if reason == f.reason else 0)
    yield from gauges.values()
    yield waiting


class _Collector:
    def __init__(self, backend: Backend):
        self.backend = backend

    def collect(self) -> Iterator[Metric]:
        stats = self.backend.stats()
        yield GaugeMetricFamily("halyard_leader", "1 if this scheduler leads", value=1 if stats.leader else 0)
        if not stats.leader:
            return
        with self.backend.reading() as view:
            apps = view.apps()
            states = Counter(t.state for t in view.tasks())
            per_app = [app_figures(view, a) for a in apps]
            deployments, cycles = len(view.deployments()), view.offer_cycles
            failed = sum(1 for d in view.finished() if d.status == "failed")
            jobs = len(view.jobs())
            runs = Counter(r.status for r in view.runs())
        yield GaugeMetricFamily("halyard_apps", "apps", value=len(apps))
        tasks = GaugeMetricFamily("halyard_tasks", "tasks by Mesos state", labels=["state"])
        for state, n in sorted(states.items()):
            tasks.add_metric([state], n)
        yield tasks
        yield GaugeMetricFamily("halyard_pending_instances", "instances waiting to be launched",
                                value=sum(f.waiting for f in per_app))
        yield from app_gauges(per_app)
        yield GaugeMetricFamily("halyard_deployments", "deployments under way", value=deployments)
        yield GaugeMetricFamily("halyard_deployments_failed_kept",
                                "failed deployments in the kept history (the last 100 per app, 2000 in all)",
                                value=failed)
        yield GaugeMetricFamily("halyard_jobs", "job definitions", value=jobs)
        by_status = GaugeMetricFamily("halyard_job_runs", "kept job runs by status", labels=["status"])
        for status in RUN_STATUSES:
            by_status.add_metric([status], runs.get(status, 0))
        yield by_status
        yield CounterMetricFamily("halyard_offer_cycles",
                                  "offer batches in which apps or job runs waited to be placed (placement ran), "
                                  "counted by this scheduler process over all its terms as leader", value=cycles)
        latency = stats.offer_to_accept
        if latency.count and latency.p50 is not None and latency.p99 is not None:
            quantiles = GaugeMetricFamily("halyard_offer_to_accept_seconds", "offer arrival to ACCEPT",
                                          labels=["quantile"])
            quantiles.add_metric(["0.5"], latency.p50 / 1000)
            quantiles.add_metric(["0.99"], latency.p99 / 1000)
            yield quantiles


def render(backend: Backend) -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry()
    registry.register(_Collector(backend))
    return generate_latest(registry)


#: The version Marathon's metrics JSON carries (its Dropwizard metrics library's major version).
DROPWIZARD_VERSION = "4.0.0"


def render_json(backend: Backend) -> dict[str, Any]:
    """The metrics in Marathon's JSON (see the module's docstring)."""
    return dropwizard_json(_Collector(backend).collect())


def dropwizard_json(families: Iterable[Metric]) -> dict[str, Any]:
    """Prometheus metric families as Marathon's metrics JSON: a counter's ``{count}``, a gauge's
    ``{value}`` (Halyard has no histograms, meters nor timers: the offer-to-accept quantiles are gauges)."""
    counters: dict[str, Any] = {}
    gauges: dict[str, Any] = {}
    for family in families:
        for sample in family.samples:
            if family.type == "counter":
                if sample.name.endswith("_total"):  # not the _created sample
                    counters[dropwizard_name(family.name, sample.labels, "counter")] = {"count": int(sample.value)}
            else:
                gauges[dropwizard_name(family.name, sample.labels, "gauge")] = {"value": float(sample.value)}
    return {"version": DROPWIZARD_VERSION, "counters": counters, "gauges": gauges, "histograms": {}, "meters": {},
            "timers": {}}


def dropwizard_name(name: str, labels: Mapping[str, str], kind: str) -> str:
    """A Prometheus series' name as Marathon names its metrics (``marathon.apps.active.gauge``):
    words and label values joined by dots, then the kind, then the unit (``.seconds``)."""
    unit = ""
    if name.endswith("_seconds"):
        name, unit = name.removesuffix("_seconds"), ".seconds"
    parts = name.split("_") + [_label_part(key, value) for key, value in labels.items()]
    return ".".join([*parts, kind]) + unit


def _label_part(key: str, value: str) -> str:
    """A label value in a name: an app id without its leading ``/``; a quantile as ``p50``, ``p99``."""
    if key == "quantile" and value.startswith("0."):
        digits = value.removeprefix("0.")
        return "p" + digits.ljust(2, "0")
    return value.strip("/")


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics")
    def metrics(request: Request) -> Response:
        """Prometheus' text format; Marathon's JSON to a client that prefers JSON."""
        if preferred_type(request.headers.get("accept"), ("text/plain", JSON)) == JSON:
            return JSONResponse(render_json(backend))
        return Response(render(backend), media_type=CONTENT_TYPE)

    return router
