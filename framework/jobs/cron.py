"""Cron expressions in a time zone: validation and the next firing time. Pure (croniter, zoneinfo).

Expressions are the classic five fields (minute hour day-of-month month day-of-week), as
Metronome's; an optional sixth field, last, gives seconds (croniter's extension: ``* * * * * */10``), which makes
sub-minute schedules possible for tests and demos; a seventh gives the year (Metronome's optional
sixth field is a year: its API module writes it as ``... 0 YEAR``).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter


def check_expression(expression: str) -> None:
    """Raise ValueError naming the problem when ``expression`` is not a valid cron expression."""
    fields = expression.split()
    if len(fields) not in (5, 6, 7):
        raise ValueError(f"expected 5 fields (minute hour day month weekday), 6 (with seconds) or 7 (and a year), "
                         f"got {len(fields)} in {expression!r}")
    if not croniter.is_valid(expression):
        raise ValueError(f"not a valid cron expression: {expression!r}")


def check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


def next_fire(expression: str, timezone: str, after: float) -> float:
    """The first firing strictly after ``after`` (a Unix time), in Unix time."""
    start = datetime.fromtimestamp(after, ZoneInfo(timezone))
    return float(croniter(expression, start).get_next(float))
