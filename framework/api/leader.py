"""This scheduler: ``/ping``, ``/v2/info``, ``/v2/leader`` (Marathon's) and ``/v1/stats`` (Halyard's)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..errors import NotLeaderError
from ..runtime.backend import Backend, SchedulerInfo, SchedulerStats
from .errors import error_response

JSON = "application/json"
#: what /ping can answer, in Marathon's order of preference (text first, for */* and text/*)
PING_TYPES = ("text/plain", "text/html", JSON)


def ping_media_type(accept: str | None) -> str | None:
    """The type ``/ping`` answers with for this ``Accept`` header (:func:`preferred_type` of
    :data:`PING_TYPES`); None when the client accepts none of them."""
    return preferred_type(accept, PING_TYPES)


def preferred_type(accept: str | None, offered: tuple[str, ...]) -> str | None:
    """Marathon's content negotiation: for the client's most preferred (highest ``q``, then most
    specific) range of ``accept`` that one of ``offered`` matches, that type (the first of
    ``offered`` that matches); None when the client accepts none of them."""
    ranges = []
    for n, part in enumerate((accept or "*/*").split(",")):
        kind, *params = [p.strip() for p in part.split(";")]
        q = next((p.partition("=")[2] for p in params if p.startswith("q=")), "1")
        try:
            quality = float(q)
        except ValueError:
            quality = 0.0
        if kind and quality > 0:
            ranges.append((-quality, kind.count("*"), n, kind.lower()))
    for *_, kind in sorted(ranges):
        main, _, sub = kind.partition("/")
        for media_type in offered:
            o_main, _, o_sub = media_type.partition("/")
            if main in ("*", o_main) and sub in ("*", o_sub):
                return media_type
    return None


def info_json(info: SchedulerInfo) -> dict[str, Any]:
    """Marathon's ``/v2/info`` body. ``marathon_config.mesos_leader_ui_url`` is Marathon's name for
    the master the leader is subscribed to (``http://host:port/``; null while not subscribed)."""
    leader_url = f"http://{info.subscribed_master}/" if info.subscribed_master else None
    return {"name": info.name, "version": info.version, "leader": info.leader, "elected": info.elected,
            "frameworkId": info.framework_id,
            "marathon_config": {"master": info.master, "framework_name": info.name, "mesos_role": info.role,
                                "failover_timeout": info.failover_timeout, "mesos_user": None,
                                "mesos_leader_ui_url": leader_url},
            "zookeeper_config": {"zk": info.zk, "zk_timeout": int(info.zk_session_timeout * 1000)},
            "http_config": {"http_port": int(info.listen.rpartition(":")[2])}}


def stats_json(stats: SchedulerStats) -> dict[str, Any]:
    """Halyard's ``/v1/stats`` body."""
    latency = stats.offer_to_accept
    return {"leader": stats.leader, "suspended": stats.suspended, "epoch": stats.epoch, "offerCycles": stats.offer_cycles,
            "reconciling": stats.reconciling,
            "offerToAcceptMs": {"p50": latency.p50, "p99": latency.p99, "count": latency.count}}


def routes(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/ping")
    def ping(request: Request) -> Response:
        """``"pong"`` as JSON when the client prefers JSON, ``pong`` as text otherwise (Marathon's)."""
        media_type = ping_media_type(request.headers.get("accept"))
        if media_type is None:
            return Response(status_code=204)
        return Response('"pong"' if media_type == JSON else "pong", media_type=media_type)

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
