"""Why an app waits, told about the whole cluster: agents outside the offer batch, and a cluster
that sends no offer at all (issue 11, item 1)."""
from __future__ import annotations

from halyard.cluster.agents import Resources
from halyard.cluster.mesos_types import AgentSeen
from halyard.engine.messages import AgentLost, AgentsListed, ListAgents, Offers, PutApp, Subscribed, Tick

from .test_engine import app, make_engine, offer


def listed(*agents):
    """The master's agent list: (n, free cpus) -> agent S<n> at 127.0.0.<n>."""
    return AgentsListed(tuple(AgentSeen(f"S{n}", f"127.0.0.{n}", free=Resources(cpus=cpus, mem=1024.0))
                              for n, cpus in agents))


def subscribed(instances=2, cpus=0.6):
    engine, clock = make_engine()
    engine.handle(PutApp(app(instances, cpus=cpus, mem=128)))
    assert any(isinstance(i, ListAgents) for i in engine.handle(Subscribed("F1")))
    return engine, clock


def test_a_plan_names_the_agents_that_made_no_offer_and_which_are_full():
    engine, clock = subscribed(instances=3)
    engine.handle(listed((1, 0.2), (2, 0.2), (3, 2.0), (4, 2.0)))
    # Only S3 offers, with room for one task: S1 and S2 are full; S4 has room but made no offer.
    engine.handle(Offers((offer(3, cpus=1.0),)))
    reasons = engine.waiting["/web"]
    assert "agents 127.0.0.1, 127.0.0.2 full; no offer from 127.0.0.4" in reasons, reasons
    assert any("of 1 agents" in r for r in reasons), reasons  # the plan's own reason over the batch


def test_no_offer_for_a_while_says_what_the_app_needs_and_which_agents_are_full():
    engine, clock = subscribed()
    engine.handle(listed((1, 0.4), (2, 0.5)))
    clock.now += 7
    engine.handle(Tick())
    assert "/web" not in engine.waiting  # not yet "a while"
    clock.now += 1
    engine.handle(Tick())
    assert engine.waiting["/web"] == ("no offer with 0.6 cpus, 128 MB mem for 8 s; agents 127.0.0.1, 127.0.0.2 full",)
    # An offer that fits ends the wait.
    engine.handle(Offers((offer(1), offer(2))))
    assert "/web" not in engine.waiting


def test_a_waiting_app_has_the_agent_list_read_again_and_so_does_a_quiet_cluster():
    engine, clock = subscribed()
    asked = []
    for _ in range(30):
        clock.now += 1
        asked += [clock.now for i in engine.handle(Tick()) if isinstance(i, ListAgents)]
    start = clock.now - 30
    assert [t - start for t in asked] == [10, 20, 30]  # every 10 s while waiting with no offer
    engine.handle(Offers((offer(1), offer(2))))  # placed: nothing waits
    asked = []
    for _ in range(70):
        clock.now += 1
        asked += [clock.now for i in engine.handle(Tick()) if isinstance(i, ListAgents)]
    assert len(asked) == 1  # every 60 s otherwise


def test_the_agent_list_is_the_whole_cluster_and_a_lost_agent_is_forgotten():
    engine, clock = subscribed()
    engine.handle(listed((1, 0.0), (2, 0.0), (3, 0.0)))
    assert [a.hostname for a in engine.agents.known()] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    engine.handle(listed((1, 0.0), (2, 0.0)))  # S3 left
    engine.handle(AgentLost("S2"))
    assert [a.hostname for a in engine.agents.known()] == ["127.0.0.1"]
    clock.now += 8
    engine.handle(Tick())
    assert engine.waiting["/web"][0].endswith("; agents 127.0.0.1 full")


def test_an_offer_keeps_what_the_master_said_the_agent_had_free():
    engine, _ = subscribed(instances=0)
    engine.handle(listed((1, 0.3)))
    engine.handle(Offers((offer(1, cpus=0.3),)))
    (agent,) = engine.agents.known()
    assert agent.free == Resources(cpus=0.3, mem=1024.0) and agent.attributes["rack_id"] == "rack-1"
