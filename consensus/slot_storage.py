"""The signer's last-sign-state in two fixed slots: one write and one fdatasync a signature.

:class:`consensus.signer.FileStorage` replaces a file atomically: write a
temporary file, fsync it, rename, fsync the directory -- three syncs and a
new inode for every vote.  This storage keeps one preallocated file of two
slots and writes each new state over the *older* slot, then ``fdatasync``
(the file never changes size, so its metadata needs no sync)::

    slot = "ESS1" | seq u64 | length u32 | blake3(seq | length | data) 32 | data | zero padding
    file = slot 0 (SLOT bytes) | slot 1 (SLOT bytes)

Loading reads both slots and returns the valid one with the higher ``seq``.
A crash in the middle of a write can tear only the slot being written,
whose state was never returned to the caller (``save`` returns after the
sync), so the other slot still holds the last state any signature left the
process with: the signer's rule "stored state at least as new as any
signature given out" holds.  Two torn or foreign slots in a file that was
written refuse to load (the signer then refuses to sign, as with a corrupt
state file).

A node that had a ``FileStorage`` file (``legacy``) reads it until the first
save writes a slot.
"""

from __future__ import annotations

import os

from ledger.crypto import tagged_hash

from .signer import SignerStateError

MAGIC = b"ESS1"
SLOT = 8192
_HEAD = 4 + 8 + 4 + 32


class SlotStorageError(SignerStateError):
    """Neither slot holds a valid state, though the file was written."""


def _digest(seq: int, data: bytes) -> bytes:
    return tagged_hash("signer slot", seq.to_bytes(8, "big") + len(data).to_bytes(4, "big") + data)


def _parse(slot: bytes) -> tuple[int, bytes] | None:
    if len(slot) < _HEAD or slot[:4] != MAGIC:
        return None
    seq = int.from_bytes(slot[4:12], "big")
    n = int.from_bytes(slot[12:16], "big")
    if n > SLOT - _HEAD:
        return None
    data = slot[_HEAD:_HEAD + n]
    if _digest(seq, data) != slot[16:48]:
        return None
    return seq, data


class SlotStorage:
    def __init__(self, path: str | os.PathLike, legacy: str | os.PathLike | None = None):
        self.path = os.fspath(path)
        self.legacy = os.fspath(legacy) if legacy is not None else None
        self._fd: int | None = None
        self._seq = 0
        self._loaded = False

    def _open(self) -> int:
        if self._fd is None:
            new = not os.path.exists(self.path)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            if new or os.fstat(fd).st_size < 2 * SLOT:
                os.ftruncate(fd, 2 * SLOT)
                os.fsync(fd)
                dfd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            self._fd = fd
        return self._fd

    def load(self) -> bytes | None:
        self._loaded = True
        best: tuple[int, bytes] | None = None
        written = False
        if os.path.exists(self.path):
            with open(self.path, "rb") as f:
                raw = f.read(2 * SLOT)
            for i in (0, 1):
                slot = raw[i * SLOT:(i + 1) * SLOT]
                written = written or any(slot)
                got = _parse(slot)
                if got is not None and (best is None or got[0] > best[0]):
                    best = got
        if best is not None:
            self._seq = best[0]
            return best[1]
        if written:
            raise SlotStorageError(f"{self.path}: neither slot holds a valid signer state")
        if self.legacy is not None and os.path.exists(self.legacy):
            with open(self.legacy, "rb") as f:
                return f.read()
        return None

    def save(self, data: bytes) -> None:
        if len(data) > SLOT - _HEAD:
            raise ValueError(f"signer state of {len(data)} bytes does not fit a {SLOT}-byte slot")
        if not self._loaded:
            self.load()  # the sequence continues from what is stored
        fd = self._open()
        seq = self._seq + 1
        slot = MAGIC + seq.to_bytes(8, "big") + len(data).to_bytes(4, "big") + _digest(seq, data) + data
        slot += bytes(SLOT - len(slot))
        view = memoryview(slot)
        off = (seq % 2) * SLOT
        while view:
            n = os.pwrite(fd, view, off)
            view = view[n:]
            off += n
        os.fdatasync(fd)
        self._seq = seq

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
