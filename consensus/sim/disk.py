"""In-memory storage with fsync semantics the simulator controls.

A :class:`MemFile` keeps two byte strings: what is *durable* (fsync'd) and
what is only *written* (in the page cache).  ``crash(rng)`` keeps the
durable bytes and a random prefix of the unsynced ones -- possibly cutting a
record in half, which is how a torn WAL tail arises.  ``rewrite`` and the
signer's ``save`` are atomic and durable at once, like temp+fsync+rename.
"""

from __future__ import annotations

import random


class MemFile:
    """A WAL file in memory (implements ``consensus.wal.WalFile``)."""

    def __init__(self) -> None:
        self.durable = b""
        self.pending = b""

    def read_all(self) -> bytes:
        return self.durable + self.pending

    def append(self, data: bytes) -> None:
        self.pending += data

    def sync(self) -> None:
        self.durable += self.pending
        self.pending = b""

    def truncate(self, size: int) -> None:
        data = self.read_all()[:size]
        self.durable, self.pending = data, b""

    def rewrite(self, data: bytes) -> None:
        self.durable, self.pending = bytes(data), b""

    def crash(self, rng: random.Random, tear: bool = True) -> None:
        """Lose the unsynced bytes, keeping a random prefix if ``tear``."""
        if tear and self.pending:
            keep = rng.randrange(len(self.pending) + 1)
            self.durable += self.pending[:keep]
        self.pending = b""


class MemStorage:
    """The signer's last-sign-state in memory (implements ``SignerStorage``)."""

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.saves = 0

    def load(self) -> bytes | None:
        return self.data

    def save(self, data: bytes) -> None:
        self.data = bytes(data)
        self.saves += 1


class MemDisk:
    """Everything a simulated node keeps across a crash."""

    def __init__(self) -> None:
        self.wal = MemFile()
        self.signer = MemStorage()
        # the block store: height -> (value, commit); writes are atomic+durable
        self.blocks: dict = {}

    def crash(self, rng: random.Random, tear: bool = True) -> None:
        self.wal.crash(rng, tear)
