"""The consensus write-ahead log.

Theory of operation
-------------------
The WAL records every input the engine admitted (the ``WalAppend`` effects)
and, written by the node, an ``EndHeight(h)`` marker once block ``h`` is in
the block store.  After a crash the node replays the records after the last
``EndHeight`` into a fresh engine (``Engine.restore``) and resumes the
height it was in.  Because the engine is deterministic, the replayed engine
asks the signer for exactly the messages it signed before, and the signer
returns the stored signatures instead of signing anything new.

Frame format (all integers big-endian)::

    length   4 bytes   length of payload
    check    8 bytes   BLAKE3(length || payload), first 8 bytes
    payload  length    canonical msgpack: [kind, record]

Durability: ``append(event, sync=True)`` writes and fsyncs before returning;
own signed messages and the proposer's own value are logged that way, so
they are on disk before they leave the process.  Other inputs are written
without fsync (losing them in a crash only loses inputs, which peers resend).
Because the file is append-only, an fsync also makes every earlier record
durable.

Opening the log scans every frame:

* a bad frame with nothing valid after it is a *torn tail* (a write cut by
  the crash): it is truncated, the file fsync'd, and the log opens;
* a bad frame followed by a valid frame is *corruption in the middle*: the
  log refuses to open with :class:`WalCorruptError` (one line: where and
  why).  Deleting the WAL and restarting from the block store is safe for
  the signer (it keeps its own state), but that is the operator's call.

Files: :class:`OsFile` for the real disk.  The simulator passes an
in-memory file with the same interface whose unsynced bytes can be lost or
torn at a crash.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Protocol

import blake3

from ledger.codec import CodecError, Record, UInt, decode, encode

from .events import EVENT_KINDS, Event, StartHeight

HEADER = 12
MAX_RECORD = 16 * 1024 * 1024


class WalCorruptError(Exception):
    """The WAL is damaged before its tail; consensus must not start on it."""


class WalFile(Protocol):
    def read_all(self) -> bytes: ...
    def append(self, data: bytes) -> None: ...
    def sync(self) -> None: ...
    def truncate(self, size: int) -> None: ...
    def rewrite(self, data: bytes) -> None: ...


class OsFile:
    """A WAL file on disk: O_APPEND writes, fsync on demand."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)

    def read_all(self) -> bytes:
        with open(self.path, "rb") as f:
            return f.read()

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def sync(self) -> None:
        os.fsync(self._fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)
        os.fsync(self._fd)

    def rewrite(self, data: bytes) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.close(self._fd)
        os.replace(tmp, self.path)
        dfd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)

    def close(self) -> None:
        os.close(self._fd)


@dataclasses.dataclass(frozen=True)
class EndHeight(Record):
    """Block ``height`` is in the block store: replay starts after this."""

    KIND = "end_height"
    SCHEMA = {"height": UInt()}
    height: int


_KINDS: dict[str, type[Record]] = {**EVENT_KINDS, EndHeight.KIND: EndHeight}


def _check(length: bytes, payload: bytes) -> bytes:
    return blake3.blake3(length + payload).digest()[:8]


def frame(record: Record) -> bytes:
    payload = encode([record.KIND, record.to_obj()])  # type: ignore[attr-defined]
    if len(payload) > MAX_RECORD:
        raise ValueError("WAL record too large")
    length = len(payload).to_bytes(4, "big")
    return length + _check(length, payload) + payload


def _parse_at(data: bytes, off: int) -> tuple[bytes, int] | None:
    """The payload of a valid frame at ``off`` and the next offset, or None."""
    if off + HEADER > len(data):
        return None
    length = data[off : off + 4]
    n = int.from_bytes(length, "big")
    if n > MAX_RECORD or off + HEADER + n > len(data):
        return None
    payload = data[off + HEADER : off + HEADER + n]
    if _check(length, payload) != data[off + 4 : off + HEADER]:
        return None
    return payload, off + HEADER + n


def _decode_record(payload: bytes, off: int) -> Record:
    try:
        kind, obj = decode(payload)
        cls = _KINDS[kind]
        return cls.from_obj(obj)
    except (CodecError, KeyError, TypeError, ValueError) as e:
        raise WalCorruptError(f"wal: undecodable record at offset {off}: {e}") from None


def scan(data: bytes) -> tuple[list[Record], int]:
    """Decode all frames; return (records, length of the valid prefix).

    Raises :class:`WalCorruptError` if a bad frame is followed by a good one.
    """
    records: list[Record] = []
    off = 0
    while off < len(data):
        got = _parse_at(data, off)
        if got is None:
            for later in range(off + 1, len(data) - HEADER + 1):
                if _parse_at(data, later) is not None:
                    raise WalCorruptError(
                        f"wal: corrupt record at offset {off} followed by valid records at {later}; refusing to start"
                    )
            return records, off
        payload, nxt = got
        records.append(_decode_record(payload, off))
        off = nxt
    return records, off


class WAL:
    """Append-only log of engine inputs with EndHeight markers.

    Memory is O(1) in the number of records: the log keeps the file's valid
    length, the offset where the records after the last ``EndHeight``
    begin, and that height -- not the records.  ``events_to_replay`` and
    ``checkpoint`` read the tail back from the file (at boot and every
    100 heights).  What goes in is bounded by the engine's admission (issue
    14, fault 5): only admitted inputs are logged, and one validator can make
    a height admit O(rounds) votes and proposals, not an unbounded number.
    """

    def __init__(self, file: WalFile):
        self.file = file
        data = file.read_all()
        records, valid = scan(data)
        self.truncated_bytes = len(data) - valid
        if self.truncated_bytes:
            file.truncate(valid)
        self._size = valid
        self._tail = 0  # offset of the first record to replay: see _mark_end
        self._last_end: int | None = None
        self._last_start: tuple[int, int] | None = None  # (offset, height) of the last StartHeight record
        off = 0
        for rec in records:
            start = off
            off += len(frame(rec))
            if isinstance(rec, EndHeight):
                self._mark_end(rec.height, off)
            elif isinstance(rec, StartHeight):
                self._last_start = (start, rec.height)

    def _mark_end(self, height: int, after: int) -> None:
        self._last_end = height
        ls = self._last_start
        # a pipelined node marks block h stored after it has begun height h + 1 (its StartHeight and
        # first records precede the marker): replay then starts at that StartHeight, markers skipped
        self._tail = ls[0] if ls is not None and ls[1] > height else after

    def append(self, event: Event, sync: bool = False) -> None:
        data = frame(event)
        if type(event) is StartHeight:
            self._last_start = (self._size, event.height)
        self.file.append(data)
        self._size += len(data)
        if sync:
            self.file.sync()

    def end_height(self, height: int) -> None:
        """Mark block ``height`` as stored (fsync'd)."""
        data = frame(EndHeight(height))
        self.file.append(data)
        self.file.sync()
        self._size += len(data)
        self._mark_end(height, self._size)

    def last_end_height(self) -> int | None:
        return self._last_end

    def events_to_replay(self) -> list[Event]:
        """The engine events of the heights after the last EndHeight marker (read from the file)."""
        data = self.file.read_all()[self._tail : self._size]
        records, _ = scan(data)
        return [r for r in records if not isinstance(r, EndHeight)]  # type: ignore[misc]

    def checkpoint(self) -> None:
        """Drop everything before the last EndHeight (atomic rewrite)."""
        if self._last_end is None:
            return
        marker = frame(EndHeight(self._last_end))
        tail = self.file.read_all()[self._tail : self._size]
        self.file.rewrite(marker + tail)
        self._size = len(marker) + len(tail)
        self._tail = len(marker)
        if self._last_start is not None and self._last_start[1] > self._last_end:
            self._last_start = (len(marker), self._last_start[1])  # the tail begins with it
        else:
            self._last_start = None
