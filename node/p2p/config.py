"""The transport's settings and plain values: config, addresses, statistics, backoff.

Nothing here does I/O; :mod:`.transport` uses these, and so may the node's
config loader (``PeerAddress.parse`` reads the ``peers`` list of a config).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .secure import DEFAULT_MAX_MESSAGE_SIZE

__all__ = ["P2PConfig", "PeerAddress", "PeerInfo", "P2PStatistics", "backoff_delay"]


@dataclass(frozen=True)
class P2PConfig:
    """Limits and timers; the defaults suit a validator on a LAN or WAN."""

    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    handshake_timeout: float = 10.0  # seconds from TCP connect to HandshakeDone
    dial_timeout: float = 10.0  # TCP connect
    write_timeout: float = 30.0  # one message onto the socket
    ping_interval: float = 20.0  # keep-alive when we have nothing to send
    idle_timeout: float = 60.0  # nothing at all heard from the peer
    send_queue_messages: int = 1024  # per peer; over it, the peer is dropped
    send_queue_bytes: int = 64 * 1024 * 1024  # per peer; likewise
    backoff_base: float = 0.5  # first redial delay (before jitter)
    backoff_cap: float = 30.0  # longest redial delay
    stable_after: float = 10.0  # a link that lasted this long resets the redial backoff
    max_pending_handshakes: int = 64  # inbound connections not yet authenticated
    inbound_rate: float = 2000.0  # messages per second per peer
    inbound_burst: float = 4000.0
    known_ids_per_peer: int = 10_000  # gossip LRU per peer
    requeue_window: float = 10.0  # unsent messages wait this long for the peer to reconnect
    receive_size: int = 64 * 1024  # bytes per socket read


@dataclass(frozen=True)
class PeerAddress:
    """``host:port``, or ``HEXKEY@host:port`` when the peer's key is known."""

    host: str
    port: int
    pubkey: bytes | None = None

    @classmethod
    def parse(cls, text: str) -> "PeerAddress":
        key = None
        if "@" in text:
            key_hex, text = text.split("@", 1)
            try:
                key = bytes.fromhex(key_hex)
            except ValueError:
                raise ValueError(f"peer key {key_hex!r} is not hex") from None
            if len(key) != 32:
                raise ValueError("a peer key is 32 bytes (64 hex digits)")
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected HOST:PORT, got {text!r}")
        return cls(host.strip("[]"), int(port), key)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        prefix = f"{self.pubkey.hex()}@" if self.pubkey else ""
        return f"{prefix}{host}:{self.port}"


@dataclass(frozen=True)
class PeerInfo:
    pubkey: bytes
    outbound: bool  # we dialed it
    remote: str  # its address as we know it
    queued_messages: int
    queued_bytes: int


@dataclass(frozen=True)
class P2PStatistics:
    connected: int = 0
    inbound_accepted: int = 0
    dials: int = 0
    handshakes_ok: int = 0
    handshake_failures: int = 0
    protocol_errors: int = 0
    duplicates_closed: int = 0
    slow_peers_dropped: int = 0
    rate_limited: int = 0
    messages_in: int = 0
    messages_out: int = 0


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before redial number ``attempt`` (from 0).

    Exponential, capped, with "equal jitter": a uniform draw from the upper
    half of the capped delay, so peers that lost each other at the same time
    do not redial in lockstep, and no delay is ever shorter than half the
    schedule.
    """
    d = min(cap, base * 2 ** min(attempt, 62))
    return d / 2 + rng.random() * d / 2
