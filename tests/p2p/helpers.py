"""A ChannelPair in the h11 style: two SecureChannels joined by a fake link."""

from __future__ import annotations

from ledger.crypto import PrivateKey
from node.p2p.secure import SecureChannel

CHAIN = "esoc-test"

ALICE = PrivateKey.from_name("alice", salt="p2p-tests")
BOB = PrivateKey.from_name("bob", salt="p2p-tests")
MALLORY = PrivateKey.from_name("mallory", salt="p2p-tests")


def allow(*keys: PrivateKey):
    allowed = {k.public for k in keys}
    return lambda pub: pub in allowed


class ChannelPair:
    """``a`` dials ``b``.  ``pump()`` moves queued bytes both ways until quiet."""

    def __init__(self, a_key=ALICE, b_key=BOB, *, a_chain=CHAIN, b_chain=CHAIN,
                 a_allows=None, b_allows=None, **kw):
        self.a = SecureChannel(a_key, a_chain, initiator=True,
                               authorize=a_allows or allow(ALICE, BOB), **kw)
        self.b = SecureChannel(b_key, b_chain, initiator=False,
                               authorize=b_allows or allow(ALICE, BOB), **kw)
        self.events = {"a": [], "b": []}

    def pump(self) -> None:
        for _ in range(10):
            to_b = self.a.data_to_send()
            to_a = self.b.data_to_send()
            if not to_b and not to_a:
                return
            if to_b:
                self.events["b"] += self.b.receive_data(to_b)
            if to_a:
                self.events["a"] += self.a.receive_data(to_a)
        raise AssertionError("link never went quiet")

    def handshake(self) -> "ChannelPair":
        self.pump()
        return self
