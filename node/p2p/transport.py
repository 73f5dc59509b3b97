"""The trio shell around :class:`~node.p2p.secure.SecureChannel`.

Theory of operation
-------------------
This module only moves bytes and keeps time; every decision about bytes is
the channel's.  :func:`serve_p2p` listens for inbound peers, keeps dialing
the configured peer addresses, and hands back (through ``task_status``) a
:class:`PeerManager` that the rest of the node uses to send.

One connection is one task running :meth:`PeerManager._run_connection`
(its state is :class:`~node.p2p.connection.Conn`; which addresses are dialed,
and when again, is :class:`~node.p2p.dialer.Dialer`'s), in four steps, one
method each (``_open``, ``_admit``, ``_serve``, ``_close``):

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
from dataclasses import fields
from typing import Awaitable, Callable, Iterable

import trio

from ledger.crypto import PrivateKey

from .config import P2PConfig, P2PStatistics, PeerAddress, PeerInfo, backoff_delay
from .connection import (
    BATCH_BYTES, BATCH_ITEMS, DUPLICATE, NET_ERRORS, Conn, Disconnect, Outbox, Outcome, PeerMisbehaved, peername,
    reason_of,
)
from .dialer import Dialer
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
        self._dialer = Dialer(self.config, self._rng, self._dial_once, self.is_connected, self._wait_gone)

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
        if self._nursery is None:
            raise RuntimeError("add_peer is for a running PeerManager (see serve_p2p)")
        self._dialer.add(address)

    def remove_peer(self, address: PeerAddress | str) -> bool:
        """Stop dialing ``address``; a link this node dialed to it is closed.  False if not dialed."""
        return self._dialer.remove(address)

    def dialed(self) -> list[PeerAddress]:
        """The addresses this node dials (``add_peer``), in the order added."""
        return self._dialer.addresses()

    def redial_now(self) -> None:
        """Every dial loop waiting out its backoff dials at once (after a config reload)."""
        self._dialer.redial_now()

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

    def _enqueue(self, conn: Conn, data: bytes, msg_id: bytes) -> bool:
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

    def _preferred(self, a: Conn, b: Conn) -> _Conn:
        """Of two connections to the same peer, the one both ends keep."""
        lower = min(self.node_id, a.peer)
        if (a.dialer == lower) != (b.dialer == lower):
            return a if a.dialer == lower else b
        return b  # same dialer: the newer one; the older is a link its dialer gave up

    def _register(self, conn: Conn) -> bool:
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
            old.retire(DUPLICATE, self.config.handshake_timeout)
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

    def _unregister(self, conn: Conn) -> None:
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
            self._disconnects.append((peername(stream), "too many pending handshakes"))
            await trio.aclose_forcefully(stream)
            return
        self._stats["inbound_accepted"] += 1
        await self._run_connection(stream, initiator=False, who=peername(stream))

    async def _run_connection(
        self,
        stream: trio.abc.Stream,
        *,
        initiator: bool,
        who: str,
        expected_peer: bytes | None = None,
    ) -> Outcome:
        """One connection from its first byte to its goodbye (steps 1-4 of the theory of operation)."""
        channel = SecureChannel(
            self._node_key,
            self.chain_id,
            initiator=initiator,
            authorize=self._authorize,
            expected_peer=expected_peer,
            max_message_size=self.config.max_message_size,
        )
        async with stream:
            outcome, early = await self._open(stream, channel, who)
            if not outcome.opened:
                return outcome
            conn = self._admit(outcome.peer, stream, channel, initiator, who)
            await self._serve(conn, early)
            await self._close(conn)
            outcome.reason = conn.reason or "closed"
            return outcome

    async def _open(self, stream: trio.abc.Stream, channel: SecureChannel, who: str) -> tuple[Outcome, list]:
        """1. The handshake, under ``handshake_timeout``: the outcome, and the events that came with it."""
        cfg = self.config
        outcome = Outcome()
        early: list = []
        self._pending_handshakes += 1
        try:
            with trio.move_on_after(cfg.handshake_timeout):
                peer, early = await self._handshake(stream, channel)
                outcome.peer, outcome.opened = peer, True
            if not outcome.opened:
                raise Disconnect(f"handshake timed out after {cfg.handshake_timeout} s")
        except (Disconnect, *NET_ERRORS) as e:
            outcome.reason = reason_of(e)
            outcome.to_self = getattr(e, "to_self", False)
            self._stats["handshake_failures"] += 1
            self._disconnects.append((who, outcome.reason))
            log.info("p2p: handshake with %s failed: %s", who, outcome.reason)
        finally:
            self._pending_handshakes -= 1
        if outcome.opened:
            self._stats["handshakes_ok"] += 1
        return outcome, early

    def _admit(self, peer: bytes, stream: trio.abc.Stream, channel: SecureChannel, initiator: bool, who: str) -> Conn:
        """2. Registration: the peer's connection, or a duplicate retired at once."""
        cfg = self.config
        conn = Conn(
            peer=peer,
            dialer=self.node_id if initiator else peer,
            stream=stream,
            channel=channel,
            outbox=Outbox(cfg.send_queue_messages, cfg.send_queue_bytes),
            who=who,
        )
        if self._register(conn):
            log.info("p2p: connected to %s (%s)", peer.hex()[:16], who)
        else:
            conn.retire(DUPLICATE, cfg.handshake_timeout)
        return conn

    async def _serve(self, conn: Conn, early: list) -> None:
        """3. The reader and the writer, until either ends; a lost connection ends this peer only."""
        try:
            with conn.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, conn)
                    if await self._handle_events(conn, early):
                        await self._reader(conn)
                    nursery.cancel_scope.cancel()
        except NET_ERRORS as e:
            conn.stream_broken = True
            conn.reason = conn.reason or f"connection lost: {reason_of(e)}"
        except BaseExceptionGroup as eg:
            # the reader/writer nursery wraps a peer's reset in a group: a lost
            # connection ends this peer only, anything else still propagates
            net, rest = eg.split(NET_ERRORS)
            if rest is not None:
                raise rest from None
            first = net.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            conn.stream_broken = True
            conn.reason = conn.reason or f"connection lost: {reason_of(first)}"
        finally:
            self._unregister(conn)

    async def _close(self, conn: Conn) -> None:
        """4. The goodbye, and the record of why the connection ended."""
        conn.reason = conn.reason or "closed"
        await self._goodbye(conn)
        self._disconnects.append((conn.peer.hex(), conn.reason))
        log.info("p2p: disconnected from %s: %s", conn.peer.hex()[:16], conn.reason)

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
                    raise Disconnect(event.reason, to_self=event.reason == SELF_CONNECTION)
                if isinstance(event, ConnectionClosed):
                    raise Disconnect(
                        f"peer closed the connection: {event.reason}",
                        to_self=event.reason == SELF_CONNECTION,
                    )
            if not data:
                raise Disconnect("peer hung up during the handshake")

    async def _reader(self, conn: Conn) -> None:
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

    async def _handle_events(self, conn: Conn, events: list) -> bool:
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

    async def _writer(self, conn: Conn) -> None:
        cfg = self.config
        while True:
            batch: list[bytes] = []
            closing = False
            with trio.move_on_after(cfg.ping_interval):
                first = await conn.outbox.get()
                if first is None:
                    closing = True  # retired: goodbye, and the reader waits for theirs
                else:
                    batch = [first] + conn.outbox.take_some(BATCH_ITEMS, BATCH_BYTES)
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

    async def _goodbye(self, conn: Conn) -> None:
        """Best effort: tell the peer why, unless the stream may hold half a frame."""
        if conn.writing or conn.stream_broken:
            return
        wire = conn.channel.close(conn.reason or "closed")
        if not wire:
            return
        with trio.CancelScope(shield=True), trio.move_on_after(1.0):
            try:
                await conn.stream.send_all(wire)
            except NET_ERRORS:
                pass

    # ---- internals: dialing ---------------------------------------------

    async def _dial_once(self, address: PeerAddress, expected: bytes | None) -> Outcome:
        self._stats["dials"] += 1
        stream = None
        with trio.move_on_after(self.config.dial_timeout):
            try:
                stream = await trio.open_tcp_stream(address.host, address.port)
            except OSError as e:
                self._disconnects.append((str(address), f"dial failed: {reason_of(e)}"))
                return Outcome(reason=f"dial failed: {reason_of(e)}")
        if stream is None:
            self._disconnects.append((str(address), "dial timed out"))
            return Outcome(reason="dial timed out")
        return await self._run_connection(stream, initiator=True, who=str(address), expected_peer=expected)

    async def _wait_gone(self, peer: bytes) -> None:
        while peer in self._conns:
            await self._changed.wait()


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
        manager._nursery = manager._dialer.nursery = nursery
        await nursery.start(trio.serve_listeners, manager._handle_inbound, listeners)
        for address in peers:
            manager.add_peer(address)
        task_status.started(manager)
