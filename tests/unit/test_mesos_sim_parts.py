"""The simulator's pure parts (bench/mesos_sim): RecordIO framing, resources, offer filters and
suppression, and reliable status updates (retried until acknowledged)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from mesos_sim.filters import DEFAULT_REFUSE_SECONDS, MAX_REFUSE_SECONDS, OfferFilters, refuse_seconds  # noqa: E402
from mesos_sim.recordio import Decoder, RecordIOError, encode, encode_many  # noqa: E402
from mesos_sim.resources import ResourceError, Resources, merge, parse_ranges, ranges_contain, ranges_minus  # noqa: E402
from mesos_sim.updates import Pending, StatusStreams  # noqa: E402

# --- RecordIO ---------------------------------------------------------------------------------------


def test_a_record_is_its_length_a_newline_and_its_bytes():
    assert encode(b'{"type":"HEARTBEAT"}') == b'20\n{"type":"HEARTBEAT"}'
    assert encode_many([b"ab", b"cde"]) == b"2\nab3\ncde"


def test_an_empty_record_cannot_be_framed():
    with pytest.raises(RecordIOError):
        encode(b"")


@pytest.mark.parametrize("split", [1, 2, 3, 5, 7, 100])
def test_records_come_out_whole_whatever_the_chunking(split):
    records = [b"x" * n for n in (1, 9, 10, 11, 250)] + ['{"é":1}'.encode()]
    stream = encode_many(records)
    decoder, out = Decoder(), []
    for i in range(0, len(stream), split):
        out += decoder.feed(stream[i:i + split])
    assert out == records
    assert decoder.pending == 0


def test_a_partial_record_waits_for_the_rest():
    decoder = Decoder()
    assert decoder.feed(b"5\nab") == []
    assert decoder.pending == 2
    assert decoder.feed(b"cde6") == [b"abcde"]
    assert decoder.feed(b"\nfghijk") == [b"fghijk"]


@pytest.mark.parametrize("bad", [b"x\nabc", b"0\n", b"-3\nabc", b"9" * 25])
def test_a_stream_that_is_not_recordio_is_refused(bad):
    with pytest.raises(RecordIOError):
        Decoder().feed(bad)


# --- resources --------------------------------------------------------------------------------------


def test_ranges_merge_sort_and_join_adjacent_ones():
    assert merge([(5, 9), (1, 3), (4, 4), (20, 25), (22, 30)]) == ((1, 9), (20, 30))
    assert parse_ranges("[31000-31099, 31200-31299]") == ((31000, 31099), (31200, 31299))


@pytest.mark.parametrize("outer, inner, contained, rest", [
    (((1, 10),), ((3, 4),), True, ((1, 2), (5, 10))),
    (((1, 10),), ((1, 10),), True, ()),
    (((1, 10), (20, 30)), ((10, 10), (20, 21)), True, ((1, 9), (22, 30))),
    (((1, 10),), ((9, 11),), False, None),
    (((1, 10), (20, 30)), ((15, 15),), False, None),
    (((1, 5),), (), True, ((1, 5),)),
])
def test_ranges_contain_and_subtract(outer, inner, contained, rest):
    assert ranges_contain(outer, inner) is contained
    if contained:
        assert ranges_minus(outer, inner) == rest


def test_scalars_are_fixed_point_so_adding_and_taking_back_never_drifts():
    total = Resources.of(cpus=1, mem=128)
    step = Resources.of(cpus=0.1, mem=0.3)
    left = total
    for _ in range(10):
        left = left - step
    assert left == Resources.of(cpus=0, mem=125)
    for _ in range(10):
        left = left + step
    assert left == total


def test_a_task_s_resources_are_summed_from_its_json_and_checked_against_an_offer():
    task = Resources.from_json([
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.25}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31001}]}}])
    offer = Resources.from_text("cpus:1;mem:128;ports:[31000-31009]")
    assert offer.contains(task)
    assert (offer - task).amounts() == Resources.of(cpus=0.25, mem=64, ports=[(31002, 31009)]).amounts()
    assert not Resources.from_text("cpus:0.5;mem:128;ports:[31000-31009]").contains(task)
    assert not Resources.from_text("cpus:1;mem:128;ports:[31001-31009]").contains(task)


@pytest.mark.parametrize("bad", [
    [{"name": "cpus", "type": "SCALAR"}],
    [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 2}, {"begin": 2, "end": 3}]}}],
    [{"name": "network_bandwidth", "type": "SCALAR", "scalar": {"value": 1}}],
])
def test_resources_the_simulator_cannot_account_are_refused(bad):
    with pytest.raises(ResourceError):
        Resources.from_json(bad)


def test_an_offer_carries_unreserved_resources_allocated_to_the_role():
    rendered = Resources.from_text("cpus:2;mem:512;ports:[31000-31001]").to_json("web")
    assert [r["name"] for r in rendered] == ["cpus", "mem", "ports"]
    assert rendered[0] == {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0}, "role": "*",
                           "allocation_info": {"role": "web"}}
    assert rendered[2]["ranges"] == {"range": [{"begin": 31000, "end": 31001}]}


def test_only_resources_above_the_minimum_are_worth_offering():
    assert Resources.of(cpus=0.01).allocatable()
    assert Resources.of(mem=32).allocatable()
    assert not Resources.of(cpus=0.009, mem=31, ports=[(1, 1000)]).allocatable()


# --- offer filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("filters, seconds", [
    (None, DEFAULT_REFUSE_SECONDS), ({}, DEFAULT_REFUSE_SECONDS), ({"refuse_seconds": -1}, DEFAULT_REFUSE_SECONDS),
    ({"refuse_seconds": 0}, 0.0), ({"refuse_seconds": 120}, 120.0), ({"refuse_seconds": 1e12}, MAX_REFUSE_SECONDS),
])
def test_refuse_seconds_follow_mesos_proto_defaults(filters, seconds):
    assert refuse_seconds(filters) == seconds


def test_a_refused_agent_is_not_offered_again_until_the_filter_expires():
    f = OfferFilters()
    avail = Resources.of(cpus=4, mem=1024)
    f.refuse("S1", avail, 5.0, now=100.0)
    assert f.filtered("S1", avail, now=104.9)
    assert not f.filtered("S2", avail, now=104.9)
    assert not f.filtered("S1", avail, now=105.0)
    assert f.count(now=105.0) == 0


def test_more_resources_on_the_agent_lift_the_filter_early():
    f = OfferFilters()
    f.refuse("S1", Resources.of(cpus=1, mem=128), 60.0, now=0.0)
    assert f.filtered("S1", Resources.of(cpus=0.5, mem=128), now=1.0)
    assert not f.filtered("S1", Resources.of(cpus=2, mem=128), now=1.0)   # a task ended there meanwhile


def test_zero_seconds_or_nothing_refused_sets_no_filter():
    f = OfferFilters()
    f.refuse("S1", Resources.of(cpus=1), 0.0, now=0.0)
    f.refuse("S1", Resources(), 60.0, now=0.0)
    assert not f.filtered("S1", Resources.of(cpus=1), now=1.0)


def test_revive_clears_the_filters_and_the_suppression():
    f = OfferFilters()
    f.refuse("S1", Resources.of(cpus=1), 60.0, now=0.0)
    f.suppress()
    assert f.suppressed
    f.revive()
    assert not f.suppressed
    assert not f.filtered("S1", Resources.of(cpus=1), now=1.0)


# --- reliable status updates --------------------------------------------------------------------------


def _update(task: str, uuid: str, state: str = "TASK_RUNNING", terminal: bool = False) -> Pending:
    return Pending(task, uuid, state, {"task_id": {"value": task}, "state": state, "uuid": uuid}, terminal)


def test_an_update_goes_at_once_when_its_task_has_none_pending_and_waits_otherwise():
    s = StatusStreams()
    assert s.add(_update("t1", "a", "TASK_STARTING"), now=0.0) is not None
    assert s.add(_update("t1", "b"), now=0.1) is None   # behind the unacknowledged one
    assert s.add(_update("t2", "c"), now=0.1) is not None
    assert len(s) == 3
    assert s.head("t1").uuid == "a"


def test_an_acknowledgement_of_the_head_releases_the_next_update():
    s = StatusStreams()
    s.add(_update("t1", "a", "TASK_STARTING"), now=0.0)
    s.add(_update("t1", "b"), now=0.0)
    done, nxt = s.ack("t1", "a", now=1.0)
    assert done.uuid == "a" and nxt.uuid == "b"
    done, nxt = s.ack("t1", "b", now=1.0)
    assert done.uuid == "b" and nxt is None
    assert len(s) == 0


def test_an_acknowledgement_of_anything_but_the_head_is_ignored():
    s = StatusStreams()
    s.add(_update("t1", "a"), now=0.0)
    s.add(_update("t1", "b"), now=0.0)
    assert s.ack("t1", "b", now=1.0) == (None, None)
    assert s.ack("t9", "a", now=1.0) == (None, None)
    assert s.head("t1").uuid == "a"


def test_an_unacknowledged_update_is_resent_with_a_doubling_backoff_up_to_the_maximum():
    s = StatusStreams(retry_min=10.0, retry_max=40.0)
    s.add(_update("t1", "a"), now=0.0)
    resent = []
    for now in range(0, 200):
        resent += [(now, p.uuid) for p in s.due(float(now))]
    assert [t for t, _ in resent] == [10, 30, 70, 110, 150, 190]   # +10, +20, +40, +40, ...
    assert s.retries == 6


def test_an_acknowledged_update_is_not_resent():
    s = StatusStreams(retry_min=10.0)
    s.add(_update("t1", "a"), now=0.0)
    s.ack("t1", "a", now=5.0)
    assert s.due(100.0) == []


def test_the_next_update_s_backoff_starts_again_at_the_minimum():
    s = StatusStreams(retry_min=10.0)
    s.add(_update("t1", "a"), now=0.0)
    s.add(_update("t1", "b"), now=0.0)
    assert [p.uuid for p in s.due(10.0)] == ["a"]
    s.ack("t1", "a", now=12.0)
    assert s.due(21.9) == []
    assert [p.uuid for p in s.due(22.0)] == ["b"]


def test_a_failed_over_framework_gets_every_head_again_at_once():
    s = StatusStreams(retry_min=10.0)
    s.add(_update("t1", "a"), now=0.0)
    s.add(_update("t1", "b"), now=0.0)
    s.add(_update("t2", "c"), now=0.0)
    assert sorted(p.uuid for p in s.resend_all(now=3.0)) == ["a", "c"]
    assert s.due(12.9) == []
    assert sorted(p.uuid for p in s.due(13.0)) == ["a", "c"]


def test_a_dropped_task_s_updates_are_forgotten():
    s = StatusStreams()
    s.add(_update("t1", "a"), now=0.0)
    s.drop("t1")
    assert s.head("t1") is None
    assert s.due(1000.0) == []
