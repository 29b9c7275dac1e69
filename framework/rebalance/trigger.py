"""When the scheduler rebalances by itself (``--rebalance-on-agent-join``): a cooldown after an
agent joins. Pure: agent ids and times in, "run now" out.

An agent joins when its id is active now and was not at the last look: a new agent, or one back
after it was down. The first look (a new leader's) only learns the cluster. A run comes
``cooldown`` seconds after the first join not yet answered (agents joining meanwhile are covered
by the same run), and never sooner than ``cooldown`` after the last run.
"""
from __future__ import annotations

from collections.abc import Iterable


class JoinTrigger:
    """Says when to rebalance after agents join."""

    def __init__(self, cooldown: float):
        self.cooldown = cooldown
        self._active: set[str] | None = None   # None: not looked yet
        self._joined_at: float | None = None   # the first join not answered by a run yet
        self._last_run = float("-inf")
        self.joined: set[str] = set()              # the agents that joined since the last run

    def reset(self) -> None:
        """Leadership lost: the next look learns the cluster again."""
        self._active, self._joined_at, self.joined = None, None, set()

    def join(self, agent_id: str, now: float) -> None:
        """An agent joined, as the master's operator stream says (AGENT_ADDED): at once, without
        waiting for the next look."""
        self.joined.add(agent_id)
        if self._joined_at is None:
            self._joined_at = now
        if self._active is not None:
            self._active.add(agent_id)

    def observe(self, active: Iterable[str], now: float) -> bool:
        """The master's active agents now; True when a rebalance is due (then it counts as run)."""
        ids = set(active)
        if self._active is not None:
            new = ids - self._active
            if new:
                self.joined |= new
                if self._joined_at is None:
                    self._joined_at = now
        self._active = ids
        return self.due(now)

    def due(self, now: float) -> bool:
        """True when a rebalance is due now (then it counts as run)."""
        if self._joined_at is None or now - self._joined_at < self.cooldown or now - self._last_run < self.cooldown:
            return False
        self._joined_at, self._last_run = None, now
        return True
