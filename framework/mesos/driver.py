"""pymesos behind one adapter: callbacks become engine events on a queue; instructions become calls.

pymesos runs every callback on its single IO thread and, if a callback raises, kills that thread
and interrupts the main thread. So callbacks here only convert and enqueue (never raise), and all
decisions happen on the service's own thread. Acknowledgements are explicit
(``implicit_acknowledgements=False``): the engine acknowledges an update only after persisting it.

With ``principal`` and ``secret`` every call carries HTTP basic credentials (Mesos' framework
authentication). A master that refuses them, or whose ACLs refuse the principal, is reported once
through ``on_refused`` (``refusal.py`` tells a refusal from a failure worth retrying); a master that
cannot be reached is retried with pymesos' backoff, and the log says so.

Following the leading master (``--master zk://.../mesos``): pymesos' detector watches the masters'
znodes and switches to the newly elected one; the retry backoff against a master that went away is
capped at :data:`ZK_RETRY_CAP` (pymesos sleeps it on its IO thread, and would only then look at the
new master). A master that stops answering without closing the connection (SIGSTOP, a partition)
sends no more events, HEARTBEATs included: :class:`HeartbeatWatch` reconnects after
:data:`MISSED_HEARTBEATS` of the subscription's ``heartbeat_interval_seconds`` (pymesos does not
watch them); a call to it is given up after :data:`~.following.CALL_TIMEOUT` (pymesos waits a
day). Calls are made without holding pymesos' driver lock through the request (pymesos does: a call
stuck on a stopped master then kept the detector from switching masters). Each
(re-)subscription names its master in the log and in the ``Subscribed`` event.

Following ZooKeeper, a 307 is followed only to the master ZooKeeper names the leader
(``following.py``: a standby elected a moment ago may still redirect to the master that went away).
Nothing pymesos does against a master blocks for long: its ``/version`` probe, which pymesos makes
on its IO thread (a redirect) or the detector's thread with a timeout of a day, is bounded by
:data:`~.following.VERSION_PROBE_TIMEOUT`; a call by :data:`~.following.CALL_TIMEOUT`; a SUBSCRIBE
with no SUBSCRIBED after :data:`~.following.SUBSCRIBE_TIMEOUT` is made again; and two SUBSCRIBEs are
at least :data:`~.following.SUBSCRIBE_PACE` apart. A SUBSCRIBE answered 404 or 5xx (a master being
restarted) is made again for a while (:class:`_Connection`): pymesos raised on its IO thread, and
the scheduler stepped down.
"""
from __future__ import annotations

import functools
import getpass
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from http.client import HTTPConnection
from typing import Any, cast

import pymesos.process
from pymesos import MesosSchedulerDriver, Scheduler

from ..engine.messages import (
    Acknowledge,
    AgentLost,
    AnswerInverseOffers,
    Decline,
    Disconnected,
    Event,
    Instruction,
    InverseOffers,
    Kill,
    Launch,
    Offers,
    Reconcile,
    Rescinded,
    Revive,
    StatusUpdate,
    Subscribed,
    Suppress,
)
from ..errors import FrameworkRefusedError
from .codec import acknowledgement, decode_inverse_offer, decode_offer, decode_status, task_infos
from .following import (
    CALL_TIMEOUT,
    SUBSCRIBE_TIMEOUT,
    VERSION_PROBE_TIMEOUT,
    Announcement,
    pace_delay,
    parse_announcement,
    redirect_target,
    retry_subscribe_answer,
    subscribe_overdue,
)
from .refusal import refusal_from_error_event
from .sender import LANES, CallSender, MasterCalls

log = logging.getLogger(__name__)
#: the longest pause between attempts to reach a master found through ZooKeeper (seconds)
ZK_RETRY_CAP = 1.0
#: heartbeat intervals without any event from the master before the connection counts as dead
MISSED_HEARTBEATS = 2
#: Mesos' default ``heartbeat_interval_seconds`` (used until SUBSCRIBED says otherwise)
HEARTBEAT_SECONDS = 15.0


def master_address(master_info: dict[str, Any]) -> str | None:
    """pymesos' ``master_info`` (``hostname``, ``port``) -> ``host:port``."""
    host, port = master_info.get("hostname"), master_info.get("port")
    return f"{host}:{port}" if host and port else None


def announced_address(data: bytes | str | None) -> str | None:
    """A master's ZooKeeper announcement (its ``MasterInfo`` as JSON) -> ``ip:port``; None if unreadable."""
    announcement = parse_announcement(data)
    return announcement.address if announcement else None


def heartbeat_overdue(last_heard: float, interval: float, now: float, missed: int = MISSED_HEARTBEATS) -> bool:
    """Nothing heard from the master (no event, no HEARTBEAT) for ``missed`` heartbeat intervals."""
    return now - last_heard > missed * interval


def install_interrupt_handler(on_driver_failure: Callable[[BaseException], None],
                              on_interrupt: Callable[[], None]) -> None:
    """Replace the SIGINT handler pymesos installs at import.

    When its IO thread fails, pymesos stores the exception and calls ``interrupt_main()``; its own
    handler then raises that exception wherever the main thread happens to be (in CPython 3.11 an
    exception inside ``Thread.join`` can even mark a running thread as finished). This handler
    raises nothing: it reports the stored failure, or a real Ctrl-C, through the callbacks.
    """
    def handler(signum: int, frame: Any) -> None:
        failure = getattr(pymesos.process, "_exc_info", None)
        if failure is not None:
            pymesos.process._exc_info = None
            on_driver_failure(failure[1])
        else:
            on_interrupt()

    signal.signal(signal.SIGINT, handler)


def framework_info(name: str, role: str, failover_timeout: float, framework_id: str | None,
                   principal: str | None, webui_url: str | None) -> dict[str, Any]:
    """FrameworkInfo: checkpointing on (tasks survive agent restarts), a long failover timeout,
    and the capabilities whose semantics the engine implements."""
    info: dict[str, Any] = {
        "user": getpass.getuser(), "name": name, "role": role, "checkpoint": True,
        "failover_timeout": failover_timeout, "hostname": socket.gethostname(),
        "capabilities": [{"type": "TASK_KILLING_STATE"}, {"type": "PARTITION_AWARE"}, {"type": "REGION_AWARE"}],
    }
    if framework_id:
        info["id"] = {"value": framework_id}
    if principal:
        info["principal"] = principal
    if webui_url:
        info["webui_url"] = webui_url
    return info


class _PymesosScheduler(Scheduler):
    """pymesos callbacks -> events. Runs on pymesos' IO thread: enqueue only, never raise."""

    def __init__(self, sink: Callable[[Event], None], on_failed_over: Callable[[str], bool],
                 principal: str | None = None,
                 on_refused: Callable[[FrameworkRefusedError], None] = lambda error: None):
        self._sink = sink
        self._on_failed_over = on_failed_over
        self._principal = principal
        self._on_refused = on_refused

    def _emit(self, make: Callable[[], Event]) -> None:
        try:
            self._sink(make())
        except Exception:  # noqa: BLE001 - an exception here would kill pymesos' IO thread
            log.exception("dropping a Mesos event")

    def registered(self, driver, framework_id, master_info):  # noqa: N802 - pymesos' names
        master = master_address(master_info)
        log.info("subscribed as framework %s to master %s (Mesos %s)", framework_id["value"], master,
                 master_info.get("version"))
        self._emit(lambda: Subscribed(framework_id["value"], master))

    def reregistered(self, driver, master_info):  # noqa: N802
        master = master_address(master_info)
        log.info("re-subscribed as framework %s to master %s (Mesos %s)", driver.framework_id, master,
                 master_info.get("version"))
        self._emit(lambda: Subscribed(driver.framework_id, master))

    def disconnected(self, driver):
        log.warning("disconnected from the master")
        self._emit(Disconnected)

    def resourceOffers(self, driver, offers):  # noqa: N802
        decoded, unreadable = [], []
        for offer in offers:
            try:
                decoded.append(decode_offer(offer))
            except (KeyError, TypeError, ValueError):  # never seen from a real master; do not hoard it
                log.exception("declining an offer that cannot be read: %r", offer)
                unreadable.append(offer.get("id"))
        ids = [i for i in unreadable if isinstance(i, dict) and "value" in i]
        if ids:
            try:  # pymesos' own examples answer offers from this thread; the engine never sees these
                driver.declineOffer(ids, filters={"refuse_seconds": 5.0})
            except Exception:  # noqa: BLE001 - an exception here would kill pymesos' IO thread
                log.exception("declining unreadable offers failed")
        if decoded:
            self._emit(lambda: Offers(tuple(decoded)))

    def inverseOffers(self, driver, offers):  # noqa: N802 - maintenance windows: engine/maintenance.py
        self._emit(lambda: InverseOffers(tuple(decode_inverse_offer(o) for o in offers)))

    def offerRescinded(self, driver, offer_id):  # noqa: N802
        self._emit(lambda: Rescinded(offer_id["value"]))

    def statusUpdate(self, driver, status):  # noqa: N802
        self._emit(lambda: StatusUpdate(decode_status(status)))

    def slaveLost(self, driver, agent_id):  # noqa: N802
        self._emit(lambda: AgentLost(agent_id["value"]))

    def error(self, driver, message):
        log.error("Mesos error: %s", message)
        self._emit(Disconnected)
        refused = refusal_from_error_event(str(message), self._principal)
        if refused is not None:
            # The master's ACLs refused the subscription; it would refuse every retry the same way.
            try:
                self._on_refused(refused)
            except Exception:  # noqa: BLE001 - an exception here would kill pymesos' IO thread
                log.exception("reporting the refusal failed")
            return
        if "failed over" in str(message).lower():
            # Another scheduler subscribed as this framework. pymesos would re-subscribe at once
            # (on this thread, right after this callback) and take the framework back: unless
            # this scheduler still leads with the newest epoch, stop the driver here first, so
            # that a deposed leader waking up never steals the subscription from the leader.
            try:
                keep = self._on_failed_over(str(message))
            except Exception:  # noqa: BLE001 - an exception here would kill pymesos' IO thread
                log.exception("deciding whether to keep the subscription failed")
                keep = False
            if not keep:
                log.warning("not re-subscribing: another scheduler leads this framework")
                driver.stop(failover=True)


class _Connection(pymesos.process.Connection):
    """pymesos' connection to the master (its IO thread's), which for Halyard's driver asks again
    when a SUBSCRIBE is answered 404 or 5xx by a master that is starting or stopping
    (``following.retry_subscribe_answer``) instead of raising, which ended the driver."""

    def read(self) -> bool:
        try:
            return bool(super().read())
        except (RuntimeError, TypeError):  # TypeError: pymesos adds str to a bytes body cut short
            driver = self._callback
            parser = self._parser
            if not isinstance(driver, _SchedulerDriver) or self._stream_id is not None or parser is None:
                raise
            code = parser.get_status_code()
            now = time.monotonic()
            if not retry_subscribe_answer(code, driver.not_ready_since, now):
                raise
            if driver.not_ready_since is None:
                driver.not_ready_since = now
            log.warning("master %s answered the SUBSCRIBE with HTTP %s (starting or stopping?): subscribing again",
                        driver.master, code)
            return False


# pymesos' IO thread makes its connections by this module-level name; only Halyard's driver is changed.
pymesos.process.Connection = _Connection


class _SchedulerDriver(MesosSchedulerDriver):
    """pymesos' driver, saying in Halyard's log when the master cannot be reached and how long it
    waits, and noting when it last heard from the master (for :class:`HeartbeatWatch`).

    pymesos calls ``_backoff`` exactly when connecting to the master failed, then sleeps that long
    (2 s, doubling, at most 15 s, with jitter; at most :data:`ZK_RETRY_CAP` when the master is
    found through ZooKeeper) and tries again."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.last_heard = time.monotonic()
        self.heartbeat_seconds = HEARTBEAT_SECONDS
        self._calls = threading.Lock()  # one call at a time on the shared HTTP connection
        self.leader: Announcement | None = None  # the leading master ZooKeeper announced last
        self.subscribing_since: float | None = None  # a SUBSCRIBE sent, its SUBSCRIBED not yet here
        self.not_ready_since: float | None = None  # the first of the SUBSCRIBEs answered 404/5xx in a row
        self._last_subscribe: float | None = None
        self.version_probe_timeout = VERSION_PROBE_TIMEOUT
        self.call_timeout = CALL_TIMEOUT
        self.subscribe_timeout = SUBSCRIBE_TIMEOUT

    @property
    def detected(self) -> str | None:
        """``ip:port`` of the leading master ZooKeeper announced last (None: none, or no ZooKeeper)."""
        leader = self.leader
        return leader.address if leader else None

    def onNewMasterDetectedMessage(self, data: Any) -> None:  # noqa: N802 - pymesos' name
        """The detector's news, remembered: a 307 from a master that is not the leader (any more)
        is followed only there, and when that master dies the detector has nothing new to say."""
        self.leader = parse_announcement(data)
        log.info("ZooKeeper names master %s the leader", self.detected)
        super().onNewMasterDetectedMessage(data)

    def onNoMasterDetectedMessage(self) -> None:  # noqa: N802 - pymesos' name
        self.leader = None
        log.warning("ZooKeeper names no leading master")
        super().onNoMasterDetectedMessage()

    def change_master(self, master: str | None) -> None:
        """Switch to ``master`` (the detector's leader, or a 307's ``Location`` on pymesos' IO
        thread); following ZooKeeper, a redirect to any other master is refused and the
        subscription stays with ZooKeeper's leader, asked again until it knows that it leads."""
        if master is not None:
            target = redirect_target(master, self.leader, self.follows_zookeeper)
            if target is None:
                log.warning("not following master %s: ZooKeeper names %s the leader; subscribing there again",
                            master, self.detected)
                return
            master = target
        if master != self.master:
            self.not_ready_since = None
        super().change_master(master)

    def _get_version(self, master: str | None) -> str | None:
        """pymesos' ``GET /version`` probe of a master, within :attr:`version_probe_timeout` (pymesos
        waits a day: a SIGSTOPped master accepts the connection and never answers)."""
        if master is None:
            return None
        host, port = master.rsplit(":", 1)
        conn = HTTPConnection(host, int(port), timeout=self.version_probe_timeout)
        try:
            conn.request("GET", "/version")
            response = conn.getresponse()
            body = response.read()
            if not 200 <= response.status < 300:
                return None
            version = json.loads(body.decode("utf-8"))["version"]
            return version if isinstance(version, str) else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("master %s did not tell its version (%r); subscribing without it", master, exc)
            return None
        finally:
            conn.close()

    def _get_conn(self) -> HTTPConnection | None:
        """The connection for calls (pymesos', with :attr:`call_timeout` instead of a day)."""
        if not self.connected:
            return None
        conn = cast("HTTPConnection | None", getattr(self, "_conn"))  # noqa: B009 - pymesos' untyped attribute
        if conn is None:
            host, port = self.master.rsplit(":", 1)
            conn = self._conn = HTTPConnection(host, int(port), timeout=self.call_timeout)
        return conn

    def _send(self, body: Any, path: str = "/api/v1/scheduler", method: str = "POST",
              headers: dict[str, str] | None = None) -> Any:
        """One call to the master (pymesos' ``_send``, same answers), made without holding the
        driver's lock: pymesos holds it through the request, so a call to a master that stopped
        answering (SIGSTOP) held it for the whole timeout, and the IO thread and the detector,
        which need it to switch to the newly elected master, waited behind one stuck call after
        another. A switch now closes the connection under a stuck call, which then fails at once."""
        with self._calls:
            with self._lock:
                conn = self._get_conn()
                stream_id = self.stream_id
            if conn is None:
                raise RuntimeError("Not connected yet")
            # pymesos makes its calls with a timeout of a day: one sent to a master that went
            # silent (a partition: the packets are dropped) held the leader loop until the
            # connection was given up, long after the subscription was
            conn.timeout = self.call_timeout
            if conn.sock is not None:
                conn.sock.settimeout(self.call_timeout)
            sent = dict(headers or {})
            data = b""
            if body != "":
                data = json.dumps(body).encode("utf-8")
                sent["Content-Type"] = "application/json"
            if stream_id:
                sent["Mesos-Stream-Id"] = stream_id
            if self._basic_credential:
                sent["Authorization"] = self._basic_credential
            try:
                conn.request(method, path, body=data, headers=sent)
                response = conn.getresponse()
                answer = response.read()
            except Exception:
                with self._lock:
                    if self._conn is conn:
                        self._close()
                raise
            if not 200 <= response.status < 300:
                raise RuntimeError(f"Failed to send request {response.status}: {answer!r}\n{data!r}")
            try:
                return json.loads(answer.decode("utf-8")) if answer else {}
            except ValueError:
                return {}

    @property
    def follows_zookeeper(self) -> bool:
        return self.master_uri.startswith(("zk://", "zoo://"))

    def _backoff(self, num_conn_retry: int) -> float:
        seconds = super()._backoff(num_conn_retry)
        if self.follows_zookeeper:
            seconds = min(seconds, ZK_RETRY_CAP)
        log.warning("master %s unreachable; retrying in %.1f s (attempt %d)", self.master, seconds, num_conn_retry + 1)
        detected = self.detected
        if self.follows_zookeeper and detected and detected != self.master:
            log.warning("following ZooKeeper's leading master %s instead", detected)
            self.change_master(detected)  # taken up by the IO thread's next turn
        return seconds

    def gen_request(self) -> bytes:
        """A new connection's SUBSCRIBE (on pymesos' IO thread), at least
        :data:`~.following.SUBSCRIBE_PACE` after the last one: the clock for an answer starts now."""
        delay = pace_delay(self._last_subscribe, time.monotonic())
        if delay > 0:
            time.sleep(delay)
        self._last_subscribe = self.subscribing_since = self.last_heard = time.monotonic()
        return super().gen_request()

    def on_event(self, event: dict[str, Any]) -> None:
        self.last_heard = time.monotonic()
        if event.get("type") == "SUBSCRIBED":
            self.subscribing_since = self.not_ready_since = None
            interval = event.get("subscribed", {}).get("heartbeat_interval_seconds")
            self.heartbeat_seconds = float(interval) if interval else HEARTBEAT_SECONDS
        super().on_event(event)

    def reconnect(self, settle: float = 5.0) -> None:
        """Drop the connection to the current master and subscribe to it again (unless the detector
        names another master meanwhile): pymesos reconnects only when the master changes."""
        with self._lock:
            master = cast("str | None", getattr(self, "_new_master"))  # noqa: B009 - pymesos' untyped attribute
            if self.follows_zookeeper and self.detected:
                master = self.detected  # not one a redirect named: ZooKeeper's leader
            if master is None or not self._started:
                return
            self._new_master = None
        self._notify()
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:  # the IO thread drops the connection when it wakes
            with self._lock:
                if self._master is None or self._new_master is not None:
                    break
            time.sleep(0.01)
        with self._lock:
            self._close()
            if self._new_master is None:
                self._new_master = master
        self._notify()


class HeartbeatWatch:
    """A thread that reconnects the driver when the master has been silent for
    :data:`MISSED_HEARTBEATS` heartbeat intervals (a SIGSTOPped or cut-off master keeps the TCP
    connection open and says nothing), or left a SUBSCRIBE unanswered for the driver's
    ``subscribe_timeout``."""

    def __init__(self, driver: _SchedulerDriver, missed: int = MISSED_HEARTBEATS, every: float = 1.0):
        self._driver, self._missed, self._every = driver, missed, every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="halyard-heartbeat-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        d = self._driver
        while not self._stopped.wait(self._every):
            now = time.monotonic()
            if d.master is None:
                continue
            if subscribe_overdue(d.subscribing_since, now, d.subscribe_timeout):
                log.warning("no answer from master %s to a SUBSCRIBE in %.0f s: subscribing again", d.master,
                            now - cast(float, d.subscribing_since))
            elif heartbeat_overdue(d.last_heard, d.heartbeat_seconds, now, self._missed):
                log.warning("nothing from master %s for %.0f s (heartbeat every %.0f s): reconnecting", d.master,
                            now - d.last_heard, d.heartbeat_seconds)
            else:
                continue
            d.last_heard = now
            if d.subscribing_since is not None:
                d.subscribing_since = now
            try:
                d.reconnect()
            except Exception:  # noqa: BLE001 - the watch must outlive one failed attempt
                log.exception("reconnecting to the master failed")


class MesosDriver:
    """One subscription to Mesos; ``execute`` carries out engine instructions."""

    def __init__(self, master: str, framework: dict[str, Any], sink: Callable[[Event], None],
                 principal: str | None = None, secret: str | None = None,
                 on_failed_over: Callable[[str], bool] = lambda message: True,
                 on_refused: Callable[[FrameworkRefusedError], None] = lambda error: None):
        master = master.removeprefix("http://").removeprefix("https://").rstrip("/")
        callbacks = _PymesosScheduler(sink, on_failed_over, principal, on_refused)
        self._driver = _SchedulerDriver(callbacks, framework, master, use_addict=False,
                                        implicit_acknowledgements=False, principal=principal, secret=secret,
                                        failover=True)
        self._watch = HeartbeatWatch(self._driver)
        self._sender: CallSender[Instruction] = CallSender(
            [functools.partial(self._send_off_loop, MasterCalls(self._call_target)) for _ in range(LANES)])

    def start(self) -> None:
        self._sender.start()
        self._driver.start()
        self._watch.start()

    def stop(self) -> None:
        """Close the subscription without tearing the framework down: tasks keep running."""
        self._watch.stop()
        self._sender.stop()
        self._driver.stop(failover=True)

    def execute(self, ins: Instruction) -> None:
        """Carry out one call: acknowledgements and kills are queued for the sender thread
        (``sender.py``: in order, the loop does not wait for them); the others are sent now."""
        if isinstance(ins, (Acknowledge, Kill)):
            self._sender.put(ins.task_id, ins)
        else:
            self._execute_now(ins)

    def _call_target(self) -> tuple[str, dict[str, str]] | None:
        """Where the sender's lanes send, with pymesos' stream id and credentials; None when not subscribed."""
        d = self._driver
        stream_id = d.stream_id
        if stream_id is None or not d.framework_id:
            return None
        headers = {"Mesos-Stream-Id": stream_id}
        if d._basic_credential:  # pymesos' own "Basic ..." header value
            headers["Authorization"] = d._basic_credential
        return d.master, headers

    def _send_off_loop(self, lane: MasterCalls, ins: Instruction) -> None:
        """An acknowledgement or a kill, as pymesos would send it, through ``lane``'s connection."""
        framework = {"value": self._driver.framework_id}
        if isinstance(ins, Acknowledge):
            lane.send({"type": "ACKNOWLEDGE", "framework_id": framework, "acknowledge": acknowledgement(ins)})
        elif isinstance(ins, Kill):
            lane.send({"type": "KILL", "framework_id": framework, "kill": {"task_id": {"value": ins.task_id}}})

    def _execute_now(self, ins: Instruction) -> None:
        """Send one call. A call that fails in transport (the subscription being re-established
        on pymesos' IO thread, which shares the HTTP connection) is lost like a call made while
        disconnected, which pymesos drops silently: reconciliation and kill retries cover both."""
        try:
            self._send(ins)
        except Exception as exc:  # noqa: BLE001 - transport failures must not end the leadership
            log.warning("Mesos call %s lost: %r", type(ins).__name__, exc)

    def _send(self, ins: Instruction) -> None:
        d = self._driver
        if isinstance(ins, Launch):
            d.acceptOffers([{"value": i} for i in ins.offer_ids],
                           [{"type": "LAUNCH", "launch": {"task_infos": task_infos(ins)}}],
                           filters={"refuse_seconds": ins.refuse_seconds})
        elif isinstance(ins, Decline):
            d.declineOffer([{"value": i} for i in ins.offer_ids], filters={"refuse_seconds": ins.refuse_seconds})
        elif isinstance(ins, Kill):
            d.killTask({"value": ins.task_id})
        elif isinstance(ins, Acknowledge):
            d.acknowledgeStatusUpdate(acknowledgement(ins))
        elif isinstance(ins, Reconcile):
            d.reconcileTasks([{"task_id": {"value": task_id}, **({"agent_id": {"value": agent_id}} if agent_id else {})}
                              for task_id, agent_id in ins.tasks])
        elif isinstance(ins, Suppress):
            d.suppressOffers()
        elif isinstance(ins, Revive):
            d.reviveOffers()
        elif isinstance(ins, AnswerInverseOffers):
            ids = [{"value": i} for i in ins.offer_ids]
            d.acceptInverseOffers(ids) if ins.accept else d.declineInverseOffer(ids)  # pymesos' name
        else:  # pragma: no cover
            raise TypeError(f"not a Mesos instruction: {ins!r}")
