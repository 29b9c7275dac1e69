"""``GET /metrics``: the scheduler's state in Prometheus' text format."""
from __future__ import annotations

from collections import Counter
from typing import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..backend import Backend

RUN_STATUSES = ("QUEUED", "STARTING", "RUNNING", "FINISHED", "FAILED", "KILLED")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
            pending = sum(view.pending(a) for a in apps)
            deployments, cycles = len(view.deployments()), view.offer_cycles
            failed = sum(1 for d in view.finished() if d.status == "failed")
            jobs = len(view.jobs())
            runs = Counter(r.status for r in view.runs())
        yield GaugeMetricFamily("halyard_apps", "apps", value=len(apps))
        tasks = GaugeMetricFamily("halyard_tasks", "tasks by Mesos state", labels=["state"])
        for state, n in sorted(states.items()):
            tasks.add_metric([state], n)
        yield tasks
        yield GaugeMetricFamily("halyard_pending_instances", "instances waiting to be launched", value=pending)
        yield GaugeMetricFamily("halyard_deployments", "deployments under way", value=deployments)
        yield CounterMetricFamily("halyard_deployments_failed", "deployments that failed (recent)", value=failed)
        yield GaugeMetricFamily("halyard_jobs", "job definitions", value=jobs)
        by_status = GaugeMetricFamily("halyard_job_runs", "kept job runs by status", labels=["status"])
        for status in RUN_STATUSES:
            by_status.add_metric([status], runs.get(status, 0))
        yield by_status
        yield CounterMetricFamily("halyard_offer_cycles", "offer batches that launched tasks", value=cycles)
        latency = stats.offer_to_accept
        if latency.count and latency.p50 is not None and latency.p99 is not None:
            quantiles = GaugeMetricFamily("halyard_offer_to_accept_seconds", "offer arrival to ACCEPT",
                                          labels=["quantile"])
            quantiles.add_metric(["0.5"], latency.p50 / 1000)
            quantiles.add_metric(["0.99"], latency.p99 / 1000)
            yield quantiles


def render(backend: Backend) -> bytes:
    registry = CollectorRegistry()
    registry.register(_Collector(backend))  # type: ignore[arg-type]
    return generate_latest(registry)


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics")
    def metrics() -> Response:
        return Response(render(backend), media_type=CONTENT_TYPE)

    return router
