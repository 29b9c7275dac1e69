"""Reconciliation and kill retries: asking Mesos again until it answers.

* After every (re)subscription, every task Halyard knows is reconciled explicitly, retried with
  a doubling interval (``reconcile_first_retry`` up to ``reconcile_max_retry``) until each task
  has answered with a status update.
* Implicit reconciliation (Mesos reports every task it knows of this framework) comes
  ``implicit_first`` seconds after subscribing, then every ``implicit_every`` seconds.
* A KILL that had no effect is sent again after ``kill_retry`` seconds.
"""
from __future__ import annotations

from collections.abc import Iterable

from .messages import Instruction, Kill, Reconcile


class Reconciler:
    """Which tasks have not answered yet, when to ask again, and when each kill was last sent."""

    def __init__(self, first_retry: float, max_retry: float, implicit_first: float, implicit_every: float,
                 kill_retry: float):
        self.first_retry, self.max_retry = first_retry, max_retry
        self.implicit_first, self.implicit_every = implicit_first, implicit_every
        self.kill_retry = kill_retry
        self._waiting: dict[str, str | None] = {}   # task id -> agent id, not answered yet
        self._at = 0.0
        self._interval = first_retry
        self._implicit_at: float | None = None
        self._kill_sent: dict[str, float] = {}

    def start(self, tasks: Iterable[tuple[str, str | None]], now: float) -> list[Instruction]:
        """(Re)subscribed: ask about every known task now, and schedule the retries."""
        self._waiting = dict(tasks)
        self._interval = self.first_retry
        self._at = now + self._interval
        self._implicit_at = now + self.implicit_first
        return [Reconcile(tuple(self._waiting.items()))] if self._waiting else []

    def answered(self, task_id: str) -> None:
        """A status update about the task arrived."""
        self._waiting.pop(task_id, None)

    def pending(self) -> int:
        """How many tasks have not answered explicit reconciliation yet."""
        return len(self._waiting)

    def kill(self, task_id: str, agent_id: str | None, now: float) -> Kill:
        """Send a KILL (and remember when, to retry it)."""
        self._kill_sent[task_id] = now
        return Kill(task_id, agent_id)

    def forget(self, task_id: str) -> None:
        """The task is gone: no kill to retry."""
        self._kill_sent.pop(task_id, None)

    def tick(self, now: float, killing: Iterable[tuple[str, str | None]]) -> list[Instruction]:
        """Retries that are due: explicit, implicit, and kills of the ``killing`` tasks."""
        out: list[Instruction] = []
        if self._waiting and now >= self._at:
            out.append(Reconcile(tuple(self._waiting.items())))
            self._interval = min(self._interval * 2, self.max_retry)
            self._at = now + self._interval
        if self._implicit_at is not None and now >= self._implicit_at:
            out.append(Reconcile(()))
            self._implicit_at = now + self.implicit_every
        for task_id, agent_id in killing:
            sent = self._kill_sent.get(task_id)
            if sent is None or now - sent >= self.kill_retry:
                out.append(self.kill(task_id, agent_id, now))
        return out
