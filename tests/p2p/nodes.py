"""Helpers for the loopback TCP tests: nodes with inboxes, and raw clients."""

from __future__ import annotations

import random
from functools import partial

import trio

from ledger.crypto import PrivateKey
from node.p2p import AllowList, P2PConfig, serve_p2p
from node.p2p.secure import ConnectionClosed, HandshakeDone, Message, ProtocolError, SecureChannel

CHAIN = "esoc-test"
KEYS = [PrivateKey.from_name(f"node{i}", salt="p2p-transport") for i in range(4)]
OUTSIDER = PrivateKey.from_name("outsider", salt="p2p-transport")
ALLOWED = AllowList([k.public for k in KEYS])


class Inbox:
    """Collects ``(peer, data)``; tasks can wait for a condition on it."""

    def __init__(self, misbehaving: bytes | None = None):
        self.items: list[tuple[bytes, bytes]] = []
        self._changed = trio.Event()
        self.misbehaving = misbehaving

    async def on_message(self, peer: bytes, data: bytes) -> None:
        if self.misbehaving is not None and data == self.misbehaving:
            from node.p2p import PeerMisbehaved

            raise PeerMisbehaved("sent the forbidden message")
        self.items.append((peer, data))
        self._changed.set()
        self._changed = trio.Event()

    def data_from(self, peer: bytes) -> list[bytes]:
        return [d for p, d in self.items if p == peer]

    async def wait_for(self, predicate) -> None:
        while True:
            ev = self._changed
            if predicate(self):
                return
            await ev.wait()


async def start_node(nursery, i: int, *, port: int = 0, inbox: Inbox | None = None, **kw):
    inbox = inbox or Inbox()
    kw.setdefault("rng", random.Random(i))
    manager = await nursery.start(
        partial(serve_p2p, "127.0.0.1", port, KEYS[i], CHAIN, ALLOWED, inbox.on_message, **kw)
    )
    return manager, inbox


async def until(managers, predicate) -> None:
    """Wait (on events, not on time) until ``predicate()`` holds; it is
    re-checked whenever any of ``managers`` sees its peer set change."""
    while True:
        changed = [m._changed for m in managers]  # taken before the check: no lost wake-up
        if predicate():
            return
        async with trio.open_nursery() as n:
            for ev in changed:
                async def one(ev=ev):
                    await ev.wait()
                    n.cancel_scope.cancel()
                n.start_soon(one)


class RawClient:
    """A client driving a SecureChannel by hand over real TCP (honest or not)."""

    def __init__(self, stream, channel):
        self.stream = stream
        self.channel = channel
        self.events: list = []

    @classmethod
    async def connect(cls, port: int, key: PrivateKey, *, chain: str = CHAIN, handshake: bool = True):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        channel = SecureChannel(key, chain, initiator=True, authorize=lambda k: True)
        client = cls(stream, channel)
        if handshake:
            await stream.send_all(channel.data_to_send())
            while not any(isinstance(e, (HandshakeDone, ProtocolError, ConnectionClosed)) for e in client.events):
                data = await stream.receive_some(65536)
                client.events += channel.receive_data(data)
                out = channel.data_to_send()
                if out:
                    await stream.send_all(out)
                if not data:
                    break
        return client

    async def read_until_closed(self) -> bytes:
        """Read to EOF; returns everything read (also fed to the channel)."""
        got = bytearray()
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                return bytes(got)
            self.events += self.channel.receive_data(data)
            if not data:
                return bytes(got)
            got += data

    def closed_reason(self) -> str | None:
        for e in self.events:
            if isinstance(e, (ConnectionClosed, ProtocolError)):
                return e.reason
        return None

    def messages(self) -> list[bytes]:
        return [e.data for e in self.events if isinstance(e, Message)]


def fast_config(**kw) -> P2PConfig:
    base = dict(backoff_base=0.05, backoff_cap=0.5)
    base.update(kw)
    return P2PConfig(**base)
