"""Mesos' RecordIO framing (the operator and scheduler APIs' streams): each record is its length
in bytes as decimal digits, a newline, then the record. Pure: bytes in, records out."""
from __future__ import annotations

from ..errors import UpstreamError

MAX_RECORD = 256 * 1024 * 1024  # a SUBSCRIBED snapshot of a big cluster is large; a garbled length is larger


class RecordIODecoder:
    """Feed it the stream's bytes as they come (any chunking); it returns the whole records."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._length: int | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """The records ``data`` completes, in order; a length that is not a number (or absurd)
        raises UpstreamError: the stream is garbled, and its reader reconnects."""
        self._buffer += data
        out: list[bytes] = []
        while True:
            if self._length is None:
                newline = self._buffer.find(b"\n")
                if newline < 0:
                    if len(self._buffer) > 20:
                        raise UpstreamError(f"RecordIO: no record length in {bytes(self._buffer[:20])!r}")
                    return out
                digits = bytes(self._buffer[:newline]).strip()
                if not digits.isdigit() or int(digits) > MAX_RECORD:
                    raise UpstreamError(f"RecordIO: bad record length {digits[:20]!r}")
                self._length = int(digits)
                del self._buffer[:newline + 1]
            if len(self._buffer) < self._length:
                return out
            out.append(bytes(self._buffer[:self._length]))
            del self._buffer[:self._length]
            self._length = None
