"""The simulated master as calls and ticks in, events out (bench/mesos_sim/master.py): no network,
a fake clock, streams that record what they are sent."""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from mesos_sim.cluster import make_agents  # noqa: E402
from mesos_sim.master import FAILED_OVER, Master, SimConfig  # noqa: E402
from mesos_sim.operator_json import state_json  # noqa: E402

CAPS = [{"type": "PARTITION_AWARE"}, {"type": "TASK_KILLING_STATE"}]


class FakeStream:
    def __init__(self, stream_id: str):
        self.stream_id = stream_id
        self.events: list[dict[str, Any]] = []
        self.closed = False

    def send(self, event: bytes) -> None:
        self.events.append(json.loads(event))

    def close(self, abrupt: bool = False) -> None:
        self.closed = True

    def buffered(self) -> int:
        return 0

    def take(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = [e for e in self.events if kind is None or e["type"] == kind]
        self.events = [e for e in self.events if not (kind is None or e["type"] == kind)]
        return out


class Sim:
    """A master with 3 agents (cpus 1, mem 1024, ports 31000-31009) and a clock we move."""

    def __init__(self, **config: Any):
        self.now = 1000.0
        cfg = SimConfig(**{"starting_delay": 0.1, "running_delay": 0.1, "kill_delay": 0.05, **config})
        self.m = Master(cfg, make_agents(3, "M", "cpus:1;mem:1024;ports:[31000-31009]", racks=3, zones=0),
                        master_id="M", clock=lambda: self.now, wall=lambda: 1.7e9 + self.now)
        self.n = 0

    def subscribe(self, framework_id: str | None = None, name: str = "fw", **info: Any) -> tuple[FakeStream, str]:
        self.n += 1
        stream = FakeStream(f"stream-{self.n}")
        framework = {"user": "u", "name": name, "capabilities": CAPS, "failover_timeout": 60.0, **info}
        if framework_id:
            framework["id"] = {"value": framework_id}
        self.m.subscribe({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework}}, stream)
        subscribed = stream.take("SUBSCRIBED")
        return stream, subscribed[0]["subscribed"]["framework_id"]["value"] if subscribed else ""

    def call(self, stream: FakeStream, fid: str, kind: str, body: dict | None = None) -> tuple[int, bytes]:
        call: dict[str, Any] = {"type": kind, "framework_id": {"value": fid}}
        if body is not None:
            call[kind.lower()] = body
        return self.m.call(json.dumps(call).encode(), stream.stream_id)

    def advance(self, seconds: float, step: float = 0.01) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = round(self.now + step, 6)
            self.m.tick(self.now)

    def offers(self, stream: FakeStream) -> list[dict[str, Any]]:
        self.m.tick(self.now)
        return [o for e in stream.take("OFFERS") for o in e["offers"]["offers"]]


def task_info(task_id: str, agent_id: str, cpus: float = 0.1, mem: float = 32, port: int | None = 31000) -> dict:
    res: list[dict] = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                       {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}]
    if port:
        res.append({"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": port, "end": port}]}})
    return {"task_id": {"value": task_id}, "name": task_id, "agent_id": {"value": agent_id}, "resources": res,
            "command": {"value": "sleep 1"}}


def launch(sim: Sim, stream: FakeStream, fid: str, offer: dict, *infos: dict, refuse: float = 5) -> None:
    status, _ = sim.call(stream, fid, "ACCEPT", {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": refuse},
                                                 "operations": [{"type": "LAUNCH", "launch": {"task_infos": list(infos)}}]})
    assert status == 202


def updates(stream: FakeStream) -> list[dict]:
    return [e["update"]["status"] for e in stream.take("UPDATE")]


def ack(sim: Sim, stream: FakeStream, fid: str, status: dict) -> None:
    assert sim.call(stream, fid, "ACKNOWLEDGE", {"agent_id": status["agent_id"], "task_id": status["task_id"],
                                                 "uuid": status["uuid"]})[0] == 202


def running_task(sim: Sim) -> tuple[FakeStream, str, dict]:
    stream, fid = sim.subscribe()
    offer = sim.offers(stream)[0]
    launch(sim, stream, fid, offer, task_info("t1", offer["agent_id"]["value"]))
    for _ in range(2):
        sim.advance(0.1)
        for st in updates(stream):
            ack(sim, stream, fid, st)
    return stream, fid, offer


# --- subscription and the stream id ------------------------------------------------------------------


def test_subscribed_carries_the_new_framework_id_and_the_heartbeat_interval():
    sim = Sim()
    stream = FakeStream("s")
    sim.m.subscribe({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "fw"}}}, stream)
    event = stream.events[0]
    assert event["type"] == "SUBSCRIBED"
    assert event["subscribed"]["framework_id"]["value"] == "M-0000"
    assert event["subscribed"]["heartbeat_interval_seconds"] == 15.0


def test_calls_need_the_subscription_s_stream_id():
    sim = Sim()
    stream, fid = sim.subscribe()
    body = json.dumps({"type": "REVIVE", "framework_id": {"value": fid}}).encode()
    assert sim.m.call(body, stream.stream_id)[0] == 202
    status, text = sim.m.call(body, None)
    assert (status, text) == (400, b"All non-subscribe calls should include the 'Mesos-Stream-Id' header")
    status, text = sim.m.call(body, "another")
    assert status == 400 and b"didn't match the stream ID" in text


@pytest.mark.parametrize("call, status", [
    ({"type": "REVIVE", "framework_id": {"value": "nobody"}}, 400),
    ({"type": "REVIVE"}, 400),
    ({"type": "ACCEPT", "framework_id": {"value": "M-0000"}}, 400),   # no "accept"
    ({"type": "FLY", "framework_id": {"value": "M-0000"}}, 400),
])
def test_malformed_calls_are_refused_with_400(call, status):
    sim = Sim()
    stream, _ = sim.subscribe()
    assert sim.m.call(json.dumps(call).encode(), stream.stream_id)[0] == status


def test_a_disconnected_framework_s_calls_are_forbidden():
    sim = Sim()
    stream, fid = sim.subscribe()
    sim.m.stream_closed(stream)
    assert sim.call(stream, fid, "REVIVE")[0] == 403


def test_a_resubscription_with_the_framework_id_fails_the_old_stream_over():
    sim = Sim()
    old, fid = sim.subscribe()
    new, same = sim.subscribe(framework_id=fid)
    assert same == fid
    assert old.take("ERROR")[0]["error"]["message"] == FAILED_OVER
    assert old.closed
    assert sim.call(old, fid, "REVIVE")[0] == 400    # the old stream id is no longer the framework's
    assert sim.call(new, fid, "REVIVE")[0] == 202


def test_an_unknown_framework_id_is_recovered_but_a_torn_down_one_is_refused():
    sim = Sim()
    _, fid = sim.subscribe(framework_id="from-an-earlier-master")
    assert fid == "from-an-earlier-master"
    stream, fid = sim.subscribe()
    assert sim.call(stream, fid, "TEARDOWN")[0] == 202
    assert stream.closed
    again = FakeStream("again")
    sim.m.subscribe({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "fw",
                                                                           "id": {"value": fid}}}}, again)
    assert again.events[0]["type"] == "ERROR" and "removed" in again.events[0]["error"]["message"]
    assert again.closed


def test_heartbeats_come_at_the_interval():
    sim = Sim(heartbeat_interval=1.0)
    stream, _ = sim.subscribe()
    sim.advance(3.05, step=0.05)
    assert len(stream.take("HEARTBEAT")) == 3


# --- offers -----------------------------------------------------------------------------------------


def test_every_agent_is_offered_once_with_all_it_has():
    sim = Sim()
    stream, _ = sim.subscribe()
    offers = sim.offers(stream)
    assert len(offers) == 3
    assert {o["hostname"] for o in offers} == {"127.1.0.1", "127.1.0.2", "127.1.0.3"}
    assert offers[0]["attributes"] == [{"name": "rack_id", "type": "TEXT", "text": {"value": "rack-0"}}]
    sim.advance(2.0)
    assert sim.offers(stream) == []   # outstanding offers are not offered again


def test_a_decline_refuses_the_agent_for_refuse_seconds():
    sim = Sim(allocation_interval=1.0)
    stream, fid = sim.subscribe()
    offers = sim.offers(stream)
    sim.call(stream, fid, "DECLINE", {"offer_ids": [offers[0]["id"]], "filters": {"refuse_seconds": 3}})
    sim.advance(2.0)
    assert stream.take("OFFERS") == []
    sim.advance(1.5)
    again = [o for e in stream.take("OFFERS") for o in e["offers"]["offers"]]
    assert [o["agent_id"] for o in again] == [offers[0]["agent_id"]]
    assert sim.m.stats()["counts"]["offers"] == 4


def test_suppress_stops_offers_and_revive_brings_them_back_at_once():
    sim = Sim()
    stream, fid = sim.subscribe()
    offers = sim.offers(stream)
    sim.call(stream, fid, "SUPPRESS", {})
    sim.call(stream, fid, "DECLINE", {"offer_ids": [o["id"] for o in offers], "filters": {"refuse_seconds": 0}})
    sim.advance(3.0)
    assert stream.take("OFFERS") == []
    sim.call(stream, fid, "REVIVE", {})
    assert len(sim.offers(stream)) == 3


def test_the_unused_part_of_an_accepted_offer_comes_back_after_its_filter():
    sim = Sim()
    stream, fid = sim.subscribe()
    offer = sim.offers(stream)[0]
    launch(sim, stream, fid, offer, task_info("t1", offer["agent_id"]["value"], cpus=0.5), refuse=2)
    sim.advance(1.5)
    assert stream.take("OFFERS") == []
    sim.advance(1.0)
    again = [o for e in stream.take("OFFERS") for o in e["offers"]["offers"]]
    assert len(again) == 1
    cpus = next(r for r in again[0]["resources"] if r["name"] == "cpus")
    assert cpus["scalar"]["value"] == 0.5


# --- tasks ------------------------------------------------------------------------------------------


def test_a_task_goes_staging_starting_running_each_update_waiting_for_the_previous_ack():
    sim = Sim()
    stream, fid = sim.subscribe()
    offer = sim.offers(stream)[0]
    launch(sim, stream, fid, offer, task_info("t1", offer["agent_id"]["value"]))
    assert state_json(sim.m)["frameworks"][0]["tasks"][0]["state"] == "TASK_STAGING"
    sim.advance(0.3)
    starting = updates(stream)
    assert [s["state"] for s in starting] == ["TASK_STARTING"]   # RUNNING waits for this one's ack
    assert len(base64.b64decode(starting[0]["uuid"])) == 16
    ack(sim, stream, fid, starting[0])
    running = updates(stream)
    assert [s["state"] for s in running] == ["TASK_RUNNING"]
    assert running[0]["source"] == "SOURCE_EXECUTOR"


def test_an_unacknowledged_update_is_resent_until_acknowledged():
    sim = Sim(retry_min=1.0)
    stream, fid = sim.subscribe()
    offer = sim.offers(stream)[0]
    launch(sim, stream, fid, offer, task_info("t1", offer["agent_id"]["value"]))
    sim.advance(3.2, step=0.05)
    sent = updates(stream)
    assert [s["state"] for s in sent] == ["TASK_STARTING"] * 3   # at 0.1, 1.1, 3.1
    assert len({s["uuid"] for s in sent}) == 1


def test_a_failed_over_framework_gets_its_unacknowledged_updates_at_once():
    sim = Sim()
    stream, fid = sim.subscribe()
    offer = sim.offers(stream)[0]
    launch(sim, stream, fid, offer, task_info("t1", offer["agent_id"]["value"]))
    sim.advance(0.2)
    first = updates(stream)
    new, _ = sim.subscribe(framework_id=fid)
    again = updates(new)
    assert [s["uuid"] for s in again] == [s["uuid"] for s in first]


def test_tasks_that_do_not_fit_or_repeat_an_id_get_task_error_and_bad_offers_task_dropped():
    sim = Sim()
    stream, fid = sim.subscribe()
    offers = sim.offers(stream)
    agent = offers[0]["agent_id"]["value"]
    launch(sim, stream, fid, offers[0], task_info("big", agent, cpus=2), task_info("ok", agent),
           task_info("ok", agent, port=31001), task_info("port", agent, port=40000))
    errors = updates(stream)
    assert [(s["task_id"]["value"], s["state"]) for s in errors] == [("big", "TASK_ERROR"), ("ok", "TASK_ERROR"),
                                                                     ("port", "TASK_ERROR")]
    assert all("uuid" not in s for s in errors)   # made up by the master: not to be acknowledged
    launch(sim, stream, fid, offers[0], task_info("late", agent))   # that offer was used
    assert [(s["state"], s["reason"]) for s in updates(stream)] == [("TASK_DROPPED", "REASON_INVALID_OFFERS")]


def test_a_kill_is_answered_killing_then_killed_and_frees_the_resources():
    sim = Sim()
    stream, fid, offer = running_task(sim)
    sim.call(stream, fid, "KILL", {"task_id": {"value": "t1"}})
    killing = updates(stream)
    assert [s["state"] for s in killing] == ["TASK_KILLING"]
    ack(sim, stream, fid, killing[0])
    sim.advance(0.1)
    killed = updates(stream)
    assert [s["state"] for s in killed] == ["TASK_KILLED"]
    agent = sim.m.agents_by_id[offer["agent_id"]["value"]]
    assert agent.used.empty
    ack(sim, stream, fid, killed[0])
    assert sim.m.frameworks[fid].tasks == {}   # gone once its terminal update is acknowledged


def test_reconciliation_explicit_and_implicit():
    sim = Sim()
    stream, fid, _ = running_task(sim)
    sim.call(stream, fid, "RECONCILE", {"tasks": [{"task_id": {"value": "t1"}}, {"task_id": {"value": "ghost"}}]})
    answers = {s["task_id"]["value"]: s for s in updates(stream)}
    assert answers["t1"]["state"] == "TASK_RUNNING" and answers["t1"]["reason"] == "REASON_RECONCILIATION"
    assert "uuid" not in answers["t1"]
    assert answers["ghost"]["state"] == "TASK_UNKNOWN"   # no agent id given (pymesos never sends one)
    sim.call(stream, fid, "RECONCILE", {})
    assert [s["task_id"]["value"] for s in updates(stream)] == ["t1"]
    assert sim.m.stats()["counts"]["reconcile_explicit_tasks"] == 2


def test_a_framework_that_is_not_partition_aware_hears_task_lost():
    sim = Sim()
    stream, fid = sim.subscribe(capabilities=[])
    sim.call(stream, fid, "RECONCILE", {"tasks": [{"task_id": {"value": "ghost"}}]})
    assert updates(stream)[0]["state"] == "TASK_LOST"


# --- faults -----------------------------------------------------------------------------------------


def test_a_failed_task_reports_task_failed_reliably():
    sim = Sim()
    stream, fid, _ = running_task(sim)
    assert sim.m.fail_tasks(1) == ["t1"]
    failed = updates(stream)
    assert [(s["state"], s["reason"]) for s in failed] == [("TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED")]
    assert "uuid" in failed[0]


def test_a_lost_agent_rescinds_its_offers_and_makes_its_tasks_unreachable():
    sim = Sim()
    stream, fid, offer = running_task(sim)
    sim.advance(6.0)
    outstanding = [o for e in stream.take("OFFERS") for o in e["offers"]["offers"]]
    agent = offer["agent_id"]["value"]
    assert sim.m.lose_agent(agent) == 1
    assert [e["rescind"]["offer_id"] for e in stream.take("RESCIND")] == \
        [o["id"] for o in outstanding if o["agent_id"]["value"] == agent]
    assert [s["state"] for s in updates(stream)] == ["TASK_UNREACHABLE"]
    assert stream.take("FAILURE")[0]["failure"]["agent_id"]["value"] == agent
    assert sim.m.stats()["tasks"] == {"TASK_UNREACHABLE": 1}
    assert sim.m.restore_agent(agent) == 1
    assert sim.m.stats()["tasks"] == {"TASK_RUNNING": 1}


def test_a_dropped_stream_disconnects_the_framework_until_it_subscribes_again():
    sim = Sim()
    stream, fid = sim.subscribe()
    assert sim.m.drop_streams() == 1
    assert stream.closed
    assert sim.call(stream, fid, "REVIVE")[0] == 403
    new, same = sim.subscribe(framework_id=fid)
    assert same == fid and sim.call(new, fid, "REVIVE")[0] == 202


def test_a_framework_gone_past_its_failover_timeout_is_removed_with_its_tasks():
    sim = Sim()
    stream, fid, offer = running_task(sim)
    sim.m.stream_closed(stream)
    sim.advance(61.0, step=0.5)
    assert fid not in sim.m.frameworks and fid in sim.m.completed
    assert sim.m.agents_by_id[offer["agent_id"]["value"]].used.empty
