"""Transaction relay (node/consensus_driver.py's tx loop): a relayed batch names the nodes known to
have it (``TxsSentMsg.sent_to``), and a receiver relays it only to its peers not named -- so in a full
mesh a transaction crosses each link once, and where the mesh is not full it still reaches everyone."""

from __future__ import annotations

import time

import trio

from node.p2p import TxsMsg, TxsSentMsg, decode_message

from .test_compact_blocks import PEER_A, PEER_C, FakeP2P, pair  # noqa: F401 - pair is a fixture


class RecP2P(FakeP2P):
    def broadcast(self, data, exclude=()):
        self.sent.append((tuple(sorted(exclude)), decode_message(data)))
        return len([p for p in self._peers if p not in exclude])


def _run_loop(d, until) -> None:
    async def main():
        async with trio.open_nursery() as n:
            n.start_soon(d._tx_loop)
            deadline = time.monotonic() + 30
            while not until() and time.monotonic() < deadline:
                await trio.sleep(0.005)
            await trio.sleep(0.05)  # and a little longer: nothing more may go out
            n.cancel_scope.cancel()

    trio.run(main)


def test_api_transactions_go_to_every_peer_naming_them_all(pair):  # noqa: F811
    d, p2p = pair.db, RecP2P()
    d.p2p = p2p
    raws = [t.raw for t in pair.txs[:3]]
    d.relay_txs(raws)
    _run_loop(d, lambda: p2p.sent)
    [(exclude, msg)] = p2p.sent
    assert exclude == () and isinstance(msg, TxsSentMsg)
    assert list(msg.txs) == raws
    assert set(msg.sent_to) == {PEER_A, PEER_C, pair.b.pubkey}


def test_a_batch_every_peer_has_is_not_relayed_again(pair):  # noqa: F811
    d, p2p = pair.db, RecP2P()
    d.p2p = p2p
    raws = [t.raw for t in pair.txs[:3]]
    trio.run(d._on_message, PEER_A, TxsSentMsg(tuple(raws), (PEER_C, pair.b.pubkey)).encode())
    _run_loop(d, lambda: len(pair.b.app.mempool) == 3)
    assert len(pair.b.app.mempool) == 3  # admitted, decoded and checked once
    assert p2p.sent == []  # A sent them to C too: no echo to either


def test_peers_the_sender_did_not_reach_still_get_them(pair):  # noqa: F811
    d, p2p = pair.db, RecP2P()
    d.p2p = p2p
    raws = [t.raw for t in pair.txs[:3]]
    trio.run(d._on_message, PEER_A, TxsMsg(tuple(raws)).encode())  # an older sender: names nobody
    _run_loop(d, lambda: p2p.sent)
    [(exclude, msg)] = p2p.sent
    assert exclude == (PEER_A,)  # not back to where they came from
    assert list(msg.txs) == raws
    assert set(msg.sent_to) == {PEER_A, PEER_C, pair.b.pubkey}
    p2p.sent.clear()
    d.relay_txs([])  # a relay echo of the same batch is neither decoded again nor relayed
    trio.run(d._on_message, PEER_C, TxsSentMsg(tuple(raws), (PEER_A, pair.b.pubkey)).encode())
    assert d.tx_inbox == []


def test_own_api_relays_go_out_at_once_without_cutting_the_gathering_of_received_ones(pair, monkeypatch):  # noqa: F811
    """Transactions this node's API admitted are relayed at once; the received ones keep being gathered
    until TX_GATHER_S (or TX_GATHER_TXS) and go to the signature workers as one batch."""
    import trio.testing

    import node.consensus_driver as cd

    d, p2p = pair.db, RecP2P()
    d.p2p = p2p
    batches = []
    real = cd._decode_verify_batch
    monkeypatch.setattr(cd, "_decode_verify_batch",
                        lambda raws, verifier=None, hashes=None: (batches.append(len(raws)), real(raws, verifier, hashes))[1])
    raws = [t.raw for t in pair.txs[:6]]
    everyone = (PEER_C, pair.b.pubkey)  # A sent them to all: B relays none of them

    async def main():
        async with trio.open_nursery() as n:
            n.start_soon(d._tx_loop)
            await d._on_message(PEER_A, TxsSentMsg(tuple(raws[:3]), everyone).encode())
            await trio.sleep(cd.TX_GATHER_S / 3)
            d.relay_txs([b"own api tx"])
            await trio.sleep(cd.TX_GATHER_S / 3)
            assert [list(m.txs) for _, m in p2p.sent] == [[b"own api tx"]]  # out at once
            assert batches == [] and len(pair.b.app.mempool) == 0  # ... and the gathering goes on
            await d._on_message(PEER_A, TxsSentMsg(tuple(raws[3:]), everyone).encode())
            deadline = time.monotonic() + 30
            while len(pair.b.app.mempool) < 6 and time.monotonic() < deadline:
                await trio.sleep(0.001)
            n.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert batches == [6]
    assert len(pair.b.app.mempool) == 6
    assert len(p2p.sent) == 1


def test_a_decoded_batch_takes_its_senders_addresses_from_the_table(pair):  # noqa: F811
    import node.consensus_driver as cd
    from ledger.address import address_of

    raws = [t.raw for t in pair.txs]
    first = cd._decode_verify_batch(raws)
    again = cd._decode_verify_batch(raws)
    assert all(t is not None for t in first + again)
    assert all(t.sender == address_of(t.body.signer) for t in first + again)
    import node.verifier as nv

    assert nv._ADDRESSES[pair.txs[0].body.signer] == address_of(pair.txs[0].body.signer)
