"""The simulated Mesos master: frameworks, agents, offers and tasks, driven by calls and a clock.

No I/O here: calls come in as parsed JSON (``call``, ``subscribe``), time comes in through
``tick(now)``, and events leave through each framework's ``Stream`` (``server.py`` writes them as
RecordIO on the subscription's HTTP response; the unit tests collect them). What is modelled
follows Mesos 1.11's src/master/http.cpp (``scheduler``), master.cpp (``subscribe``, ``accept``,
``kill``, ``acknowledge``, ``reconcile``, ``failoverFramework``) and the hierarchical allocator;
docs/simulator.md lists what is not.
"""
from __future__ import annotations

import base64
import heapq
import itertools
import json
import time
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .cluster import AgentSpec
from .filters import refuse_seconds
from .records import TERMINAL, Agent, Framework, Offer, Task
from .resources import ResourceError, Resources
from .updates import Pending

FAILED_OVER = "Framework failed over"


@dataclass
class SimConfig:
    """How the simulated cluster behaves (``python -m mesos_sim --help`` sets these)."""

    allocation_interval: float = 1.0     # Mesos' --allocation_interval
    heartbeat_interval: float = 15.0     # DEFAULT_HEARTBEAT_INTERVAL
    starting_delay: float = 0.1          # launch (STAGING) -> TASK_STARTING
    running_delay: float = 0.1           # TASK_STARTING -> TASK_RUNNING
    kill_delay: float = 0.05             # KILL -> TASK_KILLED (TASK_KILLING at once, if the framework can)
    retry_min: float = 10.0              # status update retries: STATUS_UPDATE_RETRY_INTERVAL_MIN
    retry_max: float = 600.0             # ... and _MAX
    hostname: str = "127.0.0.1"
    port: int = 5050
    version: str = "1.11.0"


class Stream(Protocol):
    """A subscription's event stream (one HTTP response)."""

    stream_id: str

    def send(self, event: bytes) -> None:
        """One event's JSON (framed and written by the stream)."""

    def close(self, abrupt: bool = False) -> None:
        """End the stream (``abrupt``: drop the connection without the last chunk)."""

    def buffered(self) -> int:
        """Bytes written but not yet taken by the client."""


class CallError(Exception):
    """A call refused with an HTTP status (as the master answers it)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _value(field: Any) -> str:
    """The ``value`` of an id object (``{"value": "..."}``) in a call; "" when missing."""
    return str(field.get("value") or "") if isinstance(field, dict) else ""


def _event(kind: str, body: Any = None) -> dict[str, Any]:
    return {"type": kind} if body is None else {"type": kind, kind.lower(): body}


class Master:
    """The master's state and its answers to calls; events go out through each framework's stream."""

    def __init__(self, config: SimConfig, agents: list[AgentSpec], master_id: str | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.config, self.clock, self.wall = config, clock, wall
        self.id = master_id or str(uuidlib.uuid4())
        self.start_time = wall()
        self.agents = [Agent(a, self.start_time) for a in agents]
        self.agents_by_id = {a.spec.id: a for a in self.agents}
        self.frameworks: dict[str, Framework] = {}
        self.completed: dict[str, Framework] = {}
        self.offers: dict[str, Offer] = {}
        self._transitions: list[tuple[float, int, str, str, str, str | None]] = []   # (due, seq, fw, task, new, expect)
        self._seq = itertools.count()
        self._uuid_prefix = uuidlib.uuid4().bytes[:8]
        self._allocate_at = 0.0
        self._round = 0
        self.reset_stats()

    # --- stats --------------------------------------------------------------------------------

    def reset_stats(self) -> None:
        self.calls: Counter = Counter()
        self.call_bytes: Counter = Counter()
        self.events: Counter = Counter()
        self.event_bytes: Counter = Counter()
        self.counts: Counter = Counter()         # launched, task_errors, kills, reconcile_*, stale_acks, ...
        self.accept_latencies: list[float] = []  # seconds from an offer's event to the ACCEPT that launched on it
        self.max_buffered = 0

    def stats(self) -> dict[str, Any]:
        lat = sorted(self.accept_latencies)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else None

        states: Counter = Counter()
        for fw in self.frameworks.values():
            states.update(t.state for t in fw.tasks.values())
            if fw.unreachable:
                states["TASK_UNREACHABLE"] += len(fw.unreachable)
        return {"calls": dict(self.calls), "call_bytes": dict(self.call_bytes), "events": dict(self.events),
                "event_bytes": dict(self.event_bytes), "counts": dict(self.counts), "tasks": dict(states),
                "accept_latency_ms": {"p50": pct(0.5), "p99": pct(0.99), "count": len(lat)},
                "offers_outstanding": len(self.offers), "max_stream_buffer": self.max_buffered,
                "pending_updates": sum(len(fw.updates) for fw in self.frameworks.values()),
                "update_retries": sum(fw.updates.retries for fw in self.frameworks.values()),
                "frameworks": [{"id": fw.id, "name": fw.info.get("name"), "connected": fw.connected,
                                "suppressed": fw.filters.suppressed, "tasks": len(fw.tasks),
                                "filters": fw.filters.count(self.clock())} for fw in self.frameworks.values()],
                "agents": len(self.agents), "agents_reachable": sum(a.reachable for a in self.agents)}

    # --- sending ------------------------------------------------------------------------------

    def _send(self, fw: Framework, event: dict[str, Any]) -> None:
        if fw.stream is None:
            return   # Mesos drops the events of a disconnected framework
        data = json.dumps(event, separators=(",", ":")).encode()
        kind = event["type"]
        self.events[kind] += 1
        self.event_bytes[kind] += len(data)
        fw.stream.send(data)

    def _new_uuid(self) -> str:
        return base64.b64encode(self._uuid_prefix + next(self._seq).to_bytes(8, "big")).decode()

    def _status(self, task: Task, state: str, source: str, reason: str | None = None, message: str | None = None,
                uuid: str | None = None, **extra: Any) -> dict[str, Any]:
        status: dict[str, Any] = {"task_id": {"value": task.id}, "state": state, "source": source,
                                  "agent_id": {"value": task.agent.spec.id}, "timestamp": self.wall()}
        if source == "SOURCE_EXECUTOR":
            status["executor_id"] = {"value": task.id}
            status["container_status"] = {"network_infos": [{"ip_addresses": [{"protocol": "IPv4",
                                                                                "ip_address": task.ip}]}]}
        if reason:
            status["reason"] = reason
        if message:
            status["message"] = message
        if uuid:
            status["uuid"] = uuid
        status.update(extra)
        return status

    def _unreliable(self, fw: Framework, status: dict[str, Any]) -> None:
        """A status update the master makes up (no uuid: not retried, not to be acknowledged)."""
        self.counts["master_updates"] += 1
        self._send(fw, _event("UPDATE", {"status": status}))

    def _agent_update(self, fw: Framework, task: Task, state: str, reason: str | None = None,
                      message: str | None = None) -> None:
        """A task's new state, reported reliably by its agent (retried until acknowledged)."""
        if task.state in TERMINAL:
            return
        now = self.clock()
        task.state = state
        task.statuses.append((state, self.wall()))
        if state in TERMINAL:
            self._release(task)
        source = "SOURCE_AGENT" if state == "TASK_KILLED" and reason == "REASON_TASK_KILLED_DURING_LAUNCH" \
            else "SOURCE_EXECUTOR"
        uuid = self._new_uuid()
        pending = Pending(task.id, uuid, state, self._status(task, state, source, reason, message, uuid),
                          terminal=state in TERMINAL)
        if fw.updates.add(pending, now) is not None:
            self._send(fw, _event("UPDATE", {"status": pending.status}))

    def _release(self, task: Task) -> None:
        agent = task.agent
        agent.used = agent.used - task.resources
        agent.free = agent.free + task.resources
        agent.tasks.discard((task.framework_id, task.id))

    # --- subscription -------------------------------------------------------------------------

    def subscribe(self, call: dict[str, Any], stream: Stream) -> Framework | None:
        """A SUBSCRIBE on ``stream`` (whose HTTP headers are out): SUBSCRIBED, or ERROR and the end."""
        now = self.clock()
        self.calls["SUBSCRIBE"] += 1
        sub = call.get("subscribe")
        info = sub.get("framework_info") if isinstance(sub, dict) else None
        problem = None
        if not isinstance(info, dict) or not info.get("name") or "user" not in info:
            problem = "Failed to validate scheduler::Call: Expecting 'subscribe.framework_info' with 'user' and 'name'"
        fid = (info or {}).get("id", {}).get("value") if isinstance((info or {}).get("id"), dict) else None
        call_fid = (call.get("framework_id") or {}).get("value") if isinstance(call.get("framework_id"), dict) else None
        if problem is None and call_fid is not None and call_fid != fid:
            problem = "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'"
        if problem is None and fid in self.completed:
            problem = f"Framework {fid} has been removed"
        if problem is not None:
            self.events["ERROR"] += 1
            stream.send(json.dumps(_event("ERROR", {"message": problem})).encode())
            stream.close()
            return None
        assert isinstance(info, dict)
        if fid is None:
            fid = f"{self.id}-{len(self.frameworks) + len(self.completed):04d}"
            fw = self.frameworks[fid] = Framework(fid, info, self.config.retry_min, self.config.retry_max)
            self.counts["frameworks_added"] += 1
        elif fid in self.frameworks:
            fw = self.frameworks[fid]
            if fw.stream is not None:   # Master::failoverFramework: the old connection is told, then closed
                old, fw.stream = fw.stream, None
                self.events["ERROR"] += 1
                old.send(json.dumps(_event("ERROR", {"message": FAILED_OVER})).encode())
                old.close()
            self._recover_offers(fw, rescind=False)
            fw.update_info(info)
            self.counts["failovers"] += 1
        else:   # unknown to this master (as after a master failover): recovered with that id
            fw = self.frameworks[fid] = Framework(fid, info, self.config.retry_min, self.config.retry_max)
            self.counts["frameworks_recovered"] += 1
        fw.stream = stream
        fw.failover_deadline = None
        suppressed = set(sub.get("suppressed_roles") or []) if isinstance(sub, dict) else set()   # a (re)subscription sets the suppressed roles
        if fw.role in suppressed:
            fw.filters.suppress()
        else:
            fw.filters.suppressed = False
        self._send(fw, _event("SUBSCRIBED", {
            "framework_id": {"value": fid}, "heartbeat_interval_seconds": self.config.heartbeat_interval,
            "master_info": self.master_info()}))
        fw.next_heartbeat = now + self.config.heartbeat_interval
        for pending in fw.updates.resend_all(now):   # the agents resend what is unacknowledged at once
            self._send(fw, _event("UPDATE", {"status": pending.status}))
        self._allocate_at = now   # the allocator offers to an (re)activated framework at once
        return fw

    def stream_closed(self, stream: Stream) -> None:
        """The subscription's connection ended: the framework is disconnected (its failover timeout runs)."""
        for fw in self.frameworks.values():
            if fw.stream is stream:
                fw.stream = None
                self._recover_offers(fw, rescind=False)
                fw.failover_deadline = self.clock() + fw.failover_timeout
                self.counts["disconnects"] += 1

    def master_info(self) -> dict[str, Any]:
        return {"id": self.id, "ip": 16777343, "port": self.config.port, "hostname": self.config.hostname,
                "pid": f"master@{self.config.hostname}:{self.config.port}", "version": self.config.version,
                "address": {"hostname": self.config.hostname, "ip": self.config.hostname, "port": self.config.port}}

    # --- calls --------------------------------------------------------------------------------

    def call(self, body: bytes, stream_id: str | None) -> tuple[int, bytes]:
        """A non-SUBSCRIBE call: (HTTP status, body), as src/master/http.cpp answers."""
        try:
            call = json.loads(body)
        except ValueError as exc:
            return 400, f"Failed to parse body into JSON: {exc}".encode()
        if not isinstance(call, dict) or not isinstance(call.get("type"), str):
            return 400, b"Failed to convert JSON into Call protobuf: missing 'type'"
        kind = call["type"]
        self.calls[kind] += 1
        self.call_bytes[kind] += len(body)
        try:
            if kind == "SUBSCRIBE":
                raise CallError(400, "SUBSCRIBE is answered on its own connection")
            fid = call.get("framework_id", {}).get("value") if isinstance(call.get("framework_id"), dict) else None
            if not fid:
                raise CallError(400, "Failed to validate scheduler::Call: Expecting 'framework_id' to be present")
            fw = self.frameworks.get(fid)
            if fw is None:
                raise CallError(400, "Framework cannot be found")
            if fw.stream is None:
                raise CallError(403, "Framework is not subscribed")
            if stream_id is None:
                raise CallError(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
            if stream_id != fw.stream.stream_id:
                raise CallError(400, f"The stream ID '{stream_id}' included in this request didn't match the stream "
                                     f"ID currently associated with framework ID {fid}")
            handler = self._handlers.get(kind)
            if handler is None:
                raise CallError(400, f"Failed to convert JSON into Call protobuf: unknown call type {kind!r}")
            field = kind.lower()
            if field in _NEEDS_BODY and not isinstance(call.get(field), dict):
                raise CallError(400, f"Failed to validate scheduler::Call: Expecting '{field}' to be present")
            return handler(self, fw, call.get(field) or {})
        except CallError as exc:
            self.counts["refused_calls"] += 1
            return exc.status, str(exc).encode()

    def _accept(self, fw: Framework, accept: dict) -> tuple[int, bytes]:
        now = self.clock()
        ids = [_value(o) for o in accept.get("offer_ids") or []]
        operations = accept.get("operations") or []
        offers = [self.offers.get(i) for i in ids]
        problem = None
        if not ids:
            problem = "No offers specified"
        elif len(set(ids)) != len(ids):
            problem = "Duplicate offer ids"
        elif any(o is None or o.framework_id != fw.id for o in offers):
            problem = "Offer is no longer valid"
        elif len({o.agent.spec.id for o in offers}) > 1:   # type: ignore[union-attr]
            problem = "Aggregated offers must belong to one single agent"
        if problem is not None:
            for o in offers:
                if o is not None and o.framework_id == fw.id:
                    self._remove_offer(o, refuse=0.0)
            state = "TASK_DROPPED" if fw.partition_aware else "TASK_LOST"
            for info in _launched_infos(operations):
                tid = (info.get("task_id") or {}).get("value", "")
                self.counts["invalid_offer_tasks"] += 1
                self._unreliable(fw, {"task_id": {"value": tid}, "state": state, "source": "SOURCE_MASTER",
                                      "reason": "REASON_INVALID_OFFERS", "timestamp": self.wall(),
                                      "message": f"Task launched with invalid offers: {problem}"})
            return 202, b""
        agent = offers[0].agent   # type: ignore[union-attr]
        pool = Resources()
        for o in offers:
            pool = pool + o.resources   # type: ignore[union-attr]
            self._forget_offer(o)       # type: ignore[arg-type]
        agent.offered = agent.offered - pool
        launched = 0
        for op in operations:
            kind = op.get("type") if isinstance(op, dict) else None
            if kind in ("LAUNCH", "LAUNCH_GROUP"):
                for info in _launched_infos([op]):
                    pool, ok = self._launch(fw, agent, info, pool, now)
                    launched += ok
            else:
                self.counts["dropped_operations"] += 1   # reservations, volumes...: not modelled
        if launched:
            self.accept_latencies.append(now - min(o.sent_at for o in offers))   # type: ignore[union-attr]
        agent.free = agent.free + pool
        fw.filters.refuse(agent.spec.id, pool, refuse_seconds(accept.get("filters")), now)
        return 202, b""

    def _launch(self, fw: Framework, agent: Agent, info: dict, pool: Resources, now: float) -> tuple[Resources, int]:
        tid = (info.get("task_id") or {}).get("value") if isinstance(info.get("task_id"), dict) else None
        problem = None
        res = Resources()
        if not tid:
            problem = "Task has no task_id"
        elif tid in fw.tasks or tid in fw.unreachable:
            problem = f"Task has duplicate ID: {tid}"
        elif (info.get("agent_id") or {}).get("value") != agent.spec.id:
            problem = f"Task uses agent {(info.get('agent_id') or {}).get('value')} instead of the offer's"
        elif GROUP_EXECUTOR not in info and ("command" in info) == ("executor" in info):
            problem = "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
        else:
            try:
                res = Resources.from_json(info.get("resources") or [])
                if "executor" in info and isinstance(info["executor"], dict):
                    res = res + Resources.from_json(info["executor"].get("resources") or [])
                if info.get(GROUP_EXECUTOR):
                    res = res + Resources.from_json(info[GROUP_EXECUTOR])
            except ResourceError as exc:
                problem = f"Task uses invalid resources: {exc}"
            else:
                if not pool.contains(res):
                    problem = f"Task uses more resources {res} than available {pool}"
        if problem is not None:
            self.counts["task_errors"] += 1
            self._unreliable(fw, {"task_id": {"value": tid or ""}, "state": "TASK_ERROR",
                                  "source": "SOURCE_MASTER", "reason": "REASON_TASK_INVALID",
                                  "agent_id": {"value": agent.spec.id}, "message": problem,
                                  "timestamp": self.wall()})
            return pool, 0
        assert tid is not None
        task = Task(tid, fw.id, agent, res, info, fw.role)
        task.statuses.append(("TASK_STAGING", self.wall()))
        fw.tasks[tid] = task
        agent.used = agent.used + res
        agent.tasks.add((fw.id, tid))
        self.counts["launched"] += 1
        self._later(now + self.config.starting_delay, fw.id, tid, "TASK_STARTING", "TASK_STAGING")
        return pool - res, 1

    def _decline(self, fw: Framework, decline: dict) -> tuple[int, bytes]:
        seconds = refuse_seconds(decline.get("filters"))
        for o in decline.get("offer_ids") or []:
            offer = self.offers.get(_value(o))
            if offer is not None and offer.framework_id == fw.id:
                self._remove_offer(offer, refuse=seconds)
        return 202, b""

    def _kill(self, fw: Framework, kill: dict) -> tuple[int, bytes]:
        tid = _value(kill.get("task_id"))
        self.counts["kills"] += 1
        task = fw.tasks.get(tid)
        if task is None:   # Master::kill: unknown task -> reconcile it
            self._reconcile(fw, {"tasks": [{"task_id": {"value": tid}, **({"agent_id": kill["agent_id"]}
                                                                           if "agent_id" in kill else {})}]},
                            count=False)
            return 202, b""
        if task.state in TERMINAL or task.state == "TASK_KILLING":
            return 202, b""
        if task.state == "TASK_STAGING":
            self._agent_update(fw, task, "TASK_KILLED", "REASON_TASK_KILLED_DURING_LAUNCH")
            return 202, b""
        if fw.killing_capable:
            self._agent_update(fw, task, "TASK_KILLING")
        self._later(self.clock() + self.config.kill_delay, fw.id, tid, "TASK_KILLED", None)
        return 202, b""

    def _acknowledge(self, fw: Framework, ack: dict) -> tuple[int, bytes]:
        uuid = ack.get("uuid")
        try:
            if not isinstance(uuid, str) or len(base64.b64decode(uuid, validate=True)) != 16:
                raise ValueError
        except ValueError:
            raise CallError(400, "Failed to validate scheduler::Call: 'uuid' is not a valid UUID") from None
        tid = _value(ack.get("task_id"))
        aid = _value(ack.get("agent_id"))
        agent = self.agents_by_id.get(aid)
        if agent is None or not agent.reachable:
            self.counts["stale_acks"] += 1   # "agent is not registered": dropped
            return 202, b""
        now = self.clock()
        done, nxt = fw.updates.ack(tid, uuid, now)
        if done is None:
            self.counts["stale_acks"] += 1
            return 202, b""
        self.counts["acks"] += 1
        if done.terminal:
            fw.tasks.pop(tid, None)
            self.counts["completed"] += 1
        if nxt is not None:
            self._send(fw, _event("UPDATE", {"status": nxt.status}))
        return 202, b""

    def _reconcile(self, fw: Framework, reconcile: dict, count: bool = True) -> tuple[int, bytes]:
        asked = reconcile.get("tasks") or []
        if count and asked:
            self.counts["reconcile_explicit_calls"] += 1
            self.counts["reconcile_explicit_tasks"] += len(asked)
        elif count:
            self.counts["reconcile_implicit"] += 1
        if not asked:
            for task in fw.tasks.values():
                self._reconcile_answer(fw, task)
            return 202, b""
        for entry in asked:
            tid = _value(entry.get("task_id")) if isinstance(entry, dict) else ""
            known = fw.tasks.get(tid)
            if known is not None:
                self._reconcile_answer(fw, known)
                continue
            aid = _value(entry.get("agent_id")) if isinstance(entry, dict) else ""
            agent = self.agents_by_id.get(aid) if aid else None
            if agent is not None and agent.reachable:
                state, message = "TASK_GONE", "Reconciliation: Task is unknown to the agent"
            elif agent is not None:
                state, message = "TASK_UNREACHABLE", "Reconciliation: Task is unreachable"
            else:
                state, message = "TASK_UNKNOWN", "Reconciliation: Task is unknown"
            if not fw.partition_aware:
                state = "TASK_LOST"
            status: dict[str, Any] = {"task_id": {"value": tid or ""}, "state": state, "source": "SOURCE_MASTER",
                                      "reason": "REASON_RECONCILIATION", "message": message, "timestamp": self.wall()}
            if aid:
                status["agent_id"] = {"value": aid}
            self.counts["reconcile_answers"] += 1
            self._unreliable(fw, status)
        return 202, b""

    def _reconcile_answer(self, fw: Framework, task: Task) -> None:
        head = fw.updates.head(task.id)   # the state being delivered (status_update_state), else the latest
        self.counts["reconcile_answers"] += 1
        self._unreliable(fw, self._status(task, head.state if head else task.state, "SOURCE_MASTER",
                                          "REASON_RECONCILIATION", "Reconciliation: Latest task state"))

    def _suppress(self, fw: Framework, body: dict) -> tuple[int, bytes]:
        roles = body.get("roles") or []
        if not roles or fw.role in roles:
            fw.filters.suppress()
        return 202, b""

    def _revive(self, fw: Framework, body: dict) -> tuple[int, bytes]:
        roles = body.get("roles") or []
        if not roles or fw.role in roles:
            fw.filters.revive()
            self._allocate_at = self.clock()   # the allocator runs at once on a revive
        return 202, b""

    def _teardown(self, fw: Framework, body: dict) -> tuple[int, bytes]:
        self.remove_framework(fw)
        return 202, b""

    def _update_framework(self, fw: Framework, body: dict) -> tuple[int, bytes]:
        info = body.get("framework_info")
        if isinstance(info, dict):
            fw.update_info(info)
        if fw.role in set(body.get("suppressed_roles") or []):
            fw.filters.suppress()
        return 200, b""

    def _noop(self, fw: Framework, body: dict) -> tuple[int, bytes]:
        return 202, b""   # MESSAGE, SHUTDOWN, REQUEST, inverse offers: accepted, nothing modelled

    _handlers: dict[str, Callable[[Master, Framework, dict], tuple[int, bytes]]] = {
        "ACCEPT": _accept, "DECLINE": _decline, "KILL": _kill, "ACKNOWLEDGE": _acknowledge,
        "RECONCILE": _reconcile, "SUPPRESS": _suppress, "REVIVE": _revive, "TEARDOWN": _teardown,
        "UPDATE_FRAMEWORK": _update_framework, "MESSAGE": _noop, "SHUTDOWN": _noop, "REQUEST": _noop,
        "ACCEPT_INVERSE_OFFERS": _noop, "DECLINE_INVERSE_OFFERS": _noop,
        "ACKNOWLEDGE_OPERATION_STATUS": _noop, "RECONCILE_OPERATIONS": lambda m, f, b: (200, b"{}"),
    }

    # --- offers -------------------------------------------------------------------------------

    def _forget_offer(self, offer: Offer) -> None:
        self.offers.pop(offer.id, None)
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None:
            fw.offers.pop(offer.id, None)

    def _remove_offer(self, offer: Offer, refuse: float) -> None:
        """The offer's resources go back to the agent (refused for ``refuse`` seconds)."""
        self._forget_offer(offer)
        agent = offer.agent
        agent.offered = agent.offered - offer.resources
        agent.free = agent.free + offer.resources
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None:
            fw.filters.refuse(agent.spec.id, offer.resources, refuse, self.clock())

    def _recover_offers(self, fw: Framework, rescind: bool) -> None:
        for offer in list(fw.offers.values()):
            if rescind:
                self._send(fw, _event("RESCIND", {"offer_id": {"value": offer.id}}))
            self._remove_offer(offer, refuse=0.0)

    def allocate(self, now: float) -> int:
        """One allocation round: every reachable agent's unoffered resources, as one offer per agent,
        to a framework that is connected, not suppressed and not filtered; one OFFERS event each.
        Frameworks take turns being first. O(agents x frameworks)."""
        fws = [fw for fw in self.frameworks.values() if fw.stream is not None and not fw.filters.suppressed]
        if not fws:
            return 0
        self._round += 1
        k = self._round % len(fws)
        fws = fws[k:] + fws[:k]
        made = 0
        for fw in fws:
            batch = []
            role = fw.role
            fid = {"value": fw.id}
            alloc = {"role": role}
            for agent in self.agents:
                avail = agent.free
                if not agent.reachable or not avail.allocatable() or fw.filters.filtered(agent.spec.id, avail, now):
                    continue
                oid = f"{self.id}-O{next(self._seq)}"
                offer = Offer(oid, fw.id, agent, avail, now)
                self.offers[oid] = fw.offers[oid] = offer
                agent.free = Resources()
                agent.offered = agent.offered + avail
                batch.append({"id": {"value": oid}, "framework_id": fid, **agent.offer_static,
                              "resources": avail.to_json(role), "allocation_info": alloc})
            if batch:
                made += len(batch)
                self.counts["offers"] += len(batch)
                self._send(fw, _event("OFFERS", {"offers": batch}))
        return made

    # --- time ---------------------------------------------------------------------------------

    def _later(self, due: float, fid: str, tid: str, state: str, expect: str | None) -> None:
        heapq.heappush(self._transitions, (due, next(self._seq), fid, tid, state, expect))

    def tick(self, now: float) -> float:
        """Everything due by ``now``: task transitions, update retries, heartbeats, failover
        timeouts, the allocation round. Returns when something is next due."""
        trans = self._transitions
        while trans and trans[0][0] <= now:
            _, _, fid, tid, state, expect = heapq.heappop(trans)
            fw = self.frameworks.get(fid)
            task = fw.tasks.get(tid) if fw else None
            if task is None or task.state in TERMINAL or (expect is not None and task.state != expect):
                continue
            self._agent_update(fw, task, state)   # type: ignore[arg-type]
            if state == "TASK_STARTING":
                self._later(now + self.config.running_delay, fid, tid, "TASK_RUNNING", "TASK_STARTING")
        for fw in list(self.frameworks.values()):
            for pending in fw.updates.due(now):
                self._send(fw, _event("UPDATE", {"status": pending.status}))
            if fw.stream is not None:
                if now >= fw.next_heartbeat:
                    self._send(fw, _event("HEARTBEAT"))
                    fw.next_heartbeat = now + self.config.heartbeat_interval
                self.max_buffered = max(self.max_buffered, fw.stream.buffered())
            elif fw.failover_deadline is not None and now >= fw.failover_deadline:
                self.remove_framework(fw)
        if now >= self._allocate_at:
            self.allocate(now)
            self._allocate_at = now + self.config.allocation_interval
        dues = [self._allocate_at] + ([trans[0][0]] if trans else [])
        dues += [d for fw in self.frameworks.values() for d in (fw.updates.next_due(),
                                                                 fw.next_heartbeat if fw.stream else None) if d]
        return min(dues)

    # --- frameworks and faults ----------------------------------------------------------------

    def remove_framework(self, fw: Framework) -> None:
        """TEARDOWN, /master/teardown or an expired failover timeout: its tasks are killed, its offers
        taken back, its stream closed; its id can never subscribe again."""
        self._recover_offers(fw, rescind=False)
        for task in list(fw.tasks.values()):
            if task.state not in TERMINAL:
                self._release(task)
        fw.tasks.clear()
        fw.unreachable.clear()
        if fw.stream is not None:
            stream, fw.stream = fw.stream, None
            stream.close()
        self.frameworks.pop(fw.id, None)
        self.completed[fw.id] = fw
        self.counts["frameworks_removed"] += 1

    def fail_tasks(self, count: int = 1, task_ids: list[str] | None = None) -> list[str]:
        """Fault: running tasks fail (TASK_FAILED from their executor)."""
        failed: list[str] = []
        for fw in list(self.frameworks.values()):
            for task in list(fw.tasks.values()):
                if len(failed) >= (len(task_ids) if task_ids else count):
                    return failed
                if (task_ids and task.id in task_ids) or (not task_ids and task.state == "TASK_RUNNING"):
                    self._agent_update(fw, task, "TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED",
                                       "simulated failure")
                    failed.append(task.id)
        return failed

    def lose_agent(self, agent_id: str) -> int:
        """Fault: the agent stops answering pings and is marked unreachable: its offers are
        rescinded, its tasks become TASK_UNREACHABLE (TASK_LOST for frameworks that are not
        PARTITION_AWARE), and every framework gets a FAILURE event. Returns the tasks affected."""
        agent = self.agents_by_id[agent_id]
        if not agent.reachable:
            return 0
        agent.reachable = False
        affected = 0
        for offer in [o for o in self.offers.values() if o.agent is agent]:
            fw = self.frameworks.get(offer.framework_id)
            if fw is not None:
                self._send(fw, _event("RESCIND", {"offer_id": {"value": offer.id}}))
            self._remove_offer(offer, refuse=0.0)
        for fid, tid in list(agent.tasks):
            fw = self.frameworks.get(fid)
            task = fw.tasks.pop(tid, None) if fw else None
            if fw is None or task is None:
                continue
            fw.updates.drop(tid)
            fw.unreachable[tid] = task
            affected += 1
            self._unreliable(fw, self._status(task, "TASK_UNREACHABLE" if fw.partition_aware else "TASK_LOST",
                                              "SOURCE_MASTER", "REASON_AGENT_REMOVED",
                                              f"Agent {agent.spec.hostname} is unreachable",
                                              unreachable_time={"nanoseconds": int(self.wall() * 1e9)}))
        for fw in self.frameworks.values():
            self._send(fw, _event("FAILURE", {"agent_id": {"value": agent_id}}))
        self.counts["agents_lost"] += 1
        return affected

    def restore_agent(self, agent_id: str) -> int:
        """The lost agent comes back with its tasks still running (a healed partition); frameworks
        learn of them by reconciling. Returns the tasks back."""
        agent = self.agents_by_id[agent_id]
        if agent.reachable:
            return 0
        agent.reachable = True
        back = 0
        for fid, tid in list(agent.tasks):
            fw = self.frameworks.get(fid)
            task = fw.unreachable.pop(tid, None) if fw else None
            if task is not None:
                fw.tasks[tid] = task   # type: ignore[union-attr]
                back += 1
        self._allocate_at = self.clock()
        return back

    def drop_streams(self, framework_id: str | None = None) -> int:
        """Fault: the subscription connections break (the framework must subscribe again)."""
        dropped = 0
        for fw in list(self.frameworks.values()):
            if fw.stream is not None and framework_id in (None, fw.id):
                stream = fw.stream
                self.stream_closed(stream)
                stream.close(abrupt=True)
                dropped += 1
        return dropped

    def message(self, framework_id: str, agent_id: str, executor_id: str, data: bytes) -> None:
        """An executor's MESSAGE to its framework."""
        fw = self.frameworks[framework_id]
        self._send(fw, _event("MESSAGE", {"agent_id": {"value": agent_id}, "executor_id": {"value": executor_id},
                                          "data": base64.b64encode(data).decode()}))

    def error(self, framework_id: str, message: str) -> None:
        """An asynchronous ERROR event (as for a refused authorization)."""
        self._send(self.frameworks[framework_id], _event("ERROR", {"message": message}))



GROUP_EXECUTOR = "__group_executor_resources"   # a LAUNCH_GROUP task's share of the executor
_NEEDS_BODY = {"accept", "decline", "kill", "acknowledge", "reconcile", "message", "shutdown"}


def _launched_infos(operations: list) -> list[dict]:
    """The TaskInfos of the LAUNCH and LAUNCH_GROUP operations. A group's tasks are marked
    (``GROUP_EXECUTOR``: the executor's resources, counted with the group's first task)."""
    out: list[dict] = []
    for op in operations:
        if not isinstance(op, dict):
            continue
        if op.get("type") == "LAUNCH":
            out.extend(i for i in (op.get("launch") or {}).get("task_infos") or [] if isinstance(i, dict))
        elif op.get("type") == "LAUNCH_GROUP":
            group = op.get("launch_group") or {}
            executor = group.get("executor") or {}
            for n, info in enumerate((group.get("task_group") or {}).get("tasks") or []):
                if isinstance(info, dict):
                    out.append({**info, GROUP_EXECUTOR: executor.get("resources") or [] if n == 0 else []})
    return out
