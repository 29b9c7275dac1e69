"""Agent drains (engine/drains.py) and membership (engine/membership.py): events in, instructions out."""
from __future__ import annotations

import pytest

from halyard.cluster.agents import Resources
from halyard.cluster.mesos_types import AgentSeen, ClusterTask
from halyard.engine.domain_events import AgentJoined, AgentLeft
from halyard.engine.messages import (
    AgentAdded,
    AgentRemoved,
    ClusterSnapshot,
    ClusterTasks,
    Decline,
    DrainAgent,
    Kill,
    Launch,
    ListAgents,
    Offers,
    OperatorAnswered,
    OperatorCall,
    Persist,
    Publish,
    PutApp,
    ReactivateAgent,
    StatusUpdate,
    Subscribed,
    Tick,
)
from halyard.errors import ConflictError, UnknownAgentError

from .test_engine import make_engine, offer, status
from .test_jobs import data, started
from .test_rolling_upgrade import checked_app, healthy_app, serving, update


def seen(n, **extra):
    return AgentSeen(f"S{n}", f"127.0.0.{n}", total=Resources(2, 1024), **extra)


def subscribed(engine, agents=(1, 2, 3)):
    engine.handle(ClusterSnapshot(tuple(seen(n) for n in agents)))


def published(out, kind):
    return [i.event for i in out if isinstance(i, Publish) and isinstance(i.event, kind)]


def on(engine, agent):
    return sorted(t.task_id for t in engine.tasks.values() if t.live and t.agent_id == agent)


def _drained_app(**strategy):
    """``/web`` (3 healthy instances, one per agent), the stream's snapshot in."""
    engine, clock, old = healthy_app(checked_app(strategy="spread", **strategy))
    assert [len(on(engine, f"S{n}")) for n in (1, 2, 3)] == [1, 1, 1]
    subscribed(engine)
    return engine, clock, old


# --- membership -------------------------------------------------------------------------------

def test_the_stream_keeps_membership_and_tells_joins_and_departures():
    engine, clock, _ = _drained_app()
    out = engine.handle(AgentAdded(seen(4)))
    assert [(e.agent_id, e.hostname) for e in published(out, AgentJoined)] == [("S4", "127.0.0.4")]
    assert "S4" in {a.agent_id for a in engine.agents.known()}  # placement and the reasons know it at once
    rows = {r.hostname: r for r in engine.view.agents()}
    assert rows["127.0.0.4"].state == "active" and rows["127.0.0.4"].source == "stream"
    out = engine.handle(AgentRemoved("S4"))
    assert [e.agent_id for e in published(out, AgentLeft)] == ["S4"]
    assert "S4" not in {a.agent_id for a in engine.agents.known()}
    assert engine.membership.members["S4"].gone_at is not None
    assert {r.hostname: r for r in engine.view.agents()}["127.0.0.4"].state == "gone"


def test_a_snapshot_after_a_reconnect_tells_the_agents_that_joined_meanwhile():
    engine, clock, _ = _drained_app()
    out = engine.handle(ClusterSnapshot(tuple(seen(n) for n in (1, 2, 3, 5))))
    assert [e.agent_id for e in published(out, AgentJoined)] == ["S5"]
    out = engine.handle(ClusterSnapshot(tuple(seen(n) for n in (1, 2, 3))))
    assert [e.agent_id for e in published(out, AgentLeft)] == ["S5"]


def test_other_frameworks_tasks_count_against_what_an_agent_has_free():
    engine, clock, _ = _drained_app()
    engine.handle(ClusterTasks((ClusterTask("t1", "other", "S1", "TASK_RUNNING", Resources(1.0, 256)),)))
    assert engine.membership.used_by_others("S1") == Resources(1.0, 256)
    free = {a.agent_id: a.free for a in engine.agents.known()}["S1"]
    assert free.cpus == pytest.approx(2 - 1.0 - 0.5) and free.mem == pytest.approx(1024 - 256 - 64)
    engine.handle(ClusterTasks((ClusterTask("t1", "other", "S1", "TASK_FINISHED"),)))  # an update: no resources
    assert engine.membership.used_by_others("S1") == Resources()
    engine.handle(ClusterTasks((ClusterTask("mine", "F1", "S1", "TASK_RUNNING", Resources(1.0, 1)),)))
    assert engine.membership.used_by_others("S1") == Resources()   # this framework's own: not another's


# --- drains ------------------------------------------------------------------------------------

def test_a_drain_replaces_the_agents_tasks_elsewhere_without_dropping_below_the_health_bound():
    engine, clock, old = _drained_app(mhc=1.0, moc=0.34)
    victim = on(engine, "S1")[0]
    out = engine.handle(DrainAgent("127.0.0.1", deadline=60))
    assert OperatorCall("DEACTIVATE_AGENT", "S1") in out
    assert engine.deployment_of("/web").kind == "drain"
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    declined = [i for i in out if isinstance(i, Decline)]
    assert any("O1-S1" in d.offer_ids and d.refuse_seconds >= 3600 for d in declined)  # nothing new goes there
    launches = [i for i in out if isinstance(i, Launch)]
    assert [i.agent_id for i in launches] != [] and all(i.agent_id != "S1" for i in launches)
    new = launches[0].tasks[0].task_id
    assert update(engine, new, "TASK_RUNNING") == []      # not healthy yet: the old one stays
    assert not [i for i in engine.handle(Tick()) if isinstance(i, OperatorCall)]
    assert update(engine, new, "TASK_RUNNING", healthy=True) == [victim]
    assert serving(engine) == 3
    update(engine, victim, "TASK_KILLED")
    out = engine.handle(Tick())
    assert OperatorCall("DRAIN_AGENT", "S1") in out and engine.deployment_of("/web") is None
    assert on(engine, "S1") == []
    engine.handle(OperatorAnswered("DRAIN_AGENT", "S1"))
    engine.membership.members["S1"] = engine.membership.members["S1"].__class__(seen(1, drain="DRAINED"), "listing", 0)
    engine.handle(Tick())
    assert engine.drains.drains["S1"].phase == "drained"


def test_with_no_room_elsewhere_a_drain_waits_and_kills_nothing():
    engine, clock, old = _drained_app(mhc=1.0, moc=0.34)
    engine.handle(DrainAgent("S1", deadline=5))
    out = engine.handle(Offers((offer(2, cpus=0.1), offer(3, cpus=0.1))))
    assert not [i for i in out if isinstance(i, (Launch, Kill))]
    drain = {r.hostname: r for r in engine.view.agents()}["127.0.0.1"].drain_apps
    assert any("insufficient cpus" in r for r in drain[0].reasons), drain[0].reasons  # the placement's reasons
    clock.now += 10  # past the deadline, without --force: still nothing is killed, nothing drained at the master
    out = engine.handle(Tick())
    assert not [i for i in out if isinstance(i, (Kill, OperatorCall))]
    assert serving(engine) == 3
    drain = {r.hostname: r for r in engine.view.agents()}["127.0.0.1"].drain_apps
    assert [(a.app_id, a.status, a.left) for a in drain] == [("/web", "waiting", 1)]


def test_with_force_past_the_deadline_the_master_drains_what_is_left():
    engine, clock, old = _drained_app(mhc=1.0, moc=0.34)
    engine.handle(DrainAgent("S1", deadline=5, force=True))
    engine.handle(Offers((offer(2, cpus=0.1), offer(3, cpus=0.1))))
    assert not [i for i in engine.handle(Tick()) if isinstance(i, OperatorCall)]
    clock.now += 10
    assert OperatorCall("DRAIN_AGENT", "S1") in engine.handle(Tick())


def test_a_drain_is_refused_for_an_unknown_agent_a_busy_app_and_the_last_agent_that_could_hold_an_app():
    engine, clock, old = _drained_app()
    with pytest.raises(UnknownAgentError) as found:
        engine.handle(DrainAgent("127.0.0.9"))
    assert found.value.known_hosts == ("127.0.0.1", "127.0.0.2", "127.0.0.3")
    engine.handle(PutApp(checked_app(strategy="spread", cpus=0.25)))  # a deployment under way
    with pytest.raises(ConflictError):
        engine.handle(DrainAgent("127.0.0.1"))
    assert engine.drains.drains == {} and engine.deployment_of("/web").kind != "drain"  # nothing changed
    engine.handle(DrainAgent("127.0.0.1", force=True))   # force supersedes it
    assert engine.deployment_of("/web").kind == "drain"


def test_the_last_agent_that_could_hold_an_app_is_kept_unless_forced():
    engine, clock, old = healthy_app(checked_app(instances=1, constraints=[["rack_id", "LIKE", "rack-1"]]))
    subscribed(engine)
    engine.membership.members.clear()
    engine.agents.listed([AgentSeen("S1", "127.0.0.1", {"rack_id": "rack-1"}, total=Resources(2, 1024)),
                          AgentSeen("S2", "127.0.0.2", {"rack_id": "rack-2"}, total=Resources(2, 1024))])
    assert on(engine, "S1")
    with pytest.raises(ConflictError, match="last agent that could hold /web"):
        engine.handle(DrainAgent("127.0.0.1"))
    assert engine.drains.drains == {}
    engine.handle(DrainAgent("127.0.0.1", force=True))
    assert "S1" in engine.drains.leaving()


def test_reactivation_ends_the_drain_and_the_agent_takes_tasks_again():
    engine, clock, old = _drained_app()
    engine.handle(DrainAgent("127.0.0.1"))
    out = engine.handle(ReactivateAgent("127.0.0.1"))
    assert OperatorCall("REACTIVATE_AGENT", "S1") in out
    assert engine.drains.leaving() == frozenset() and engine.deployment_of("/web") is None
    out = engine.handle(OperatorAnswered("REACTIVATE_AGENT", "S1"))
    assert ListAgents() in out


def test_a_refused_drain_at_the_master_is_said_and_sent_again():
    engine, clock, old = _drained_app()
    engine.handle(PutApp(checked_app(strategy="spread", instances=0)))
    for t in list(engine.tasks.values()):
        if t.live:
            update(engine, t.task_id, "TASK_KILLED")
    engine.handle(DrainAgent("S2"))
    assert OperatorCall("DRAIN_AGENT", "S2") in engine.handle(Tick())
    engine.handle(OperatorAnswered("DRAIN_AGENT", "S2", "HTTP 400: unknown call"))
    assert engine.drains.drains["S2"].note.startswith("DRAIN_AGENT: HTTP 400")
    assert not [i for i in engine.handle(Tick()) if isinstance(i, OperatorCall)]
    clock.now += 11
    assert OperatorCall("DRAIN_AGENT", "S2") in engine.handle(Tick())


def test_a_jobs_task_on_the_agent_may_finish_before_the_master_drains_it_until_the_deadline():

    engine, clock = make_engine()
    run, task = started(engine, clock)
    subscribed(engine)
    engine.handle(DrainAgent("S1", deadline=30))
    assert not [i for i in engine.handle(Tick()) if isinstance(i, OperatorCall) and i.call == "DRAIN_AGENT"]
    clock.now += 31   # the run is still going at the deadline: the master drains the agent (it kills the task)
    assert OperatorCall("DRAIN_AGENT", "S1") in engine.handle(Tick())


def test_a_job_that_finishes_lets_the_drain_go_on_at_once():

    engine, clock = make_engine()
    run, task = started(engine, clock)
    subscribed(engine)
    engine.handle(DrainAgent("S1", deadline=600))
    engine.handle(StatusUpdate(status(task["task_id"]["value"], "TASK_FINISHED", agent="S1", data=data(exit_code=0))))
    assert OperatorCall("DRAIN_AGENT", "S1") in engine.handle(Tick())


def test_a_scale_during_a_drain_is_a_deployment_conflict_unless_forced():
    engine, clock, old = _drained_app()
    engine.handle(DrainAgent("S1"))
    with pytest.raises(ConflictError):
        engine.handle(PutApp(checked_app(strategy="spread", instances=4)))
    engine.handle(PutApp(checked_app(strategy="spread", instances=4), force=True))
    assert engine.deployment_of("/web").kind == "scale"
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    assert all(i.agent_id != "S1" for i in out if isinstance(i, Launch))   # the drained agent still takes nothing


# --- maintenance windows -----------------------------------------------------------------------

def test_a_window_in_the_past_or_of_no_length_is_refused_and_changes_nothing():
    from halyard.engine.messages import ScheduleMaintenance
    from halyard.errors import ValidationError

    engine, clock, _ = _drained_app()
    with pytest.raises(ValidationError, match="start: the window starts in the past"):
        engine.handle(ScheduleMaintenance("127.0.0.2", clock.now - 1, 3600))
    with pytest.raises(ValidationError, match="duration"):
        engine.handle(ScheduleMaintenance("127.0.0.2", clock.now + 60, 0))
    assert engine.maintenance.windows == {}
    with pytest.raises(UnknownAgentError):
        engine.handle(ScheduleMaintenance("127.0.0.9", clock.now + 60, 60))


def test_nothing_new_goes_to_an_agent_whose_window_is_within_the_horizon():
    from halyard.engine.messages import MaintenanceCall, ScheduleMaintenance

    engine, clock, _ = _drained_app()
    out = engine.handle(ScheduleMaintenance("127.0.0.2", clock.now + 600, 3600))
    assert out == [MaintenanceCall("S2", "127.0.0.2", clock.now + 600, 3600)]
    assert {r.hostname: r.state for r in engine.view.agents()}["127.0.0.2"] == "maintenance"
    engine.handle(PutApp(checked_app(strategy="spread", instances=5)))
    out = engine.handle(Offers((offer(1), offer(2), offer(3))))
    assert [i.agent_id for i in out if isinstance(i, Launch)] and all(
        i.agent_id != "S2" for i in out if isinstance(i, Launch))
    assert any("O2-S2" in i.offer_ids for i in out if isinstance(i, Decline))
    engine.handle(ScheduleMaintenance("127.0.0.2"))   # cancelled: the agent is usable again
    assert not engine.maintenance.soon("S2", clock.now)


def test_an_inverse_offer_is_accepted_only_once_no_task_of_halyard_is_left_on_the_agent():
    from halyard.cluster.mesos_types import InverseOffer
    from halyard.engine.messages import AnswerInverseOffers, InverseOffers

    engine, clock, _ = _drained_app()
    asked = InverseOffers((InverseOffer("I2", "S2"), InverseOffer("I9", "S9")))
    assert [i for i in engine.handle(asked) if isinstance(i, AnswerInverseOffers)] == \
        [AnswerInverseOffers(("I9",), True)]   # S2 still runs a task: held, not declined
    assert not [i for i in engine.handle(Tick()) if isinstance(i, AnswerInverseOffers)]
    for task_id in on(engine, "S2"):
        update(engine, task_id, "TASK_KILLED")
    assert AnswerInverseOffers(("I2",), True) in engine.handle(Tick())
    assert engine.maintenance.held == {}


def test_an_agent_in_a_maintenance_window_is_drained_without_drain_agent():
    from halyard.engine.messages import ScheduleMaintenance

    engine, clock, _ = _drained_app()
    engine.handle(ScheduleMaintenance("127.0.0.2", clock.now + 600, 3600))
    engine.handle(DrainAgent("S2"))
    for task_id in on(engine, "S2"):
        update(engine, task_id, "TASK_KILLED")
    out = engine.handle(Tick())
    assert not [i for i in out if isinstance(i, OperatorCall)]   # Mesos refuses DRAIN_AGENT in a schedule
    assert engine.drains.drains["S2"].phase == "drained"


# --- a drain across a leader failover -----------------------------------------------------------

class Written:
    """The store's drains and deployments as the Persists of everything handled left them."""

    def __init__(self, engine):
        self.engine, self.drains, self.deployments = engine, {}, {}

    def handle(self, event):
        out = self.engine.handle(event)
        for persist in (i for i in out if isinstance(i, Persist)):
            self.drains.update({d.agent_id: d for d in persist.drains})
            for agent_id in persist.delete_drains:
                self.drains.pop(agent_id, None)
            self.deployments.update({d.key: d for d in persist.deployments})
            for key in persist.delete_deployments:
                self.deployments.pop(key, None)
        return out

    def successor(self):
        """A new leader, loaded from what was written (``Written`` around it)."""
        from halyard.engine.app_records import DrainRecord, Snapshot

        new, clock = make_engine()
        clock.now = self.engine.clock()
        drains = {a: DrainRecord.from_json(d.to_json()) for a, d in self.drains.items()}   # the JSON round trip
        new.load(Snapshot(framework_id="F1", apps=dict(self.engine.apps), tasks=dict(self.engine.tasks),
                          deployments=dict(self.deployments), drains=drains))
        new.handle(Subscribed("F1"))
        subscribed(new)
        return Written(new)


def test_a_drain_survives_a_leader_failover_halfway_and_after_it_reached_the_master():
    engine, clock, old = _drained_app(mhc=1.0, moc=0.34)
    victim = on(engine, "S1")[0]
    first = Written(engine)
    first.handle(DrainAgent("127.0.0.1", deadline=60))
    assert first.drains["S1"].phase == "moving" and dict(first.drains["S1"].initial) == {"/web": 1}
    deployment_id = engine.deployment_of("/web").id
    out = first.handle(Offers((offer(1), offer(2), offer(3))))
    new_task = next(i for i in out if isinstance(i, Launch)).tasks[0].task_id
    update(engine, new_task, "TASK_RUNNING")            # the replacement runs, not healthy yet: the leader dies

    second = first.successor()
    successor = second.engine
    assert successor.drains.leaving() == {"S1"}
    assert successor.deployment_of("/web").id == deployment_id and successor.deployment_of("/web").kind == "drain"
    row = {r.hostname: r for r in successor.view.agents()}["127.0.0.1"]
    assert row.state == "draining" and [(a.app_id, a.initial, a.left) for a in row.drain_apps] == [("/web", 1, 1)]
    out = second.handle(Offers((offer(1), offer(2), offer(3))))
    assert all(i.agent_id != "S1" for i in out if isinstance(i, Launch))  # still nothing new there
    assert update(successor, new_task, "TASK_RUNNING", healthy=True) == [victim]   # the drain goes on
    update(successor, victim, "TASK_KILLED")
    out = second.handle(Tick())
    assert OperatorCall("DRAIN_AGENT", "S1") in out and successor.deployment_of("/web") is None
    assert second.drains["S1"].phase == "master"   # written before the call went

    third = second.successor()                      # and another failover while the master drains it
    assert third.engine.drains.drains["S1"].phase == "master"
    third.engine.membership.members["S1"] = third.engine.membership.members["S1"].__class__(
        seen(1, drain="DRAINED"), "listing", 0)
    third.handle(Tick())
    assert third.drains["S1"].phase == "drained"
    assert {r.hostname: r for r in third.engine.view.agents()}["127.0.0.1"].state == "drained"
    out = third.handle(ReactivateAgent("127.0.0.1"))
    assert OperatorCall("REACTIVATE_AGENT", "S1") in out and third.drains == {}
    assert third.successor().engine.drains.leaving() == frozenset()
