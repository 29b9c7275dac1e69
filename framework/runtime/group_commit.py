"""Group commit: the status updates queued together are applied one by one and written in one
store transaction, and only then acknowledged (Mesos' rule: acknowledge after persisting).

One transaction per update held a launch of 10,000 tasks to ZooKeeper's round trip (three updates
per task). Grouped, the merged :class:`~halyard.engine.messages.Persist` comes first and every
other instruction follows in the order the engine gave it: an instruction only ever moves behind
writes, never ahead of one, so nothing is announced (an acknowledgement, a kill) before what it
depends on is durable, and a failed write sends none of the group's acknowledgements (Mesos sends
those updates again).
"""
from __future__ import annotations

from collections.abc import Iterable

from ..engine.messages import Instruction, Persist

#: the most status updates written in one group (a task record is about 0.5 KB: the transaction
#: stays well under the store's size limit, and the engine lock is held only briefly)
MAX_GROUP = 500


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
