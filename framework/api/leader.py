"""This scheduler: ``/ping``, ``/v2/info``, ``/v2/leader`` (Marathon's) and ``/v1/stats`` (Halyard's)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from ..backend import Backend, SchedulerInfo, SchedulerStats
from ..errors import NotLeaderError
from .errors import error_response


def info_json(info: SchedulerInfo) -> dict[str, Any]:
    """Marathon's ``/v2/info`` body."""
    return {"name": info.name, "version": info.version, "leader": info.leader, "elected": info.elected,
            "frameworkId": info.framework_id,
            "marathon_config": {"master": info.master, "framework_name": info.name, "mesos_role": info.role,
                                "failover_timeout": info.failover_timeout, "mesos_user": None},
            "zookeeper_config": {"zk": info.zk, "zk_timeout": int(info.zk_session_timeout * 1000)},
            "http_config": {"http_port": int(info.listen.rpartition(":")[2])}}


def stats_json(stats: SchedulerStats) -> dict[str, Any]:
    """Halyard's ``/v1/stats`` body."""
    latency = stats.offer_to_accept
    return {"leader": stats.leader, "epoch": stats.epoch, "offerCycles": stats.offer_cycles,
            "reconciling": stats.reconciling,
            "offerToAcceptMs": {"p50": latency.p50, "p99": latency.p99, "count": latency.count}}


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/ping", response_class=PlainTextResponse)
    def ping() -> str:
        return "pong"

    @router.get("/v2/info")
    def info() -> Any:
        return info_json(backend.about())

    @router.get("/v2/leader")
    def leader() -> Any:
        where = backend.leader()
        return {"leader": where} if where else error_response(404, "There is no leader")

    @router.delete("/v2/leader")
    def abdicate() -> Any:
        if not backend.abdicate():
            raise NotLeaderError(backend.leader())
        return {"message": "Leadership abdicated"}

    @router.get("/v1/stats")
    def stats() -> Any:
        """Operational figures: leadership, epoch, offer cycles, reconciliation, offer-to-accept latency."""
        return stats_json(backend.stats())

    return router
