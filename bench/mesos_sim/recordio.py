"""RecordIO, the framing of the Mesos v1 event stream: ``<decimal length>\\n<that many bytes>``.

Mesos' docs/recordio.md: a record's length is a 64-bit unsigned decimal, never 0, followed by a
line feed and the record. The HTTP chunks around the records are a transport detail: a record may
span chunks and a chunk may hold several records, so the decoder keeps what it has not used.
"""
from __future__ import annotations

MAX_RECORD = 1 << 31   # a length beyond this is taken as a corrupt stream, not a record to wait for


class RecordIOError(ValueError):
    """The bytes are not RecordIO (a length that is not a decimal, zero, or absurdly large)."""


def encode(record: bytes) -> bytes:
    """One record, framed."""
    if not record:
        raise RecordIOError("a RecordIO record is never empty")
    return b"%d\n%s" % (len(record), record)


def encode_many(records: list[bytes]) -> bytes:
    """Several records framed back to back (one write, one HTTP chunk)."""
    return b"".join(b"%d\n%s" % (len(r), r) for r in records)


class Decoder:
    """Bytes in (any split), whole records out, in order."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._need: int | None = None   # the length of the record being read, once its header is in

    def feed(self, data: bytes) -> list[bytes]:
        """The records completed by ``data``; a partial record waits for the next feed."""
        self._buf += data
        out: list[bytes] = []
        pos = 0
        buf = self._buf
        while True:
            if self._need is None:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    if len(buf) - pos > 20:
                        raise RecordIOError(f"no record length in {bytes(buf[pos:pos + 24])!r}")
                    break
                header = bytes(buf[pos:nl])
                if not header.isdigit():
                    raise RecordIOError(f"a record length must be decimal digits, got {header[:24]!r}")
                need = int(header)
                if need == 0 or need > MAX_RECORD:
                    raise RecordIOError(f"record length {need} is out of range")
                self._need = need
                pos = nl + 1
            if len(buf) - pos < self._need:
                break
            out.append(bytes(buf[pos:pos + self._need]))
            pos += self._need
            self._need = None
        del buf[:pos]
        return out

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a whole record."""
        return len(self._buf)
