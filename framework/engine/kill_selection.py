"""Which tasks a scale-down kills: by ``killSelection``, and, as Marathon's ``selectTasksToKill``
does, so that every ``GROUP_BY`` constraint stays balanced (its values within one task of each
other, or closer to it than before).

Each kill is taken from the largest group of the app's first ``GROUP_BY`` constraint (then of
the next ones, to break ties), and within that by ``killSelection``. A task's group is its
agent's value for the field, read from what the engine learnt of the agent from its offers
(``hostname`` is known from the task itself). When an agent of one of the tasks is not known
(after a failover, until its next offer), that constraint cannot steer and the order is
``killSelection``'s alone for it.
"""
from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from ..spec.app import Constraint, Operator
from .app_records import TaskRecord

#: An agent id -> its constraint field values (``halyard.placement.state.field_values``), or
#: None when the engine has not seen the agent.
AgentValues = Callable[[str], Mapping[str, str] | None]

_UNKNOWN = object()


def _value(task: TaskRecord, field: str, agent_values: AgentValues) -> object:
    if field in ("hostname", "@hostname"):
        return task.hostname
    values = agent_values(task.agent_id)
    if values is None:
        return _UNKNOWN
    return values.get(field)  # None: the agent lacks the field (a group of its own, as in Marathon)


def select_kills(ordered: list[TaskRecord], count: int, constraints: Sequence[Constraint],
                 agent_values: AgentValues | None = None) -> list[TaskRecord]:
    """The ``count`` tasks to kill among ``ordered`` (in ``killSelection`` order): from the largest
    ``GROUP_BY`` groups first, then the first in that order."""
    lookup: AgentValues = agent_values or (lambda agent_id: None)
    groupings: list[list[object]] = []
    for field in dict.fromkeys(c.field for c in constraints if c.operator is Operator.GROUP_BY):
        values = [_value(t, field, lookup) for t in ordered]
        if _UNKNOWN not in values:
            groupings.append(values)
    if not groupings or count >= len(ordered):
        return ordered[:max(0, count)]
    sizes = [Counter(values) for values in groupings]

    def key(i: int) -> tuple:
        return tuple(-size[values[i]] for size, values in zip(sizes, groupings)) + (i,)

    # Keys only grow as tasks are chosen (their groups shrink): a popped key that is still
    # current is the smallest there is; a stale one goes back with its current key.
    heap = [key(i) for i in range(len(ordered))]
    heapq.heapify(heap)
    chosen: list[TaskRecord] = []
    while len(chosen) < count:
        entry = heapq.heappop(heap)
        i = entry[-1]
        current = key(i)
        if current != entry:
            heapq.heappush(heap, current)
            continue
        chosen.append(ordered[i])
        for size, values in zip(sizes, groupings):
            size[values[i]] -= 1
    return chosen
