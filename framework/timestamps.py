"""Marathon's timestamp format, shared by the API's JSON and the TaskInfos' version labels."""
from __future__ import annotations

import calendar
import time


def iso(ts: float) -> str:
    """``2026-11-26T12:00:00.000Z`` (UTC, milliseconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def parse_iso(text: str) -> float:
    """The Unix time of an :func:`iso` timestamp."""
    whole, _, millis = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + int(millis or 0) / 1000
