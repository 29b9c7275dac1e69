"""Znode values: JSON, zlib-compressed (behind a marker byte) when larger than a threshold."""
from __future__ import annotations

import json
import zlib
from typing import Any

COMPRESSED = b"\x01"
THRESHOLD = 1024


def encode(value: Any) -> bytes:
    raw = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    if len(raw) > THRESHOLD:
        return COMPRESSED + zlib.compress(raw, 6)
    return raw


def decode(data: bytes) -> Any:
    if data[:1] == COMPRESSED:
        data = zlib.decompress(data[1:])
    return json.loads(data)
