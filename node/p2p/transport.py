"""The trio shell around :class:`~node.p2p.secure.SecureChannel`.

Theory of operation
-------------------
This module only moves bytes and keeps time; every decision about bytes is
the channel's.  :func:`serve_p2p` listens for inbound peers, keeps dialing
the configured peer addresses, and hands back (through ``task_status``) a
:class:`PeerManager` that the rest of the node uses to send.

One connection is one task running :meth:`PeerManager._run_connection`:

1. the handshake, under ``handshake_timeout``;
2. registration: at most one live connection per peer key.  When two exist
   (both sides dialed at once, or a peer came back before we noticed it
   left), both ends keep the same one: the one dialed by the lower key, or,
   when the same side dialed both, the newer;
3. a reader (bytes -> channel -> ``on_message``) and a writer (the peer's
   bounded outbox -> channel -> socket) in a nursery, with keep-alive pings
   and an idle timeout;
4. on the way out, a goodbye carrying the reason, when the stream is still
   in a state to carry one.

Whatever a peer does (garbage, oversize frames, silence, a slow reader) ends
that peer's task only.  Two kinds of exceptions do propagate, on purpose:
bugs in this module, and exceptions from ``on_message`` other than
:class:`PeerMisbehaved` (a crash in the application is the application's
to fix, not something to swallow per peer).

Nothing is sent to a peer until its handshake is done, and nothing waits on a
peer: :meth:`PeerManager.send` and :meth:`PeerManager.broadcast` are
synchronous, put the message in the peer's outbox, and drop the peer when
its outbox is full.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Awaitable, Callable, Iterable

import trio

from ledger.crypto import PrivateKey

from .config import P2PConfig, P2PStatistics, PeerAddress, PeerInfo, backoff_delay
from .gossip import PeerKnowledge, RateLimiter, message_id
from .secure import (
    ConnectionClosed,
    HandshakeDone,
    Message,
    SELF_CONNECTION,
    ProtocolError,
    SecureChannel,
)

__all__ = [
    "P2PConfig",
    "PeerAddress",
    "PeerInfo",
    "PeerManager",
    "PeerMisbehaved",
    "P2PStatistics",
    "backoff_delay",
    "serve_p2p",
]

log = logging.getLogger("esoc.p2p")

_BATCH_ITEMS = 256  # messages the writer encrypts into one socket write
_BATCH_BYTES = 1 << 20
_NET_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class PeerMisbehaved(Exception):
    """Raise from ``on_message`` to disconnect the sender (e.g. an undecodable message)."""


class _Outbox:
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
class _Conn:
    peer: bytes
    dialer: bytes  # the key of the side that opened the TCP connection
    stream: trio.abc.Stream
    channel: SecureChannel
    outbox: _Outbox
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
class _Outcome:
    """How one connection attempt ended, for the dial loop."""

    peer: bytes | None = None
    opened: bool = False
    reason: str = ""
    to_self: bool = False


class _Disconnect(Exception):
    def __init__(self, reason: str, *, to_self: bool = False):
        super().__init__(reason)
        self.to_self = to_self


_DUPLICATE = "duplicate connection (keeping the one dialed by the lower key)"


class PeerManager:
    """The node's handle on its peers; made and started by :func:`serve_p2p`.

    Public: ``node_id``, ``listen_port``, :meth:`peers`, :meth:`is_connected`,
    :meth:`send`, :meth:`broadcast`, :meth:`gossip`, :meth:`disconnect`,
    :meth:`reauthorize`,
    :meth:`add_peer`, :meth:`remove_peer`, :meth:`dialed`, :meth:`redial_now`, :meth:`peer_info`, :meth:`wait_peers`,
    :meth:`wait_connected`, :meth:`wait_until`, :meth:`statistics`,
    :meth:`recent_disconnects`.
    """

    def __init__(
        self,
        node_key: PrivateKey,
        chain_id: str,
        authorize: Callable[[bytes], bool],
        on_message: Callable[[bytes, bytes], Awaitable[None]],
        *,
        config: P2PConfig | None = None,
        rng: random.Random | None = None,
        on_peer_connected: Callable[[bytes], None] | None = None,
        on_peer_disconnected: Callable[[bytes, str], None] | None = None,
    ):
        self.config = config or P2PConfig()
        self.node_id = node_key.public
        self.chain_id = chain_id
        self.listen_port: int | None = None
        self._node_key = node_key
        self._authorize = authorize
        self._on_message = on_message
        self._on_connected = on_peer_connected
        self._on_disconnected = on_peer_disconnected
        self._rng = rng if rng is not None else random.Random(node_key.public)
        self._conns: dict[bytes, _Conn] = {}
        self._changed = trio.Event()
        self._pending_handshakes = 0
        self._known = PeerKnowledge(self.config.known_ids_per_peer)
        self._limiter = RateLimiter(self.config.inbound_rate, self.config.inbound_burst, trio.current_time)
        self._stats = {f.name: 0 for f in fields(P2PStatistics)}
        self._disconnects: deque[tuple[str, str]] = deque(maxlen=200)
        self._nursery: trio.Nursery | None = None
        self._orphans: dict[bytes, tuple[float, list[bytes]]] = {}
        self._dialing: dict[PeerAddress, trio.CancelScope] = {}  # one dial loop per configured address
        self._redial = trio.Event()  # set: every dial loop waiting out its backoff dials now

    # ---- what the node uses ---------------------------------------------

    def peers(self) -> list[bytes]:
        """The keys of the connected (handshaken) peers, sorted."""
        return sorted(self._conns)

    def is_connected(self, peer: bytes) -> bool:
        return peer in self._conns

    def peer_info(self) -> list["PeerInfo"]:
        """One :class:`PeerInfo` per connected peer, sorted by key."""
        return [
            PeerInfo(p, c.dialer == self.node_id, c.who, len(c.outbox.items), c.outbox.nbytes)
            for p, c in sorted(self._conns.items())
        ]

    def send(self, peer: bytes, data: bytes) -> bool:
        """Queue ``data`` for one peer.  False if it is not connected or was just dropped."""
        self._check_size(data)
        conn = self._conns.get(peer)
        if conn is None:
            return False
        data = bytes(data)
        return self._enqueue(conn, data, message_id(data))

    def broadcast(self, data: bytes, *, exclude: Iterable[bytes] = ()) -> int:
        """Queue ``data`` for every connected peer; returns how many took it."""
        self._check_size(data)
        data = bytes(data)
        msg_id = message_id(data)
        skip = set(exclude)
        return sum(self._enqueue(c, data, msg_id) for p, c in list(self._conns.items()) if p not in skip)

    def gossip(self, data: bytes) -> int:
        """Queue ``data`` for every connected peer not known to have it already."""
        self._check_size(data)
        data = bytes(data)
        msg_id = message_id(data)
        targets = self._known.select(msg_id, self.peers())
        return sum(self._enqueue(self._conns[p], data, msg_id) for p in targets)

    def disconnect(self, peer: bytes, reason: str = "disconnected by the node") -> None:
        conn = self._conns.get(peer)
        if conn is not None:
            conn.drop(reason)

    def reauthorize(self) -> list[bytes]:
        """Disconnect every connected peer that ``authorize`` now refuses.

        Call it after the validator set or the allow-list changed; returns
        the keys dropped.
        """
        dropped = [p for p in self.peers() if not self._authorize(p)]
        for p in dropped:
            self._conns[p].drop("no longer authorized")
        return dropped

    def add_peer(self, address: PeerAddress | str) -> None:
        """Start dialing ``address`` (and redialing it whenever the link drops); once per address."""
        if isinstance(address, str):
            address = PeerAddress.parse(address)
        if self._nursery is None:
            raise RuntimeError("add_peer is for a running PeerManager (see serve_p2p)")
        if address in self._dialing:
            return
        scope = self._dialing[address] = trio.CancelScope()
        self._nursery.start_soon(self._dial_loop, address, scope)

    def remove_peer(self, address: PeerAddress | str) -> bool:
        """Stop dialing ``address``; a link this node dialed to it is closed.  False if not dialed."""
        if isinstance(address, str):
            address = PeerAddress.parse(address)
        scope = self._dialing.pop(address, None)
        if scope is None:
            return False
        scope.cancel()
        return True

    def dialed(self) -> list[PeerAddress]:
        """The addresses this node dials (``add_peer``), in the order added."""
        return list(self._dialing)

    def redial_now(self) -> None:
        """Every dial loop waiting out its backoff dials at once (after a config reload)."""
        self._redial.set()
        self._redial = trio.Event()

    async def wait_peers(self, count: int) -> None:
        """Return once at least ``count`` peers are connected."""
        while len(self._conns) < count:
            await self._changed.wait()

    async def wait_connected(self, peer: bytes) -> None:
        while peer not in self._conns:
            await self._changed.wait()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, re-checking it at every change of
        the connected set (a peer in, out, or its connection replaced)."""
        while True:
            changed = self._changed
            if predicate():
                return
            await changed.wait()

    def statistics(self) -> P2PStatistics:
        return P2PStatistics(**{**self._stats, "connected": len(self._conns)})

    def recent_disconnects(self) -> list[tuple[str, str]]:
        """The last 200 ``(who, reason)``: a peer key in hex, or an address."""
        return list(self._disconnects)

    # ---- internals: queues ----------------------------------------------

    def _check_size(self, data: bytes) -> None:
        if len(data) > self.config.max_message_size:
            raise ValueError(
                f"message of {len(data)} bytes over the limit of {self.config.max_message_size}"
            )

    def _enqueue(self, conn: _Conn, data: bytes, msg_id: bytes) -> bool:
        if conn.outbox.put(data):
            self._known.mark(conn.peer, msg_id)
            return True
        if conn.reason is not None:  # already on its way out
            return False
        self._stats["slow_peers_dropped"] += 1
        conn.drop(
            f"send queue full ({len(conn.outbox.items)} messages, {conn.outbox.nbytes} bytes): peer too slow"
        )
        return False

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # ---- internals: registration ----------------------------------------

    def _preferred(self, a: _Conn, b: _Conn) -> _Conn:
        """Of two connections to the same peer, the one both ends keep."""
        lower = min(self.node_id, a.peer)
        if (a.dialer == lower) != (b.dialer == lower):
            return a if a.dialer == lower else b
        return b  # same dialer: the newer one; the older is a link its dialer gave up

    def _register(self, conn: _Conn) -> bool:
        """Make ``conn`` the peer's connection, unless an existing one is preferred."""
        old = self._conns.get(conn.peer)
        if old is not None:
            self._stats["duplicates_closed"] += 1
            if self._preferred(old, conn) is old:
                return False
            # the newcomer takes over what the old link had not yet written
            for data in old.outbox.take_all():
                conn.outbox.put(data)
            old.registered = False
            old.retire(_DUPLICATE, self.config.handshake_timeout)
            self._conns[conn.peer] = conn
            conn.registered = True
            self._notify()
            return True
        self._conns[conn.peer] = conn
        conn.registered = True
        deadline, unsent = self._orphans.pop(conn.peer, (0.0, []))
        if deadline >= trio.current_time():
            for data in unsent:
                conn.outbox.put(data)
        self._notify()
        if self._on_connected is not None:
            self._on_connected(conn.peer)
        return True

    def _unregister(self, conn: _Conn) -> None:
        if not conn.registered or self._conns.get(conn.peer) is not conn:
            return
        conn.registered = False
        del self._conns[conn.peer]
        # What was queued but not written waits a little for the peer to come
        # back (a duplicate connection resolved the other way, a quick redial).
        now = trio.current_time()
        for peer in [p for p, (d, _) in self._orphans.items() if d < now]:
            del self._orphans[peer]
        unsent = conn.in_flight + conn.outbox.take_all()
        conn.in_flight = []
        if unsent:
            self._orphans[conn.peer] = (now + self.config.requeue_window, unsent)
        self._known.forget_peer(conn.peer)
        self._limiter.forget_peer(conn.peer)
        self._notify()
        if self._on_disconnected is not None:
            self._on_disconnected(conn.peer, conn.reason or "disconnected")

    # ---- internals: one connection --------------------------------------

    async def _handle_inbound(self, stream: trio.SocketStream) -> None:
        cfg = self.config
        if self._pending_handshakes >= cfg.max_pending_handshakes:
            self._disconnects.append((_peername(stream), "too many pending handshakes"))
            await trio.aclose_forcefully(stream)
            return
        self._stats["inbound_accepted"] += 1
        await self._run_connection(stream, initiator=False, who=_peername(stream))

    async def _run_connection(
        self,
        stream: trio.abc.Stream,
        *,
        initiator: bool,
        who: str,
        expected_peer: bytes | None = None,
    ) -> _Outcome:
        cfg = self.config
        outcome = _Outcome()
        channel = SecureChannel(
            self._node_key,
            self.chain_id,
            initiator=initiator,
            authorize=self._authorize,
            expected_peer=expected_peer,
            max_message_size=cfg.max_message_size,
        )
        async with stream:
            # 1. handshake
            self._pending_handshakes += 1
            try:
                with trio.move_on_after(cfg.handshake_timeout):
                    peer, early = await self._handshake(stream, channel)
                    outcome.peer, outcome.opened = peer, True
                if not outcome.opened:
                    raise _Disconnect(f"handshake timed out after {cfg.handshake_timeout} s")
            except (_Disconnect, *_NET_ERRORS) as e:
                outcome.reason = _reason(e)
                outcome.to_self = getattr(e, "to_self", False)
                self._stats["handshake_failures"] += 1
                self._disconnects.append((who, outcome.reason))
                log.info("p2p: handshake with %s failed: %s", who, outcome.reason)
                return outcome
            finally:
                self._pending_handshakes -= 1
            self._stats["handshakes_ok"] += 1

            # 2. registration
            conn = _Conn(
                peer=peer,
                dialer=self.node_id if initiator else peer,
                stream=stream,
                channel=channel,
                outbox=_Outbox(cfg.send_queue_messages, cfg.send_queue_bytes),
                who=who,
            )
            if self._register(conn):
                log.info("p2p: connected to %s (%s)", peer.hex()[:16], who)
            else:
                conn.retire(_DUPLICATE, cfg.handshake_timeout)

            # 3. reader and writer
            try:
                with conn.scope:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._writer, conn)
                        if await self._handle_events(conn, early):
                            await self._reader(conn)
                        nursery.cancel_scope.cancel()
            except _NET_ERRORS as e:
                conn.stream_broken = True
                conn.reason = conn.reason or f"connection lost: {_reason(e)}"
            except BaseExceptionGroup as eg:
                # the reader/writer nursery wraps a peer's reset in a group: a lost
                # connection ends this peer only, anything else still propagates
                net, rest = eg.split(_NET_ERRORS)
                if rest is not None:
                    raise rest from None
                first = net.exceptions[0]
                while isinstance(first, BaseExceptionGroup):
                    first = first.exceptions[0]
                conn.stream_broken = True
                conn.reason = conn.reason or f"connection lost: {_reason(first)}"
            finally:
                self._unregister(conn)
            # 4. goodbye
            conn.reason = conn.reason or "closed"
            await self._goodbye(conn)
            outcome.reason = conn.reason
            self._disconnects.append((peer.hex(), conn.reason))
            log.info("p2p: disconnected from %s: %s", peer.hex()[:16], conn.reason)
            return outcome

    async def _handshake(self, stream: trio.abc.Stream, channel: SecureChannel):
        await stream.send_all(channel.data_to_send())
        while True:
            data = await stream.receive_some(self.config.receive_size)
            events = channel.receive_data(data)
            out = channel.data_to_send()
            if out:
                await stream.send_all(out)
            for i, event in enumerate(events):
                if isinstance(event, HandshakeDone):
                    return event.peer_pubkey, events[i + 1 :]
                # (dialing our own address, either end may notice first)
                if isinstance(event, ProtocolError):
                    self._stats["protocol_errors"] += 1
                    raise _Disconnect(event.reason, to_self=event.reason == SELF_CONNECTION)
                if isinstance(event, ConnectionClosed):
                    raise _Disconnect(
                        f"peer closed the connection: {event.reason}",
                        to_self=event.reason == SELF_CONNECTION,
                    )
            if not data:
                raise _Disconnect("peer hung up during the handshake")

    async def _reader(self, conn: _Conn) -> None:
        cfg = self.config
        while True:
            data = None
            with trio.move_on_after(cfg.idle_timeout):
                data = await conn.stream.receive_some(cfg.receive_size)
            if data is None:
                conn.reason = conn.reason or f"nothing heard for {cfg.idle_timeout} s"
                return
            if not await self._handle_events(conn, conn.channel.receive_data(data)):
                return
            if not data:
                conn.reason = conn.reason or "peer hung up"
                return

    async def _handle_events(self, conn: _Conn, events: list) -> bool:
        """Act on channel events; False once the connection must end."""
        for event in events:
            if isinstance(event, Message):
                self._stats["messages_in"] += 1
                if not self._limiter.allow(conn.peer):
                    self._stats["rate_limited"] += 1
                    continue
                self._known.mark(conn.peer, message_id(event.data))
                try:
                    await self._on_message(conn.peer, event.data)
                except PeerMisbehaved as e:
                    conn.reason = conn.reason or f"peer misbehaved: {e}"  # the goodbye says why
                    return False
            elif isinstance(event, ProtocolError):
                self._stats["protocol_errors"] += 1
                conn.reason = conn.reason or f"protocol error: {event.reason}"
                return False
            elif isinstance(event, ConnectionClosed):
                conn.reason = conn.reason or f"peer closed the connection: {event.reason}"
                return False
        return True

    async def _writer(self, conn: _Conn) -> None:
        cfg = self.config
        while True:
            batch: list[bytes] = []
            closing = False
            with trio.move_on_after(cfg.ping_interval):
                first = await conn.outbox.get()
                if first is None:
                    closing = True  # retired: goodbye, and the reader waits for theirs
                else:
                    batch = [first] + conn.outbox.take_some(_BATCH_ITEMS, _BATCH_BYTES)
            if closing:
                wire = conn.channel.close(conn.reason or "closed")
            elif not conn.channel.can_send:
                # The reader has seen the end (their goodbye, or an error) and
                # is still handing earlier messages to on_message: stop here.
                conn.in_flight = batch
                return
            elif not batch:
                wire = conn.channel.ping()  # nothing to say for ping_interval
            else:
                wire = b"".join(conn.channel.send(data) for data in batch)
            conn.writing = True
            conn.in_flight = batch
            with trio.move_on_after(cfg.write_timeout) as timer:
                await conn.stream.send_all(wire)
            conn.writing = False
            conn.in_flight = []
            if timer.cancelled_caught:
                conn.stream_broken = True
                conn.drop(f"write timed out after {cfg.write_timeout} s: peer too slow")
                return
            if closing:
                return
            self._stats["messages_out"] += len(batch)

    async def _goodbye(self, conn: _Conn) -> None:
        """Best effort: tell the peer why, unless the stream may hold half a frame."""
        if conn.writing or conn.stream_broken:
            return
        wire = conn.channel.close(conn.reason or "closed")
        if not wire:
            return
        with trio.CancelScope(shield=True), trio.move_on_after(1.0):
            try:
                await conn.stream.send_all(wire)
            except _NET_ERRORS:
                pass

    # ---- internals: dialing ---------------------------------------------

    async def _dial_loop(self, address: PeerAddress, scope: trio.CancelScope) -> None:
        try:
            with scope:
                await self._dial_forever(address)
        finally:
            if self._dialing.get(address) is scope:
                del self._dialing[address]

    async def _dial_forever(self, address: PeerAddress) -> None:
        cfg = self.config
        attempt = 0
        known_key = address.pubkey  # configured, or learned from the first handshake
        while True:
            if known_key is not None and known_key in self._conns:
                # Already linked (it dialed us, or a duplicate was resolved the
                # other way): dial again only once that link is gone.
                await self._wait_gone(known_key)
                attempt = 0
            started = trio.current_time()
            outcome = await self._dial_once(address, address.pubkey)
            if outcome.to_self:
                log.warning("p2p: %s is this node's own address; not dialing it again", address)
                return
            if outcome.peer is not None:
                known_key = known_key or outcome.peer
            if outcome.opened and trio.current_time() - started >= cfg.stable_after:
                # only a link that lasted resets the schedule: a peer that completes the
                # handshake and then refuses us (not on its allow-list) is redialed ever
                # more slowly, not twice a second
                attempt = 0
            if known_key is not None and known_key in self._conns:
                continue  # wait for that link to go instead of sleeping
            redial = self._redial
            with trio.move_on_after(backoff_delay(attempt, cfg.backoff_base, cfg.backoff_cap, self._rng)):
                await redial.wait()
            attempt += 1

    async def _dial_once(self, address: PeerAddress, expected: bytes | None) -> _Outcome:
        self._stats["dials"] += 1
        stream = None
        with trio.move_on_after(self.config.dial_timeout):
            try:
                stream = await trio.open_tcp_stream(address.host, address.port)
            except OSError as e:
                self._disconnects.append((str(address), f"dial failed: {_reason(e)}"))
                return _Outcome(reason=f"dial failed: {_reason(e)}")
        if stream is None:
            self._disconnects.append((str(address), "dial timed out"))
            return _Outcome(reason="dial timed out")
        return await self._run_connection(stream, initiator=True, who=str(address), expected_peer=expected)

    async def _wait_gone(self, peer: bytes) -> None:
        while peer in self._conns:
            await self._changed.wait()


def _reason(e: BaseException) -> str:
    text = str(e)
    if isinstance(e, _Disconnect):
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _peername(stream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
        return f"{host}:{port}"
    except (AttributeError, OSError, ValueError):
        return "inbound peer"


async def serve_p2p(
    listen_host: str,
    listen_port: int,
    node_key: PrivateKey,
    chain_id: str,
    authorize: Callable[[bytes], bool],
    on_message: Callable[[bytes, bytes], Awaitable[None]],
    *,
    peers: Iterable[PeerAddress | str] = (),
    config: P2PConfig | None = None,
    rng: random.Random | None = None,
    on_peer_connected: Callable[[bytes], None] | None = None,
    on_peer_disconnected: Callable[[bytes, str], None] | None = None,
    task_status=trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the node's p2p service until cancelled.

    Start it with ``manager = await nursery.start(serve_p2p, ...)``: the
    value handed back is the :class:`PeerManager`, listening (on
    ``manager.listen_port``, useful with port 0) and dialing ``peers``.

    ``authorize(peer_pubkey) -> bool`` decides who may connect (see
    :class:`node.p2p.AllowList`).  ``await on_message(peer_pubkey, data)`` is
    called for every message, in order per peer; it may raise
    :class:`PeerMisbehaved` to disconnect that peer.
    """
    manager = PeerManager(
        node_key,
        chain_id,
        authorize,
        on_message,
        config=config,
        rng=rng,
        on_peer_connected=on_peer_connected,
        on_peer_disconnected=on_peer_disconnected,
    )
    listeners = await trio.open_tcp_listeners(listen_port, host=listen_host)
    manager.listen_port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        manager._nursery = nursery
        await nursery.start(trio.serve_listeners, manager._handle_inbound, listeners)
        for address in peers:
            manager.add_peer(address)
        task_status.started(manager)
