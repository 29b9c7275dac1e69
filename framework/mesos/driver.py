"""pymesos behind one adapter: callbacks become engine events on a queue; instructions become calls.

pymesos runs every callback on its single IO thread and, if a callback raises, kills that thread
and interrupts the main thread. So callbacks here only convert and enqueue (never raise), and all
decisions happen on the service's own thread. Acknowledgements are explicit
(``implicit_acknowledgements=False``): the engine acknowledges an update only after persisting it.

With ``principal`` and ``secret`` every call carries HTTP basic credentials (Mesos' framework
authentication). A master that refuses them, or whose ACLs refuse the principal, is reported once
through ``on_refused`` (``refusal.py`` tells a refusal from a failure worth retrying); a master that
cannot be reached is retried with pymesos' backoff, and the log says so.
"""
from __future__ import annotations

import getpass
import logging
import signal
import socket
from collections.abc import Callable
from typing import Any

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
from .refusal import refusal_from_error_event

log = logging.getLogger(__name__)


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
        log.info("subscribed as framework %s to master %s", framework_id["value"], master_info)
        self._emit(lambda: Subscribed(framework_id["value"]))

    def reregistered(self, driver, master_info):  # noqa: N802
        log.info("re-subscribed as framework %s to master %s", driver.framework_id, master_info)
        self._emit(lambda: Subscribed(driver.framework_id))

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


class _SchedulerDriver(MesosSchedulerDriver):
    """pymesos' driver, saying in Halyard's log when the master cannot be reached and how long it waits.

    pymesos calls ``_backoff`` exactly when connecting to the master failed, then sleeps that long
    (2 s, doubling, at most 15 s, with jitter) and tries again."""

    def _backoff(self, num_conn_retry: int) -> float:
        seconds = super()._backoff(num_conn_retry)
        log.warning("master %s unreachable; retrying in %.1f s (attempt %d)", self.master, seconds, num_conn_retry + 1)
        return seconds


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

    def start(self) -> None:
        self._driver.start()

    def stop(self) -> None:
        """Close the subscription without tearing the framework down: tasks keep running."""
        self._driver.stop(failover=True)

    def execute(self, ins: Instruction) -> None:
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
