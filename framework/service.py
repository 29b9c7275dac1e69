"""The scheduler service: election, one leader loop, and the HTTP API. The wiring, not the rules.

Threads:

* the **leader loop** (``run``'s thread) contends for leadership; while it leads it owns the
  engine, the store writes and the Mesos driver, and handles one event at a time: Mesos events
  (from pymesos' IO thread, via a queue), API commands (with a future to answer), a 1 s tick;
* **pymesos' IO thread** only enqueues;
* **kazoo's thread** only sets flags and enqueues: SUSPENDED pauses launching, CONNECTED resumes,
  LOST ends the leadership (the subscription is closed; tasks keep running) and the loop
  contends again with a new session. A ZooKeeper outage shorter than the session timeout
  changes nothing but a pause;
* **uvicorn's thread** serves the API: reads take the engine lock, writes become commands.

A write that cannot reach ZooKeeper waits for it (nothing after it runs meanwhile, so no
launch or acknowledgement gets ahead of its record); a write fenced by a newer leader ends the
leadership at once.
"""
from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections import deque
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import uvicorn
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException
from kazoo.retry import KazooRetry

from dataclasses import replace

from .api.routes import create_app
from .errors import NotLeaderError
from .callbacks import CallbackPoster
from .engine.engine import Engine, EngineConfig
from .api.event_json import marathon_event
from .engine.messages import Event, Launch, Notify, Offers, Paused, Persist, Publish, Tick
from .errors import FencedError, HalyardError, StoreUnavailableError
from .jobs.executor import ExecutorSettings
from .mesos.artifact import executor_artifact
from .mesos.driver import MesosDriver, framework_info
from .placement import StrategyRegistry
from .store.zk import ZkStore, digest_acl

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0


@dataclass
class ServiceConfig:
    master: str
    zk: str                      # zk://host:port[,host:port][/chroot]
    listen: str = "127.0.0.1:8080"
    name: str = "halyard"
    role: str = "*"
    principal: Optional[str] = None
    secret: Optional[str] = None
    failover_timeout: float = 7 * 24 * 3600.0
    zk_auth: Optional[str] = None   # user:password for digest ACLs on Halyard's znodes
    zk_session_timeout: float = 10.0
    engine: EngineConfig = field(default_factory=EngineConfig)
    tokens: dict[str, str] = field(default_factory=dict)   # API bearer token -> "rw" | "ro"
    auth_reads: bool = False                               # reads need a token too
    executor_uri: Optional[str] = None      # where agents fetch Halyard's executor (default: this scheduler)
    executor_command: Optional[str] = None  # how agents run it (default: python3 <fetched file>)


# kazoo gives each connection attempt session_timeout / len(hosts) to get its answer. With one
# server, one attempt that hangs on a server still starting up (after a restart) would use up the
# whole session: list that server a few times so that each attempt gets a quarter of it.
SINGLE_HOST_ATTEMPTS = 4


def parse_zk(url: str) -> tuple[str, str]:
    """``zk://h1:2181,h2:2181/chroot`` -> (kazoo hosts string with chroot, store root)."""
    rest = url.removeprefix("zk://")
    hosts, slash, chroot = rest.partition("/")
    if not hosts:
        raise ValueError(f"no ZooKeeper hosts in {url!r}")
    if "," not in hosts:
        hosts = ",".join([hosts] * SINGLE_HOST_ATTEMPTS)
    if slash and chroot.strip("/"):
        return f"{hosts}/{chroot.strip('/')}", ""
    return hosts, "/halyard"


class _Command:
    def __init__(self, event: Event):
        self.event = event
        self.future: Future = Future()


class _Wake:
    """Wakes the leader loop (stop, session lost)."""


class _StepDown(Exception):
    """Leave the leader loop: stopping, session lost, fenced, ...; ``pause``: seconds to wait
    before contending again (to let another scheduler take the lead, or a master come back)."""

    def __init__(self, reason: str, pause: float = 0.0):
        super().__init__(reason)
        self.pause = pause


class SchedulerService:
    """One Halyard scheduler process: a standby, or the leader."""

    def __init__(self, config: ServiceConfig, registry: Optional[StrategyRegistry] = None):
        self.config = config
        self.registry = registry or StrategyRegistry.discover()
        hosts, root = parse_zk(config.zk)
        auth = [("digest", config.zk_auth)] if config.zk_auth else None
        self.zk = KazooClient(hosts=hosts, timeout=config.zk_session_timeout, auth_data=auth,
                              connection_retry=KazooRetry(max_tries=-1, max_delay=2),
                              command_retry=KazooRetry(max_tries=3, max_delay=1))
        self.store = ZkStore(self.zk, root, digest_acl(config.zk_auth))
        self.lock = threading.RLock()
        self.engine: Optional[Engine] = None
        self.events: Optional[queue.Queue] = None
        self.epoch: Optional[int] = None
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._restart_driver = threading.Event()
        self._abdicate = threading.Event()
        self._superseded = threading.Event()
        self._pause_before_contending = 0.0
        self._election = None
        self._server: Optional[uvicorn.Server] = None
        self.offer_latencies: deque[float] = deque(maxlen=1000)  # seconds, arrival -> ACCEPT sent
        self._subscribers: list[queue.Queue] = []
        self.callbacks = CallbackPoster()

    # --- Backend (for the API) ----------------------------------------------------------------

    def leader(self) -> Optional[str]:
        if self.engine is not None:
            return self.config.listen
        try:
            contenders = self._election.contenders() if self._election is not None else []
        except KazooException:
            return None
        return contenders[0] if contenders else None

    @contextmanager
    def reading(self) -> Iterator[Engine]:
        with self.lock:
            if self.engine is None:
                raise NotLeaderError(self.leader())
            yield self.engine

    def submit(self, event: Event, timeout: float = 60.0) -> None:
        with self.lock:
            events = self.events
        if events is None:
            raise NotLeaderError(self.leader())
        command = _Command(event)
        events.put((time.monotonic(), command))
        command.future.result(timeout=timeout)

    # --- lifecycle ----------------------------------------------------------------------------

    def start_api(self) -> None:
        host, _, port = self.config.listen.rpartition(":")
        config = uvicorn.Config(create_app(self, self.config.tokens, self.config.auth_reads), host=host or "127.0.0.1",
                                port=int(port), log_level="warning",
                                access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        threading.Thread(target=self._server.run, name="halyard-api", daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def run(self) -> None:
        """Serve the API, contend for leadership, lead when elected; return after :meth:`stop`."""
        if self._server is None:
            self.start_api()
        self.zk.add_listener(self._zk_state)
        while not self._stop.is_set():
            try:
                self._ensure_chroot()
                self.zk.start(timeout=15)
                break
            except Exception as exc:  # noqa: BLE001 - keep trying until ZooKeeper answers
                log.warning("cannot reach ZooKeeper (%s); retrying", exc)
        self.store.ensure_layout()
        self._election = self.zk.Election(self.store.election_path, self.config.listen)
        while not self._stop.is_set():
            self._lost.clear()
            try:
                self._election.run(self._lead)
                pause, self._pause_before_contending = self._pause_before_contending, 0.0
                time.sleep(pause)
            except KazooException as exc:
                log.warning("election interrupted: %r", exc)
            except BaseException:  # noqa: BLE001 - stay a contender whatever happened
                log.exception("leadership ended by an unexpected error; contending again")
                time.sleep(1)
            while not self._stop.is_set() and not self.zk.connected:
                time.sleep(0.1)
        if self._server is not None:
            self._server.should_exit = True
        self.zk.stop()
        self.zk.close()
        self.callbacks.close()

    def _ensure_chroot(self) -> None:
        base, slash, path = parse_zk(self.config.zk)[0].partition("/")
        if not slash:
            return
        client = KazooClient(hosts=base, timeout=self.config.zk_session_timeout,
                             auth_data=[("digest", self.config.zk_auth)] if self.config.zk_auth else None)
        client.start(timeout=15)
        try:
            client.ensure_path("/" + path, acl=self.store.acl)
        finally:
            client.stop()
            client.close()

    def stop(self) -> None:
        self._stop.set()
        if self._election is not None:
            self._election.cancel()
        self._wake()

    def _failed_over(self, message: str) -> None:
        """pymesos' IO thread: Mesos says another scheduler took this framework over."""
        self._superseded.set()
        self._wake()

    def restart_driver(self) -> None:
        """pymesos' IO thread died: give up this leadership and contend again with a new driver."""
        self._restart_driver.set()
        self._wake()

    def _wake(self) -> None:
        with self.lock:
            if self.events is not None:
                self.events.put((time.monotonic(), _Wake()))

    def _zk_state(self, state: str) -> None:
        """kazoo's thread: flags and events only."""
        log.info("ZooKeeper session %s", state)
        if state == KazooState.LOST:
            self._lost.set()
            self._wake()
        elif state == KazooState.SUSPENDED:
            self._post(Paused(True))
        elif state == KazooState.CONNECTED:
            self._post(Paused(False))

    def _post(self, event: Event) -> None:
        with self.lock:
            if self.events is not None:
                self.events.put((time.monotonic(), event))

    # --- leading ------------------------------------------------------------------------------

    def _lead(self) -> None:
        if self._stop.is_set() or self._lost.is_set():
            return
        self.epoch = self.store.become_leader()
        snapshot = self.store.load()
        engine = Engine(self.registry, replace(self.config.engine, executor=self.executor_settings()))
        engine.load(snapshot)
        events: queue.Queue = queue.Queue()
        framework = framework_info(self.config.name, self.config.role, self.config.failover_timeout,
                                   snapshot.framework_id, self.config.principal, f"http://{self.config.listen}")
        driver = MesosDriver(self.config.master, framework, lambda e: events.put((time.monotonic(), e)),
                             self.config.principal, self.config.secret, on_failed_over=self._failed_over)
        log.info("leading (epoch %d): %d apps, %d tasks, framework %s", self.epoch, len(engine.apps),
                 len(engine.tasks), snapshot.framework_id or "(new)")
        with self.lock:
            self.engine, self.events = engine, events
        for reason in (self._restart_driver, self._abdicate, self._superseded):
            reason.clear()
        driver.start()
        try:
            self._serve(engine, events, driver)
        except _StepDown as why:
            log.warning("stepping down: %s", why)
            self._pause_before_contending = why.pause
        finally:
            with self.lock:
                self.engine, self.events = None, None
            try:
                driver.stop()
            except BaseException:  # noqa: BLE001 - a failed driver must not take the scheduler down
                log.exception("stopping the Mesos driver failed")
            self._fail_pending(events)
            log.info("no longer leading")

    def _yield_seconds(self) -> float:
        """How long a scheduler that gave up the lead waits, so that another one takes it."""
        return max(2.0, self.config.zk_session_timeout / 2)

    def _serve(self, engine: Engine, events: queue.Queue, driver: MesosDriver) -> None:
        next_tick = time.monotonic() + TICK_SECONDS
        while True:
            if self._stop.is_set():
                raise _StepDown("stopping")
            if self._lost.is_set():
                raise _StepDown("ZooKeeper session lost")
            if self._restart_driver.is_set():
                raise _StepDown("Mesos driver failed", pause=1.0)  # the master may be restarting
            if self._abdicate.is_set():
                raise _StepDown("abdicated", pause=self._yield_seconds())
            if self._superseded.is_set():
                self._superseded.clear()
                # Fence the Mesos subscription as the store is fenced: only a newer epoch wins.
                try:
                    newer = self.store.current_epoch() > (self.epoch or 0)
                except KazooException:
                    newer = True  # cannot tell: the safe side is to let the other one lead
                if newer:
                    raise _StepDown("a newer leader subscribed as this framework", pause=self._yield_seconds())
                log.warning("a stale scheduler subscribed as this framework; this leader (epoch %s) takes it back",
                            self.epoch)
            try:
                arrived, item = events.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                arrived, item = None, None
            if time.monotonic() >= next_tick:
                self._apply(engine, driver, Tick())
                next_tick = time.monotonic() + TICK_SECONDS
            if item is None or isinstance(item, _Wake):
                continue
            if isinstance(item, _Command):
                try:
                    self._apply(engine, driver, item.event)
                except HalyardError as exc:
                    item.future.set_exception(exc)
                    if isinstance(exc, FencedError):
                        raise _StepDown(str(exc)) from exc
                else:
                    item.future.set_result(None)
                continue
            self._apply(engine, driver, item, arrived)

    def _apply(self, engine: Engine, driver: MesosDriver, event: Event, arrived: Optional[float] = None) -> None:
        with self.lock:
            ended = len(engine.finished)
            instructions = engine.handle(event)
            for deployment in list(engine.finished)[ended:] if len(engine.finished) > ended else ():
                log.info("deployment %s (%s of %s) %s%s", deployment.id, deployment.kind, deployment.app_id,
                         deployment.status, f": {'; '.join(deployment.failures)}" if deployment.failures else "")
        events = []
        for ins in instructions:
            if isinstance(ins, Persist):
                self._persist(ins)
            elif isinstance(ins, Notify):
                self.callbacks.post(ins.url, ins.body)
            elif isinstance(ins, Publish):
                events.append(marathon_event(ins.event))
            else:
                driver.execute(ins)
        if events:
            self._publish(events)
        if isinstance(event, Offers) and arrived is not None and any(isinstance(i, Launch) for i in instructions):
            self.offer_latencies.append(time.monotonic() - arrived)

    def _persist(self, persist: Persist) -> None:
        while True:
            try:
                self.store.commit(persist)
                return
            except FencedError as exc:
                raise _StepDown(str(exc)) from exc
            except StoreUnavailableError as exc:
                log.warning("%s; waiting for ZooKeeper", exc)
                while not self.zk.connected:
                    if self._lost.is_set() or self._stop.is_set():
                        raise _StepDown("ZooKeeper session lost while writing") from exc
                    if self._superseded.is_set():
                        # Another scheduler took the framework and this one cannot check the
                        # epoch now: the safe side is to let the other one lead.
                        raise _StepDown("superseded while ZooKeeper is unreachable", pause=self._yield_seconds())
                    time.sleep(0.05)

    @staticmethod
    def _fail_pending(events: queue.Queue) -> None:
        while True:
            try:
                _, item = events.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Command):
                item.future.set_exception(NotLeaderError(None))

    def subscribe(self) -> queue.Queue:
        """A queue that receives every event from now on (``GET /v2/events``)."""
        q: queue.Queue = queue.Queue(maxsize=10000)
        with self.lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self.lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def _publish(self, events: list[dict]) -> None:
        for subscriber in list(self._subscribers):
            for event in events:
                try:
                    subscriber.put_nowait(event)
                except queue.Full:  # a reader that does not keep up loses events, not the scheduler
                    pass

    def info(self) -> dict[str, Any]:
        from . import __version__

        with self.lock:
            engine = self.engine
            framework_id = engine.framework_id if engine else None
        return {"name": self.config.name, "version": __version__, "leader": self.leader(), "elected": engine is not None,
                "frameworkId": framework_id,
                "marathon_config": {"master": self.config.master, "framework_name": self.config.name,
                                    "mesos_role": self.config.role, "failover_timeout": self.config.failover_timeout,
                                    "mesos_user": None},
                "zookeeper_config": {"zk": self.config.zk, "zk_timeout": int(self.config.zk_session_timeout * 1000)},
                "http_config": {"http_port": int(self.config.listen.rpartition(":")[2])}}

    def master_url(self) -> str:
        """The Mesos master's HTTP address (through ZooKeeper for ``zk://`` masters)."""
        master = self.config.master
        if not master.startswith("zk://"):
            return master if master.startswith("http") else f"http://{master}"
        import json

        hosts, _, path = master.removeprefix("zk://").partition("/")
        client = KazooClient(hosts=hosts, timeout=self.config.zk_session_timeout)
        client.start(timeout=10)
        try:
            nodes = sorted(n for n in client.get_children("/" + path) if n.startswith("json.info_"))
            if not nodes:
                raise HalyardError(f"no master is announced at {master}")
            address = json.loads(client.get(f"/{path}/{nodes[0]}")[0])["address"]
            return f"http://{address['ip']}:{address['port']}"
        finally:
            client.stop()
            client.close()

    def address(self) -> str:
        """Where this scheduler's API listens (its election identifier)."""
        return self.config.listen

    def executor_settings(self) -> ExecutorSettings:
        """How agents get and start Halyard's executor: by default they fetch the zipapp this
        scheduler serves and run it with their ``python3``."""
        uri = self.config.executor_uri
        if uri is None:
            host, _, port = self.config.listen.rpartition(":")
            if host in ("", "0.0.0.0", "::", "[::]"):
                host = socket.getfqdn()
            uri = f"http://{host}:{port}{executor_artifact().path}"
        command = self.config.executor_command or f"python3 {uri.rstrip('/').rsplit('/', 1)[-1]}"
        return replace(self.config.engine.executor, command=command, uris=(uri,) if uri else ())

    def abdicate(self) -> bool:
        """Step down (the next contender leads); this scheduler contends again after a pause."""
        if self.engine is None:
            return False
        self._abdicate.set()
        self._wake()
        return True

    def stats(self) -> dict[str, Any]:
        """Figures for benchmarks and operators (``GET /v1/stats``)."""
        lat = sorted(self.offer_latencies)

        def pct(p: float) -> Optional[float]:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else None

        with self.lock:
            engine = self.engine
            return {"leader": engine is not None, "epoch": self.epoch,
                    "offerCycles": engine.offer_cycles if engine else None,
                    "reconciling": engine.reconciling() if engine else None,
                    "offerToAcceptMs": {"p50": pct(0.5), "p99": pct(0.99), "count": len(lat)}}
