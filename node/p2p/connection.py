"""One peer connection's state, apart from the manager that runs it.

:class:`Outbox` is a peer's bounded send queue; :class:`Conn` is a live,
handshaken connection (its stream, channel, outbox and why it ends);
:class:`Outcome` is how one connection attempt ended, for the dialer.
Nothing here reads the network: :mod:`.transport` does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import trio

from .secure import SecureChannel

__all__ = ["BATCH_BYTES", "BATCH_ITEMS", "DUPLICATE", "NET_ERRORS", "Conn", "Disconnect", "Outbox", "Outcome",
           "PeerMisbehaved", "peername", "reason_of"]

BATCH_ITEMS = 256  # messages the writer encrypts into one socket write
BATCH_BYTES = 1 << 20
NET_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
DUPLICATE = "duplicate connection (keeping the one dialed by the lower key)"


class PeerMisbehaved(Exception):
    """Raise from ``on_message`` to disconnect the sender (e.g. an undecodable message)."""


class Outbox:
    """A peer's bounded send queue (by count and by bytes)."""

    def __init__(self, max_items: int, max_bytes: int):
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.items: deque[bytes] = deque()
        self.nbytes = 0
        self.closed = False
        self._wake = trio.Event()

    def put(self, data: bytes) -> bool:
        if self.closed:
            return False
        if len(self.items) >= self.max_items or self.nbytes + len(data) > self.max_bytes:
            return False
        self.items.append(data)
        self.nbytes += len(data)
        self._wake.set()
        return True

    def take_some(self, max_items: int, max_bytes: int) -> list[bytes]:
        """What is queued now, up to the limits (at least nothing, at most everything)."""
        out: list[bytes] = []
        size = 0
        while self.items and len(out) < max_items and size + len(self.items[0]) <= max_bytes:
            data = self.items.popleft()
            size += len(data)
            out.append(data)
        self.nbytes -= size
        return out

    def take_all(self) -> list[bytes]:
        items = list(self.items)
        self.items.clear()
        self.nbytes = 0
        return items

    def close(self) -> None:
        """No more puts; :meth:`get` returns None once it is empty."""
        self.closed = True
        self._wake.set()

    async def get(self) -> bytes | None:
        while not self.items:
            if self.closed:
                return None
            self._wake = trio.Event()
            await self._wake.wait()
        data = self.items.popleft()
        self.nbytes -= len(data)
        return data


@dataclass(eq=False)
class Conn:
    peer: bytes
    dialer: bytes  # the key of the side that opened the TCP connection
    stream: trio.abc.Stream
    channel: SecureChannel
    outbox: Outbox
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    who: str = ""
    reason: str | None = None
    registered: bool = False
    in_flight: list[bytes] = field(default_factory=list)  # taken from the outbox, not yet written
    writing: bool = False  # a send_all is in progress (cancelling it may cut a frame)
    stream_broken: bool = False

    def drop(self, reason: str) -> None:
        """End the connection now."""
        if self.reason is None:
            self.reason = reason
        self.scope.cancel()

    def retire(self, reason: str, linger: float) -> None:
        """End it gracefully: say goodbye, but read what the peer already sent.

        Used for the losing one of two duplicate connections, so that the
        messages in flight on it are not lost.  ``linger`` bounds the wait.
        """
        if self.reason is None:
            self.reason = reason
        self.outbox.close()
        self.scope.deadline = min(self.scope.deadline, trio.current_time() + linger)


@dataclass
class Outcome:
    """How one connection attempt ended, for the dial loop."""

    peer: bytes | None = None
    opened: bool = False
    reason: str = ""
    to_self: bool = False


class Disconnect(Exception):
    def __init__(self, reason: str, *, to_self: bool = False):
        super().__init__(reason)
        self.to_self = to_self


def reason_of(e: BaseException) -> str:
    text = str(e)
    if isinstance(e, Disconnect):
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def peername(stream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
        return f"{host}:{port}"
    except (AttributeError, OSError, ValueError):
        return "inbound peer"
