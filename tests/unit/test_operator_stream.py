"""The operator API's pure parts: RecordIO framing, the events' decoding, the agent calls' bodies,
and the join trigger told by the stream."""
from __future__ import annotations

import json

import pytest

from halyard.cluster.agents import Resources
from halyard.engine.messages import AgentAdded, AgentRemoved, ClusterSnapshot, ClusterTasks
from halyard.errors import UpstreamError
from halyard.mesos.operator_api import agent_call_body
from halyard.mesos.operator_codec import decode_event
from halyard.mesos.recordio import RecordIODecoder
from halyard.rebalance.trigger import JoinTrigger


def framed(*events):
    return b"".join(str(len(b)).encode() + b"\n" + b for b in (json.dumps(e).encode() for e in events))


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_records_come_whole_whatever_the_chunks(size):
    data = framed({"type": "HEARTBEAT"}, {"type": "AGENT_REMOVED", "x": "é" * 40})
    decoder = RecordIODecoder()
    records = [r for i in range(0, len(data), size) for r in decoder.feed(data[i:i + size])]
    assert [json.loads(r)["type"] for r in records] == ["HEARTBEAT", "AGENT_REMOVED"]


def test_a_garbled_length_is_an_error_the_reader_reconnects_on():
    with pytest.raises(UpstreamError):
        RecordIODecoder().feed(b"12x\n{}")


AGENT = {"agent_info": {"hostname": "127.0.0.3", "id": {"value": "S3"},
                        "attributes": [{"name": "rack_id", "type": "TEXT", "text": {"value": "rack-2"}},
                                       {"name": "weight", "type": "SCALAR", "scalar": {"value": 2}}],
                        "domain": {"fault_domain": {"region": {"name": "local"}, "zone": {"name": "zone-c"}}}},
         "active": True, "deactivated": False,
         "total_resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0}},
                             {"name": "mem", "type": "SCALAR", "scalar": {"value": 2048.0}},
                             {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 2}]}}],
         "allocated_resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}],
         "drain_info": {"state": "DRAINING", "config": {}}}


def task(framework, state="TASK_RUNNING"):
    return {"task_id": {"value": f"t-{framework}"}, "framework_id": {"value": framework}, "agent_id": {"value": "S3"},
            "state": state, "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.25}}]}


def test_agent_events_become_typed_agents():
    added = decode_event({"type": "AGENT_ADDED", "agent_added": {"agent": AGENT}})
    assert isinstance(added, AgentAdded)
    a = added.agent
    assert (a.agent_id, a.hostname, a.zone, a.region, dict(a.attributes)) == \
        ("S3", "127.0.0.3", "zone-c", "local", {"rack_id": "rack-2", "weight": 2.0})
    assert a.total == Resources(2.0, 2048.0) and a.free == Resources(1.5, 2048.0) and a.drain == "DRAINING"
    assert decode_event({"type": "AGENT_REMOVED", "agent_removed": {"agent_id": {"value": "S3"}}}) == AgentRemoved("S3")


def test_the_snapshot_and_task_events_leave_this_frameworks_own_tasks_out():
    snapshot = decode_event({"type": "SUBSCRIBED", "subscribed": {"get_state": {
        "get_agents": {"agents": [AGENT]}, "get_tasks": {"tasks": [task("me"), task("other")]}}}}, "me")
    assert isinstance(snapshot, ClusterSnapshot)
    assert [a.agent_id for a in snapshot.agents] == ["S3"] and [t.framework_id for t in snapshot.tasks] == ["other"]
    assert decode_event({"type": "TASK_ADDED", "task_added": {"task": task("me")}}, "me") is None
    added = decode_event({"type": "TASK_ADDED", "task_added": {"task": task("other")}}, "me")
    assert isinstance(added, ClusterTasks) and added.tasks[0].resources == Resources(0.25)
    updated = decode_event({"type": "TASK_UPDATED", "task_updated": {
        "framework_id": {"value": "other"}, "state": "TASK_FINISHED",
        "status": {"task_id": {"value": "t-other"}, "agent_id": {"value": "S3"}, "state": "TASK_RUNNING"}}}, "me")
    assert isinstance(updated, ClusterTasks) and updated.tasks[0].state == "TASK_FINISHED" and not updated.tasks[0].live
    assert updated.tasks[0].resources is None   # as it was
    assert decode_event({"type": "HEARTBEAT"}) is None


def test_agent_calls_bodies_follow_master_proto():
    assert agent_call_body("DRAIN_AGENT", "S1", 30) == {"type": "DRAIN_AGENT", "drain_agent": {
        "agent_id": {"value": "S1"}, "max_grace_period": "30s"}}
    assert agent_call_body("REACTIVATE_AGENT", "S1") == {"type": "REACTIVATE_AGENT",
                                                         "reactivate_agent": {"agent_id": {"value": "S1"}}}
    with pytest.raises(ValueError):
        agent_call_body("TEARDOWN", "S1")


def test_a_join_told_by_the_stream_counts_at_once_and_a_later_look_does_not_count_it_again():
    trigger = JoinTrigger(cooldown=2)
    assert not trigger.observe(["S1", "S2"], 0)      # the first look learns the cluster
    trigger.join("S3", 10)
    assert not trigger.due(11) and trigger.due(12.5)
    assert trigger.joined == {"S3"}
    trigger.joined = set()
    assert not trigger.observe(["S1", "S2", "S3"], 30)   # already counted


def test_the_operator_api_carries_the_frameworks_credentials_like_its_subscription():
    """Framework authentication applies to the operator connection too: every call (SUBSCRIBE
    and the agent calls) sends HTTP basic credentials when a principal and secret are given."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from halyard.mesos.master import MesosMaster
    from halyard.mesos.operator_api import OperatorApi

    seen: list[tuple[str | None, str]] = []

    class Master(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.headers.get("Authorization"), json.loads(body)["type"]))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Master)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        master = MesosMaster(f"http://127.0.0.1:{server.server_address[1]}")
        OperatorApi(master, "halyard", "s3cret").agent_call("DEACTIVATE_AGENT", "S1")
        OperatorApi(master, "halyard", "s3cret").subscribe(read_timeout=5).close()
        OperatorApi(master).agent_call("REACTIVATE_AGENT", "S1")
    finally:
        server.shutdown()
        server.server_close()
    basic = "Basic " + base64.b64encode(b"halyard:s3cret").decode()
    assert seen == [(basic, "DEACTIVATE_AGENT"), (basic, "SUBSCRIBE"), (None, "REACTIVATE_AGENT")]
