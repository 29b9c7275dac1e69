"""Group commit: the status updates queued together are applied one by one and written in one
store transaction, and only then acknowledged (Mesos' rule: acknowledge after persisting).

While one group's write is in flight, the next group is applied to the engine (:func:`pipelined`):
the loop's own work overlaps ZooKeeper's round trip, and what goes out is what one group after the
other would send.

One transaction per update held a launch of 10,000 tasks to ZooKeeper's round trip (three updates
per task). Grouped, the merged :class:`~halyard.engine.messages.Persist` comes first and every
other instruction follows in the order the engine gave it: an instruction only ever moves behind
writes, never ahead of one, so nothing is announced (an acknowledgement, a kill) before what it
depends on is durable, and a failed write sends none of the group's acknowledgements (Mesos sends
those updates again).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any

from ..engine.messages import Instruction, Persist

#: the most status updates written in one group (a task record is about 0.5 KB: the transaction
#: stays well under the store's size limit, and the engine lock is held only briefly)
MAX_GROUP = 500
#: the most groups applied while one write is in flight, written together after it (ZooKeeper
#: slow: fewer, larger transactions, and a task's starting and running records merged into one)
MAX_AHEAD = 4


def group_commit(batches: Iterable[list[Instruction]]) -> list[Instruction]:
    """The instructions of several events as one list: one Persist (each task's last record only)
    first, then the others in order."""
    persist = Persist()
    rest: list[Instruction] = []
    for instructions in batches:
        for ins in instructions:
            if isinstance(ins, Persist):
                persist.extend(ins)
            else:
                rest.append(ins)
    if not persist:
        return rest
    if len(persist.tasks) > 1:
        last = {t.task_id: t for t in persist.tasks}  # a later record of a task replaces an earlier one
        persist.tasks = list(last.values())
    return [persist, *rest]


def pipelined(instructions: list[Instruction], apply: Callable[[list[Any]], list[Instruction]],
              take: Callable[[], list[Any]], carry_out: Callable[[list[Instruction]], None],
              writer: Executor) -> None:
    """Carry out one group's ``instructions`` (as :func:`group_commit` orders them), and the
    groups that ``take`` still finds queued, each ``apply``-ed to the engine while the group
    before it is being written.

    The Persist at the head of a group is carried out on ``writer`` (one thread); meanwhile the
    next group is taken and applied, and while the write is still not done more groups (up to
    ``MAX_AHEAD`` in all), which then go out as one group (:func:`group_commit`: one write, each
    task's last record only). Then the write is waited for, and only then are the group's other
    instructions carried out and the next group's write started. So the writes, and every
    acknowledgement, kill and event after its write, go out as they would without the overlap,
    groups merged when ZooKeeper is slow. A failed write raises here, before any instruction of
    its group or the next is carried out (the leadership ends, and with it the engine that
    applied the next groups).
    """
    group: list[Instruction] | None = instructions
    while group is not None:
        following: list[Instruction] | None = None
        if group and isinstance(group[0], Persist):
            writing = writer.submit(carry_out, group[:1])
            ahead: list[list[Instruction]] = []
            try:
                while len(ahead) < MAX_AHEAD and (not ahead or not writing.done()) and (taken := take()):
                    ahead.append(apply(taken))
            finally:
                writing.result()   # a failed write raises (a StepDown, a StoreError) before anything else goes out
            following = (ahead[0] if len(ahead) == 1 else group_commit(ahead)) if ahead else None
            carry_out(group[1:])
        else:
            carry_out(group)
            taken = take()
            following = apply(taken) if taken else None
        group = following
