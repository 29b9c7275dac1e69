"""Agent drains: taking an agent out of service without an outage. Pure.

A drain (``halyard agents drain HOST``, :class:`~.messages.DrainAgent`), in order:

1. the agent is *leaving*: Halyard places nothing new there (its offers are declined, and the
   master deactivates it: ``DEACTIVATE_AGENT``, so no framework gets offers from it);
2. each app with tasks there gets a ``drain`` deployment (visible in ``/v2/deployments``; a
   conflict with a deployment under way, 409 unless forced, as any other). Its tasks on a leaving
   agent are replaced as a rolling restart replaces old tasks (``converge``'s ``leaving``): a new
   instance is placed elsewhere and counts (healthy, ready) before one there is killed, and
   ``minimumHealthCapacity`` is held (a disruption budget). With no room elsewhere the new
   instances wait, with the placement's reasons, and nothing is killed;
3. jobs' tasks there may finish until the deadline;
4. then the agent is drained at the master (``DRAIN_AGENT``), so that other frameworks' tasks leave
   too; the drain is *drained* once the master says DRAINED.

``force``: deployments under way are superseded, the last agent that could hold an app may be
drained, and once the deadline has passed the agent is drained at the master whatever is left
(the tasks it kills are replaced elsewhere). :class:`~.messages.ReactivateAgent` ends a drain (or
an operator's deactivation): the master reactivates the agent and it takes tasks again.

Drains are persisted (a :class:`~.app_records.DrainRecord` per agent, written with their
``drain`` deployments and at each change of phase): a new leader loads them and carries on where
the old one was (still moving tasks off, waiting for the master's DRAINED, or drained) until the
agent is reactivated.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..cluster.agents import UNRESERVED, AgentInfo
from ..cluster.mesos_types import AgentSeen
from ..errors import ConflictError, UnknownAgentError
from ..placement import PlacementRequest
from .app_records import DrainRecord
from .messages import DrainAgent, Instruction, ListAgents, OperatorAnswered, OperatorCall, Persist, ReactivateAgent

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine

MOVING, AT_MASTER, DRAINED = "moving", "master", "drained"
LIST_EVERY = 2.0      # seconds between reads of the master's agents while a drain waits for DRAINED
RETRY_AFTER = 10.0    # seconds before a refused DRAIN_AGENT is sent again


@dataclass
class Drain:
    """One agent's drain: where it is (``phase``: moving, master, drained), its deadline, and the
    ``drain`` deployment of each app that had tasks there (with how many)."""

    agent_id: str
    hostname: str
    started_at: float
    deadline_at: float
    force: bool
    deployments: dict[str, str] = field(default_factory=dict)   # app id -> its drain deployment's id
    initial: dict[str, int] = field(default_factory=dict)       # app id -> its tasks there at the start
    phase: str = MOVING
    note: str | None = None       # what the master last answered, when it refused
    retry_at: float = 0.0
    listed_at: float = 0.0

    @property
    def state(self) -> str:
        """``draining`` or ``drained`` (``halyard agents``' words)."""
        return "drained" if self.phase == DRAINED else "draining"

    def record(self) -> DrainRecord:
        """What is persisted of it (the master's last answer and the retry times are not)."""
        return DrainRecord(self.agent_id, self.hostname, self.started_at, self.deadline_at, self.force,
                           tuple(sorted(self.deployments.items())), tuple(sorted(self.initial.items())), self.phase)

    @classmethod
    def of(cls, record: DrainRecord) -> Drain:
        """A drain as a leader before this one persisted it."""
        return cls(record.agent_id, record.hostname, record.started_at, record.deadline_at, record.force,
                   dict(record.deployments), dict(record.initial), record.phase)


@dataclass(frozen=True)
class AppDrain:
    """One app's part of a drain: its tasks still on the agent, and ``status``: ``moving``,
    ``waiting`` (with the placement's ``reasons``) or ``done``."""

    app_id: str
    deployment_id: str
    initial: int
    left: int
    status: str
    reasons: tuple[str, ...] = ()


class DrainBook:
    """The drains under way or done (until reactivated), by agent id."""

    def __init__(self) -> None:
        self.drains: dict[str, Drain] = {}

    def leaving(self) -> frozenset[str]:
        """The agents Halyard places nothing on and moves its apps' tasks off."""
        return frozenset(self.drains)

    def load(self, records: Iterable[DrainRecord]) -> None:
        """The drains a leader before this one persisted (a new leader continues them)."""
        self.drains = {r.agent_id: Drain.of(r) for r in records}

    def forget(self, app_id: str, persist: Persist) -> None:
        """An app is gone: no drain waits for it."""
        for drain in self.drains.values():
            if drain.deployments.pop(app_id, None) is not None:
                persist.drains.append(drain.record())


class DrainCommands:
    """The drain and reactivate commands, the drains' progress (each tick) and the master's answers."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @property
    def book(self) -> DrainBook:
        return self.engine.drains

    # --- commands -------------------------------------------------------------------------------

    def resolve(self, name: str) -> AgentSeen:
        """The registered agent of a hostname or id; UnknownAgentError naming the known hosts."""
        e = self.engine
        member = e.membership.find(name)
        if member is not None and member.gone_at is None:
            return member.agent
        known = {a.agent_id: a for a in e.agents.known()}
        found = known.get(name) or next((a for a in known.values() if a.hostname == name), None)
        if found is not None:
            return found
        hosts = sorted(set(e.membership.hosts()) | {a.hostname for a in known.values()})
        raise UnknownAgentError(f"no agent '{name}' (known hosts: {', '.join(hosts) or 'none'})", tuple(hosts))

    def drain(self, event: DrainAgent) -> list[Instruction]:
        """Start a drain; every app is checked first (a deployment under way, the last agent that
        could hold it), so a refused drain changes nothing. Draining a draining agent again
        changes nothing."""
        e = self.engine
        agent = self.resolve(event.agent)
        if agent.agent_id in self.book.drains:
            return []
        now = e.clock()
        tasks = [t for t in e.index.on_agent(agent.agent_id) if t.live and not t.killing]
        counts: dict[str, int] = {}
        for t in tasks:
            if t.app_id in e.apps and not e.apps[t.app_id].deleting:
                counts[t.app_id] = counts.get(t.app_id, 0) + 1
        for app_id in sorted(counts):
            e.deployment_book.check_free(app_id, event.force)
        if not event.force:
            for app_id in sorted(counts):
                if not self.homes(app_id, agent.agent_id):
                    raise ConflictError(f"{agent.hostname} is the last agent that could hold {app_id}: draining it "
                                        f"would leave the app nowhere to run (--force drains it anyway)")
        persist = Persist()
        drain = Drain(agent.agent_id, agent.hostname, now, now + event.deadline, event.force, initial=counts)
        for app_id in sorted(counts):
            spec = e.apps[app_id].spec.to_json()
            record = e.deployment_book.start(app_id, "drain", spec, None, event.force, persist, target=spec)
            drain.deployments[app_id] = record.id
            e.index.dirty.add(app_id)
        self.book.drains[agent.agent_id] = drain
        persist.drains.append(drain.record())
        if agent.agent_id in e.maintenance.windows:
            # The master sends a deactivated agent's machine no inverse offers: in a maintenance
            # window, Halyard's own declines (and the window's horizon) keep its work off instead.
            return [persist]
        return [persist, OperatorCall("DEACTIVATE_AGENT", agent.agent_id)]

    def reactivate(self, event: ReactivateAgent) -> list[Instruction]:
        """End the agent's drain (its drain deployments still under way end, cancelled) or an
        operator's deactivation: the master reactivates it."""
        e = self.engine
        agent = self.resolve(event.agent)
        persist = Persist()
        drain = self.book.drains.pop(agent.agent_id, None)
        if drain is not None:
            persist.delete_drains.append(agent.agent_id)
            for app_id, deployment_id in drain.deployments.items():
                record = e.deployment_book.of_app(app_id)
                if record is not None and record.id == deployment_id:
                    e.deployment_book.end(app_id, "cancelled", persist)
                e.index.dirty.add(app_id)
        e.suppressed = None  # the next Revive/Suppress is sent: a Revive clears the agent's decline filters
        out: list[Instruction] = [persist] if persist else []
        return out + [OperatorCall("REACTIVATE_AGENT", agent.agent_id)]

    def homes(self, app_id: str, leaving: str) -> list[str]:
        """The other registered, usable agents that could hold one instance of the app: its
        constraints pass there and an empty agent of its size fits it (what runs there now aside)."""
        e = self.engine
        workload = e.apps[app_id].spec.workload()
        planner = e.move_launcher.planner
        out = []
        skip = self.book.leaving() | {leaving}
        for agent in e.agents.known():
            if agent.agent_id in skip or agent.deactivated or agent.drain is not None:
                continue
            if agent.total is None:
                out.append(agent.agent_id)  # known from its offers only: assume it could
                continue
            info = AgentInfo(id=agent.agent_id, hostname=agent.hostname, available={UNRESERVED: agent.total},
                             ports={UNRESERVED: ((1, 65535),)}, capacity=agent.total, attributes=dict(agent.attributes),
                             region=agent.region, zone=agent.zone)
            if planner.plan([info], [PlacementRequest(workload, 1)]).placements:
                out.append(agent.agent_id)
        return out

    # --- progress -------------------------------------------------------------------------------

    def tick(self, now: float) -> list[Instruction]:
        """Each drain's next step: to the master once its apps' tasks are gone and its jobs' tasks
        ended (or the deadline passed), then DRAINED when the master says so."""
        calls: list[Instruction] = []
        persist = Persist()   # each change of phase, written before the call it leads to
        listing = False
        for drain in self.book.drains.values():
            if drain.phase == MOVING and now >= drain.retry_at:
                apps_left, jobs_left = self.left(drain.agent_id)
                late = now >= drain.deadline_at
                if (not apps_left and (not jobs_left or late)) or (drain.force and late):
                    if drain.agent_id in self.engine.maintenance.windows:
                        # The master refuses DRAIN_AGENT for a machine in its maintenance schedule:
                        # its inverse offers (accepted now: engine/maintenance.py) take it from here.
                        drain.phase, drain.note = DRAINED, "in a maintenance window: the master's maintenance takes it"
                        persist.drains.append(drain.record())
                        continue
                    drain.phase, drain.listed_at = AT_MASTER, now
                    persist.drains.append(drain.record())
                    calls.append(OperatorCall("DRAIN_AGENT", drain.agent_id))
            elif drain.phase == AT_MASTER:
                member = self.engine.membership.members.get(drain.agent_id)
                if member is None or member.gone_at is not None or member.agent.drain == "DRAINED":
                    drain.phase = DRAINED
                    persist.drains.append(drain.record())
                elif now - drain.listed_at >= LIST_EVERY:
                    drain.listed_at = now
                    listing = True
        return ([persist] if persist else []) + calls + ([ListAgents()] if listing else [])

    def left(self, agent_id: str) -> tuple[int, int]:
        """(the apps' live tasks, the jobs' launched tasks) still on the agent."""
        e = self.engine
        apps = sum(1 for t in e.index.on_agent(agent_id) if t.live)
        jobs = sum(1 for _, where in e.jobs.launched_tasks() if where == agent_id)
        return apps, jobs

    def answered(self, event: OperatorAnswered) -> list[Instruction]:
        """The master answered a call: a deactivation or reactivation done is what the agent is
        now (and its list is read again); a refused DRAIN_AGENT is sent again later, and said."""
        e = self.engine
        member = e.membership.members.get(event.agent_id)
        if event.error is None and member is not None and event.call in ("DEACTIVATE_AGENT", "REACTIVATE_AGENT"):
            back = event.call == "REACTIVATE_AGENT"
            agent = replace(member.agent, deactivated=not back, active=back, drain=None if back else member.agent.drain)
            e.membership.members[event.agent_id] = replace(member, agent=agent)
            e.agents.refresh(agent)
        drain = self.book.drains.get(event.agent_id)
        if drain is None:
            return [ListAgents()] if event.error is None else []
        drain.note = None if event.error is None else f"{event.call}: {event.error}"
        if event.error is not None and event.call == "DRAIN_AGENT" and drain.phase == AT_MASTER:
            if "maintenance schedule" in event.error:   # the master's maintenance drains it (see tick)
                drain.phase = DRAINED
            else:
                drain.phase, drain.retry_at = MOVING, self.engine.clock() + RETRY_AFTER
            return [Persist(drains=[drain.record()])]
        return []

    def progress(self, drain: Drain) -> list[AppDrain]:
        """Each app's part of the drain, now."""
        e = self.engine
        out = []
        for app_id, deployment_id in sorted(drain.deployments.items()):
            left = sum(1 for t in e.index.on_agent(drain.agent_id) if t.app_id == app_id and t.live)
            reasons = e.wait.reasons.get(app_id, ())
            status = "done" if left == 0 else "waiting" if reasons else "moving"
            out.append(AppDrain(app_id, deployment_id, drain.initial.get(app_id, 0), left, status, tuple(reasons)))
        return out

