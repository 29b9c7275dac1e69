"""Reliable status updates: what an agent's task status update manager does.

Per task, updates form a stream delivered in order: only the oldest unacknowledged update is
sent, and it is sent again until the scheduler acknowledges its uuid, with a backoff from 10 s
doubling to 10 min (src/slave/constants.hpp ``STATUS_UPDATE_RETRY_INTERVAL_MIN/MAX``). An
acknowledgement of the head lets the next update go at once. When the framework fails over (a
new subscription), every head is sent again at once (``Slave::updateFramework`` resumes the
manager). An acknowledgement of an unknown uuid is ignored.

Pure: ``now`` is given; what to send is returned, never sent from here.
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Any

RETRY_MIN = 10.0
RETRY_MAX = 600.0


@dataclass
class Pending:
    """One update waiting for its acknowledgement."""

    task_id: str
    uuid: str
    state: str
    status: dict[str, Any]          # the TaskStatus JSON sent in the UPDATE event
    terminal: bool = False


@dataclass
class _Stream:
    queue: deque = field(default_factory=deque)   # of Pending, head first
    due: float = 0.0                              # when the head is sent again
    backoff: float = RETRY_MIN


class StatusStreams:
    """Every task's update stream, for the tasks of one framework."""

    def __init__(self, retry_min: float = RETRY_MIN, retry_max: float = RETRY_MAX):
        self.retry_min, self.retry_max = retry_min, retry_max
        self._streams: dict[str, _Stream] = {}
        self._timers: list[tuple[float, int, str, str]] = []   # (due, seq, task_id, head uuid): lazily dropped
        self._seq = 0
        self.retries = 0

    def __len__(self) -> int:
        return sum(len(s.queue) for s in self._streams.values())

    def head(self, task_id: str) -> Pending | None:
        stream = self._streams.get(task_id)
        return stream.queue[0] if stream and stream.queue else None

    def add(self, update: Pending, now: float) -> Pending | None:
        """Queue an update; returns it when it is to be sent now (its stream was idle)."""
        stream = self._streams.get(update.task_id)
        if stream is None:
            stream = self._streams[update.task_id] = _Stream()
        stream.queue.append(update)
        if len(stream.queue) == 1:
            self._arm(stream, update, now, reset=True)
            return update
        return None

    def ack(self, task_id: str, uuid: str, now: float) -> tuple[Pending | None, Pending | None]:
        """(the update acknowledged or None if ``uuid`` is not the head's, the next update to send now)."""
        stream = self._streams.get(task_id)
        if stream is None or not stream.queue or stream.queue[0].uuid != uuid:
            return None, None
        done = stream.queue.popleft()
        if not stream.queue:
            del self._streams[task_id]
            return done, None
        nxt = stream.queue[0]
        self._arm(stream, nxt, now, reset=True)
        return done, nxt

    def drop(self, task_id: str) -> None:
        """Forget a task's stream (its agent is gone; the master speaks for it now)."""
        self._streams.pop(task_id, None)

    def due(self, now: float) -> list[Pending]:
        """Heads whose retry is due now; each is re-armed with a doubled backoff."""
        out = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, task_id, uuid = heapq.heappop(timers)
            stream = self._streams.get(task_id)
            if stream is None or not stream.queue or stream.queue[0].uuid != uuid or stream.due > now:
                continue   # acknowledged, or re-armed later meanwhile
            stream.backoff = min(stream.backoff * 2, self.retry_max)
            self._arm(stream, stream.queue[0], now, reset=False)
            self.retries += 1
            out.append(stream.queue[0])
        return out

    def resend_all(self, now: float) -> list[Pending]:
        """Every head, now (a framework failed over); their backoff starts again."""
        out = []
        for stream in self._streams.values():
            if stream.queue:
                self._arm(stream, stream.queue[0], now, reset=True)
                out.append(stream.queue[0])
        return out

    def next_due(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def _arm(self, stream: _Stream, head: Pending, now: float, reset: bool) -> None:
        if reset:
            stream.backoff = self.retry_min
        stream.due = now + stream.backoff
        self._seq += 1
        heapq.heappush(self._timers, (stream.due, self._seq, head.task_id, head.uuid))
