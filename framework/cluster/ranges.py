"""Port ranges as Mesos models them: sorted, disjoint, inclusive ``(begin, end)`` pairs."""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence

Range = tuple[int, int]

_MESOS_RANGES = re.compile(r"\s*\[?\s*(.*?)\s*\]?\s*$")


def normalize(ranges: Iterable[Sequence[int]]) -> tuple[Range, ...]:
    """Sort and merge overlapping or adjacent ranges."""
    out: list[list[int]] = []
    for begin, end in sorted((int(r[0]), int(r[1])) for r in ranges):
        if end < begin:
            raise ValueError(f"range [{begin}, {end}] ends before it begins")
        if out and begin <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([begin, end])
    return tuple((b, e) for b, e in out)


def parse_mesos(text: str) -> tuple[Range, ...]:
    """Parse the master's JSON rendering ``"[31000-31999, 32000-32000]"``."""
    body = _MESOS_RANGES.match(text or "").group(1)  # type: ignore[union-attr]  # the pattern matches any text
    if not body:
        return ()
    pairs = []
    for part in body.split(","):
        lo, _, hi = part.strip().partition("-")
        pairs.append((int(lo), int(hi or lo)))
    return normalize(pairs)


def subtract(ranges: Sequence[Range], used: Sequence[Range]) -> tuple[Range, ...]:
    """``ranges`` minus ``used``."""
    out: list[Range] = []
    for b, e in ranges:
        cur = b
        for ub, ue in used:
            if ue < cur or ub > e:
                continue
            if ub > cur:
                out.append((cur, ub - 1))
            cur = max(cur, ue + 1)
        if cur <= e:
            out.append((cur, e))
    return tuple(out)


def count(ranges: Sequence[Range]) -> int:
    return sum(e - b + 1 for b, e in ranges)


class PortSet:
    """A mutable set of free ports, for planning. Allocation takes the lowest free ports.

    ``size``: how many ports are free (``len()``, without the call: read it, never set it).
    """

    __slots__ = ("_ranges", "size")

    def __init__(self, ranges: Iterable[Sequence[int]] = ()):
        self._ranges: list[list[int]] = [[b, e] for b, e in normalize(ranges)]
        self.size = sum(e - b + 1 for b, e in self._ranges)

    def __len__(self) -> int:
        return self.size

    def __contains__(self, port: int) -> bool:
        i = bisect.bisect_right(self._ranges, [port, float("inf")]) - 1
        return i >= 0 and self._ranges[i][0] <= port <= self._ranges[i][1]

    def ranges(self) -> tuple[Range, ...]:
        return tuple((b, e) for b, e in self._ranges)

    def copy(self) -> PortSet:
        new = PortSet()
        new._ranges = [r[:] for r in self._ranges]
        new.size = self.size
        return new

    def take(self, port: int) -> bool:
        """Remove one given port; False if it is not free."""
        i = bisect.bisect_right(self._ranges, [port, float("inf")]) - 1
        if i < 0 or not self._ranges[i][0] <= port <= self._ranges[i][1]:
            return False
        b, e = self._ranges[i]
        if b == e:
            del self._ranges[i]
        elif port == b:
            self._ranges[i][0] = b + 1
        elif port == e:
            self._ranges[i][1] = e - 1
        else:
            self._ranges[i][1] = port - 1
            self._ranges.insert(i + 1, [port + 1, e])
        self.size -= 1
        return True

    def take_lowest(self) -> int | None:
        """Remove and return the lowest free port, or None."""
        if not self._ranges:
            return None
        first = self._ranges[0]
        port = first[0]
        if first[0] == first[1]:
            del self._ranges[0]
        else:
            first[0] += 1
        self.size -= 1
        return port
