"""Group commit (issue 25): status updates queued together are written in one transaction and
acknowledged only after it."""
from __future__ import annotations

import threading

from halyard.engine.app_records import TaskRecord
from halyard.engine.messages import Acknowledge, Kill, Launch, Offers, Persist, PutApp, StatusUpdate, Subscribed
from halyard.runtime.group_commit import group_commit
from halyard.spec.validation import parse_app

from .test_engine import offer, status
from .test_service import service, until  # noqa: F401  (the fixture)


def record(task_id, state="TASK_RUNNING"):
    return TaskRecord(task_id=task_id, app_id="/web", config_version=1.0, agent_id="S1", hostname="h", ports=(),
                      state=state)


def test_a_groups_writes_come_first_as_one_persist_with_each_tasks_last_record():
    ack_a, ack_b, kill = Acknowledge("a", "S1", "u1"), Acknowledge("b", "S1", "u2"), Kill("c", "S1")
    out = group_commit([[Persist(tasks=[record("a", "TASK_STARTING")]), ack_a],
                        [Persist(tasks=[record("a")], delete_tasks=["b"]), ack_b, kill],
                        [ack_a]])
    assert [type(i).__name__ for i in out] == ["Persist", "Acknowledge", "Acknowledge", "Kill", "Acknowledge"]
    assert out[0].tasks == [record("a")] and out[0].delete_tasks == ["b"]
    assert out[1:] == [ack_a, ack_b, kill, ack_a]
    assert group_commit([[ack_a], [kill]]) == [ack_a, kill]  # nothing to write: nothing added


def test_status_updates_queued_together_are_one_write_then_their_acknowledgements(service):  # noqa: F811
    store, _, drivers, _ = service.fakes
    until(lambda: service.leader() == "me:8080")
    service.submit(PutApp(parse_app({"id": "/web", "cmd": "x", "cpus": 0.1, "mem": 16, "instances": 20})))
    service.post(Subscribed("F1"))
    service.post(Offers((offer(1, cpus=4.0, mem=4096.0, ports=(31000, 31099)),)))
    driver = drivers[0]
    launches = until(lambda: [t for i in driver.executed if isinstance(i, Launch) for t in i.tasks])
    assert len(launches) == 20
    writes: list[tuple[int, set[str]]] = []  # (Mesos calls made before it, the tasks it wrote)
    gate = threading.Event()
    real_commit = store.commit

    def commit(persist):
        gate.wait(5)
        writes.append((len(driver.executed), {t.task_id for t in persist.tasks}))
        real_commit(persist)

    store.commit = commit
    for i, task in enumerate(launches):
        service.post(StatusUpdate(status(task.task_id, "TASK_RUNNING", agent=task.agent_id, uuid=f"u{i}")))
    gate.set()  # the first update's write was held: the others queued behind it meanwhile
    acks = until(lambda: (found := [(n, i.task_id) for n, i in enumerate(list(driver.executed))
                                    if isinstance(i, Acknowledge)]) and len(found) == 20 and found)
    assert len(writes) <= 2 and sum(len(ids) for _, ids in writes) == 20
    for n, task_id in acks:
        assert any(task_id in ids for before, ids in writes if before <= n), f"{task_id} acknowledged before its write"


def pipeline(queued, hold, settle=False):
    """Run ``pipelined`` over ``queued`` groups of task ids after group ``a``; the write whose
    first task is a key of ``hold`` waits until that many groups were applied; with ``settle``
    each apply returns only once the write in flight is done. What went out, and what had gone
    out when each group was applied."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from halyard.runtime.group_commit import pipelined

    out: list[str] = []
    applied: list[list[str]] = []
    writes: list[int] = []   # writes started

    def carry_out(instructions):
        for ins in instructions:
            if isinstance(ins, Persist):
                writes.append(1)
                groups = hold.get(ins.tasks[0].task_id)
                if groups:
                    until(lambda: len(applied) >= groups)
                out.append("write " + ",".join(t.task_id for t in ins.tasks))
            else:
                out.append("ack " + ins.task_id)

    def apply(task_ids):
        applied.append(list(out))
        if settle and writes:
            until(lambda: sum(o.startswith("write ") for o in out) == len(writes))
            time.sleep(0.05)   # and its future is done
        return group_commit([[Persist(tasks=[record(t)]), Acknowledge(t, "S1", "u")] for t in task_ids])

    with ThreadPoolExecutor(1) as writer:
        pipelined(apply(["a"]), apply, lambda: queued.pop(0) if queued else [], carry_out, writer)
    return out, applied


def test_the_next_group_is_applied_while_a_write_is_in_flight_and_goes_out_after_it():
    """``pipelined``: group 2 is applied to the engine during group 1's write; once that write is
    done, group 2 goes out on its own: its write, then its acknowledgements (as one group after
    the other would send them)."""
    out, applied = pipeline([["b", "c"], ["d"]], {"a": 2, "b": 3}, settle=True)
    assert out == ["write a", "ack a", "write b,c", "ack b", "ack c", "write d", "ack d"]
    assert applied == [[], [], ["write a", "ack a"]]   # b,c during a's write; d during b,c's


def test_groups_applied_while_a_slow_write_is_in_flight_go_out_as_one():
    """While a write is slow, up to ``MAX_AHEAD`` groups are applied and then written together
    (one transaction, each task's last record); the groups after them follow as usual."""
    from halyard.runtime.group_commit import MAX_AHEAD

    queued = [["b", "c"], ["d"], ["e"], ["f"], ["g"]]
    assert MAX_AHEAD == 4
    out, applied = pipeline(queued, {"a": 1 + MAX_AHEAD, "b": 2 + MAX_AHEAD})
    assert out == ["write a", "ack a", "write b,c,d,e,f", "ack b", "ack c", "ack d", "ack e", "ack f",
                   "write g", "ack g"]
    assert applied == [[]] * 5 + [["write a", "ack a"]]


def test_a_failed_write_raises_before_its_group_or_the_next_goes_out():
    from concurrent.futures import ThreadPoolExecutor

    import pytest

    from halyard.errors import StoreError
    from halyard.runtime.group_commit import pipelined

    out: list[str] = []

    def carry_out(instructions):
        for ins in instructions:
            if isinstance(ins, Persist):
                raise StoreError("no")
            out.append("ack " + ins.task_id)

    def apply(task_ids):
        return group_commit([[Persist(tasks=[record(t)]), Acknowledge(t, "S1", "u")] for t in task_ids])

    queued = [["b"]]
    with ThreadPoolExecutor(1) as writer, pytest.raises(StoreError):
        pipelined(apply(["a"]), apply, lambda: queued.pop(0) if queued else [], carry_out, writer)
    assert out == [] and queued == []   # the next group was applied, nothing of either went out
