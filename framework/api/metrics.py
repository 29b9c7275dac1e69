"""``GET /metrics``: the scheduler's state in Prometheus' text format.

Counters only go up: ``halyard_offer_cycles`` is counted by the process across its terms as
leader (a new process starts from 0, as any Prometheus counter does). Figures read from the kept
state that may shrink are gauges (``halyard_deployments_failed_kept``).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..engine.app_records import AppRecord
from ..engine.view import EngineView
from ..runtime.backend import Backend

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
    registry = CollectorRegistry()
    registry.register(_Collector(backend))
    return generate_latest(registry)


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics")
    def metrics() -> Response:
        return Response(render(backend), media_type=CONTENT_TYPE)

    return router
