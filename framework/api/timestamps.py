"""Marathon's timestamp format, for everything the API renders."""
from __future__ import annotations

import time


def iso(ts: float) -> str:
    """``2026-11-26T12:00:00.000Z`` (UTC, milliseconds) for a Unix time."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"
