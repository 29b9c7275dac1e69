"""One scheduler process, wired: configuration, the ZooKeeper session with its store and
election, the Mesos master reader and driver factory, the webhook poster, the event hub, the
HTTP API (uvicorn) and the leader loop (``service.py``) that uses them.

``halyard scheduler`` builds a :class:`SchedulerApp` and calls :meth:`SchedulerApp.run`.
"""
from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Iterator, Optional

import uvicorn

from .api.routes import create_app
from .config import ServiceConfig
from .engine.engine import Engine
from .engine.messages import Event
from .errors import NotLeaderError
from .jobs.taskinfo import ExecutorSettings
from .mesos.artifact import executor_artifact
from .mesos.driver import MesosDriver, framework_info
from .mesos.master import MesosMaster
from .placement import StrategyRegistry
from .service import SchedulerService
from .store.election import ZkSession
from .webhooks import WebhookPoster

log = logging.getLogger(__name__)
API_START_SECONDS = 10.0


def executor_settings(config: ServiceConfig) -> ExecutorSettings:
    """How agents get and start Halyard's executor: by default they fetch the zipapp this
    scheduler serves and run it with their ``python3``."""
    uri = config.executor_uri
    if uri is None:
        host, _, port = config.listen.rpartition(":")
        if host in ("", "0.0.0.0", "::", "[::]"):
            host = socket.getfqdn()
        uri = f"http://{host}:{port}{executor_artifact().path}"
    command = config.executor_command or f"python3 {uri.rstrip('/').rsplit('/', 1)[-1]}"
    return replace(config.engine.executor, command=command, uris=(uri,) if uri else ())


class SchedulerApp:
    """A scheduler process: a standby or the leader, with its HTTP API."""

    def __init__(self, config: ServiceConfig, registry: Optional[StrategyRegistry] = None):
        self.config = config
        self.session = ZkSession(config.zk, config.zk_session_timeout, config.zk_auth)
        self.store = self.session.store()
        self.election = self.session.election(self.store.election_path, config.listen)
        self.master = MesosMaster(config.master)
        self.webhooks = WebhookPoster()
        self.hub = _Step1Hub()
        self.service = SchedulerService(
            config, store=self.store, session=self.session, election=self.election, drivers=self._driver,
            master=self.master, publish=self.hub.publish, notify=self.webhooks.post,
            engine_config=replace(config.engine, executor=executor_settings(config)), registry=registry)
        self.session.add_listener(self.service.session_changed)
        self._server: Optional[uvicorn.Server] = None

    def _driver(self, framework_id: Optional[str], sink: Callable[[Event], None],
                on_failed_over: Callable[[str], None]) -> MesosDriver:
        c = self.config
        framework = framework_info(c.name, c.role, c.failover_timeout, framework_id, c.principal, f"http://{c.listen}")
        return MesosDriver(c.master, framework, sink, c.principal, c.secret, on_failed_over=on_failed_over)

    def start_api(self) -> None:
        """Serve the HTTP API on its own thread (returns once it listens, or after 10 s)."""
        host, _, _ = self.config.listen.rpartition(":")
        api = create_app(_Step1Backend(self.service, self.hub), self.config.tokens, self.config.auth_reads)
        server = uvicorn.Server(uvicorn.Config(api, host=host or "127.0.0.1", port=self.config.port,
                                               log_level="warning", access_log=False, lifespan="off"))
        self._server = server
        threading.Thread(target=server.run, name="halyard-api", daemon=True).start()
        deadline = time.monotonic() + API_START_SECONDS
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def run(self) -> None:
        """Serve the API, connect to ZooKeeper, contend and lead; return after :meth:`stop`."""
        if self._server is None:
            self.start_api()
        try:
            if self.session.start(stopping=lambda: self.service.stopping):
                self.store.ensure_layout()
                self.service.run()
        finally:
            if self._server is not None:
                self._server.should_exit = True
            self.session.close()
            self.webhooks.close()

    def stop(self) -> None:
        self.service.stop()

    def restart_driver(self) -> None:
        """The Mesos driver's IO thread died: lead again with a new one."""
        self.service.restart_driver()


class _Step1Hub:
    """Temporary: the event fan-out of the old routes (replaced by ``api/events.EventHub``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscribers: list[queue.Queue] = []

    def publish(self, event: Any) -> None:
        with self.lock:
            subscribers = list(self.subscribers)
        for subscriber in subscribers:
            try:
                subscriber.put_nowait(event)
            except queue.Full:
                pass


class _Step1Backend:
    """Temporary: the old routes' Backend over the new service."""

    def __init__(self, service: SchedulerService, hub: _Step1Hub):
        self.service, self.hub = service, hub
        self.leader, self.address, self.submit = service.leader, service.address, service.submit
        self.abdicate = service.abdicate

    @contextmanager
    def reading(self) -> Iterator[Engine]:
        with self.service.lock:
            if self.service.engine is not None:
                yield self.service.engine
                return
        raise NotLeaderError(self.service.leader())

    def stats(self) -> dict[str, Any]:
        s = self.service.stats()
        return {"leader": s.leader, "epoch": s.epoch, "offerCycles": s.offer_cycles, "reconciling": s.reconciling,
                "offerToAcceptMs": {"p50": s.offer_to_accept.p50, "p99": s.offer_to_accept.p99,
                                    "count": s.offer_to_accept.count}}

    def info(self) -> dict[str, Any]:
        i = self.service.about()
        return {"name": i.name, "version": i.version, "leader": i.leader, "elected": i.elected,
                "frameworkId": i.framework_id,
                "marathon_config": {"master": i.master, "framework_name": i.name, "mesos_role": i.role,
                                    "failover_timeout": i.failover_timeout, "mesos_user": None},
                "zookeeper_config": {"zk": i.zk, "zk_timeout": int(i.zk_session_timeout * 1000)},
                "http_config": {"http_port": int(i.listen.rpartition(":")[2])}}

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue(maxsize=10000)
        with self.hub.lock:
            self.hub.subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self.hub.lock:
            if q in self.hub.subscribers:
                self.hub.subscribers.remove(q)

    def master(self) -> Any:
        return self.service.master()
