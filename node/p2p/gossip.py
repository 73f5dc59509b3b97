"""Gossip bookkeeping, sans-IO: who is known to have what, and how fast a peer may talk.

:class:`PeerKnowledge` remembers, per peer, the ids of the messages that peer
is known to have, because we sent them to it or received them from it, so
that a transaction is not sent back to the peer that gave it to us, nor sent
twice to the same peer.  Memory is bounded: each peer keeps at most
``max_per_peer`` ids and forgets the least recently used.  Forgetting only
costs a redundant send, never a lost one.

:class:`RateLimiter` is a token bucket per peer, driven by a clock the caller
injects (``trio.current_time`` in the node, a fake in tests).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Hashable, Iterable

from ledger.crypto import h

__all__ = ["message_id", "PeerKnowledge", "TokenBucket", "RateLimiter"]


def message_id(data: bytes) -> bytes:
    """The id of a gossiped message: BLAKE3-256 of its bytes."""
    return h(data)


class PeerKnowledge:
    """Per-peer LRU sets of message ids the peer is known to have."""

    def __init__(self, max_per_peer: int = 10_000):
        if max_per_peer < 1:
            raise ValueError("max_per_peer must be positive")
        self.max_per_peer = max_per_peer
        self._known: dict[Hashable, OrderedDict[bytes, None]] = {}

    def mark(self, peer: Hashable, msg_id: bytes) -> None:
        """Record that ``peer`` has ``msg_id`` (we sent it, or it sent it to us)."""
        known = self._known.setdefault(peer, OrderedDict())
        if msg_id in known:
            known.move_to_end(msg_id)
            return
        known[msg_id] = None
        if len(known) > self.max_per_peer:
            known.popitem(last=False)

    def knows(self, peer: Hashable, msg_id: bytes) -> bool:
        known = self._known.get(peer)
        return known is not None and msg_id in known

    def select(self, msg_id: bytes, peers: Iterable[Hashable]) -> list:
        """The peers not known to have ``msg_id``; marks them as having it.

        Call it when about to send: every peer it returns should be sent the
        message.
        """
        out = []
        for peer in peers:
            if not self.knows(peer, msg_id):
                self.mark(peer, msg_id)
                out.append(peer)
        return out

    def forget_peer(self, peer: Hashable) -> None:
        """Drop what we know about a peer (it disconnected)."""
        self._known.pop(peer, None)

    def count(self, peer: Hashable) -> int:
        known = self._known.get(peer)
        return 0 if known is None else len(known)


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; starts full."""

    def __init__(self, rate: float, burst: float, now: float):
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def allow(self, now: float, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if there are enough at time ``now``."""
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class RateLimiter:
    """A :class:`TokenBucket` per peer, on an injected clock."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]):
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[Hashable, TokenBucket] = {}

    def allow(self, peer: Hashable, cost: float = 1.0) -> bool:
        now = self._clock()
        bucket = self._buckets.get(peer)
        if bucket is None:
            bucket = self._buckets[peer] = TokenBucket(self.rate, self.burst, now)
        return bucket.allow(now, cost)

    def forget_peer(self, peer: Hashable) -> None:
        self._buckets.pop(peer, None)
