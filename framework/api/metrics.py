"""``GET /metrics``: the scheduler's state in Prometheus' text format."""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


class _Collector:
    def __init__(self, backend: Any):
        self.backend = backend

    def collect(self) -> Iterator[Metric]:
        stats = self.backend.stats()
        yield GaugeMetricFamily("halyard_leader", "1 if this scheduler leads", value=1 if stats["leader"] else 0)
        if not stats["leader"]:
            return
        with self.backend.reading() as engine:
            states = Counter(t.state for t in engine.tasks.values())
            pending = sum(engine.pending(a) for a in engine.apps.values())
            apps, deployments, cycles = len(engine.apps), len(engine.deployments), engine.offer_cycles
            failed = sum(1 for d in engine.finished if d.status == "failed")
            jobs = len(engine.jobs.jobs)
            runs = Counter(r.status for r in engine.jobs.runs.values())
        yield GaugeMetricFamily("halyard_apps", "apps", value=apps)
        tasks = GaugeMetricFamily("halyard_tasks", "tasks by Mesos state", labels=["state"])
        for state, n in sorted(states.items()):
            tasks.add_metric([state], n)
        yield tasks
        yield GaugeMetricFamily("halyard_pending_instances", "instances waiting to be launched", value=pending)
        yield GaugeMetricFamily("halyard_deployments", "deployments under way", value=deployments)
        yield CounterMetricFamily("halyard_deployments_failed", "deployments that failed (recent)", value=failed)
        yield GaugeMetricFamily("halyard_jobs", "job definitions", value=jobs)
        by_status = GaugeMetricFamily("halyard_job_runs", "kept job runs by status", labels=["status"])
        for status in ("QUEUED", "STARTING", "RUNNING", "FINISHED", "FAILED", "KILLED"):
            by_status.add_metric([status], runs.get(status, 0))
        yield by_status
        yield CounterMetricFamily("halyard_offer_cycles", "offer batches that launched tasks", value=cycles)
        lat = stats["offerToAcceptMs"]
        if lat["count"]:
            quantiles = GaugeMetricFamily("halyard_offer_to_accept_seconds", "offer arrival to ACCEPT",
                                          labels=["quantile"])
            quantiles.add_metric(["0.5"], lat["p50"] / 1000)
            quantiles.add_metric(["0.99"], lat["p99"] / 1000)
            yield quantiles


def render(backend: Any) -> bytes:
    registry = CollectorRegistry()
    registry.register(_Collector(backend))  # type: ignore[arg-type]
    return generate_latest(registry)
