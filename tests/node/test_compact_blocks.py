"""Compact blocks (node/consensus_driver.py, docs/p2p.md): a proposal names its transactions by hash;
a validator rebuilds the block from its mempool and fetches only what it lacks, within bounds.

Two nodes of one chain (the second a copy of the first's home, before any block), each with its
own LevelDB, mempool and driver; the p2p transport is replaced by a recorder, so the messages
one driver sends are handed to the other's handlers by the test, in the order the test chooses.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest
import trio
import trio.testing

import node.consensus_driver as cd
from consensus.events import ProposalReceived
from consensus.types import Proposal
from ledger.address import address_of
from ledger.block import Block
from ledger.codec import CodecError
from ledger.tx import Transfer, sign_tx
from node.config import Home
from node.consensus_driver import ConsensusDriver
from node.p2p import (
    CompactProposalMsg, ProposalMsg, TxFetchRequest, TxFetchResponse, decode_message,
)
from wallet.keystore import Keystore

from .conftest import make_home

PEER_A = b"\xaa" * 32  # how B names A (the proposer) and others on its transport
PEER_C = b"\xcc" * 32


class FakeP2P:
    def __init__(self, peers=(PEER_A, PEER_C)):
        self._peers = list(peers)
        self.sent: list[tuple[bytes | None, object]] = []

    def peers(self):
        return sorted(self._peers)

    def send(self, peer, data):
        self.sent.append((peer, decode_message(data)))
        return True

    def broadcast(self, data, exclude=()):
        self.sent.append((None, decode_message(data)))
        return len(self._peers)

    def of(self, cls):
        return [(p, m) for p, m in self.sent if isinstance(m, cls)]


@dataclasses.dataclass
class Pair:
    a: object  # the proposer's node
    b: object  # the validator's node
    da: ConsensusDriver
    db: ConsensusDriver
    txs: list


@pytest.fixture
def pair(tmp_path):
    from node.service import Node

    home_a = make_home(tmp_path, compact_blocks=True)
    b_path = str(tmp_path / "b")
    shutil.copytree(home_a.path, b_path)
    ks = Keystore(os.path.join(str(tmp_path / "net"), "keystore"))
    alice, bob = ks.unlock("alice", "devnet"), ks.unlock("bob", "devnet")
    a, b = Node(home_a), Node(Home(b_path))
    txs = [sign_tx(alice, a.chain_id, "transfer", Transfer(to=address_of(bob.public), amount=100 + i), i, 1000)
           for i in range(12)]
    for n in (a, b):
        n.verifier.close() if hasattr(n.verifier, "close") else None
    state = a.app.state()
    for t in txs:
        a.app.mempool.add(t, state, 1, verified=False)
    da, db = ConsensusDriver(a), ConsensusDriver(b)
    for d in (da, db):
        d.clock_ms = lambda: 1_900_000_000_000
        d.p2p = FakeP2P()
    yield Pair(a, b, da, db, txs)
    a.store.close()
    b.store.close()


def give_b(p: Pair, idx) -> None:
    state = p.b.app.state()
    for i in idx:
        p.b.app.mempool.add(p.txs[i], state, 1, verified=False)


def propose(p: Pair) -> tuple[Proposal, bytes, bytes]:
    """A builds block 1 and sends its proposal: (proposal, full block bytes, the compact message's bytes)."""
    raw = p.da._build(1)
    assert raw is not None
    prop = Proposal(1, 0, Block.decode(raw).hash, -1, p.a.pubkey)
    data, ntx = p.da._proposal_msg(prop, raw)
    assert ntx == len(p.txs)
    return prop, raw, data


async def received(d: ConsensusDriver) -> ProposalReceived:
    with trio.fail_after(30):
        ev = await d.inbox.receive()
    assert isinstance(ev, ProposalReceived)
    return ev


def test_the_compact_message_is_much_smaller_than_the_full_one(pair):
    prop, raw, data = propose(pair)
    full = ProposalMsg(prop.encode(), raw).encode()
    msg = decode_message(data)
    assert isinstance(msg, CompactProposalMsg)
    assert len(msg.tx_hashes) == 12
    empty = len(CompactProposalMsg(msg.proposal, msg.shell, ()).encode())
    per_tx_compact = (len(data) - empty) / 12
    per_tx_full = (len(full) - empty) / 12
    assert per_tx_compact <= 35 and per_tx_full >= 150  # a hash each, against a signed transfer each
    assert len(data) < len(full)


def test_a_proposal_rebuilt_from_the_mempool_is_the_full_block_and_decodes_nothing(pair, monkeypatch):
    give_b(pair, range(12))
    prop, raw, data = propose(pair)
    decoded = []
    monkeypatch.setattr(cd, "decode_tx", lambda r: decoded.append(r))

    async def main():
        async with trio.open_nursery() as n:
            pair.db.nursery = n
            await pair.db._on_message(PEER_A, data)
            ev = await received(pair.db)
            assert ev.value == raw and ev.proposal == prop
            assert not pair.db.p2p.of(TxFetchRequest)  # nothing fetched
    trio.run(main)
    assert decoded == []
    assert pair.db._validate(1, raw) is True
    # execution took each transaction from the mempool, decoded and checked: none was checked again
    assert all(pair.b.app.mempool.is_verified(t.hash) for t in pair.txs)


def test_missing_transactions_are_fetched_from_the_proposer_and_checked_in_one_batch(pair):
    give_b(pair, range(6))  # B lacks the last six
    prop, raw, data = propose(pair)
    batches = []
    real = cd._decode_verify_batch

    def spy(raws, verifier=None, hashes=None):
        batches.append(len(raws))
        return real(raws, verifier, hashes)

    async def main():
        async with trio.open_nursery() as n:
            pair.db.nursery = n
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(cd, "_decode_verify_batch", spy)
                await pair.db._on_message(PEER_A, data)
                await trio.testing.wait_all_tasks_blocked()
                (peer, req), = pair.db.p2p.of(TxFetchRequest)
                assert peer == PEER_A
                assert set(req.tx_hashes) == {pair.txs[i].hash for i in range(6, 12)}
                await pair.da._on_message(b"\xbb" * 32, req.encode())  # A serves it
                (_, resp), = pair.da.p2p.of(TxFetchResponse)
                assert len(resp.txs) == 6
                await pair.db._on_message(PEER_A, resp.encode())
                ev = await received(pair.db)
            assert ev.value == raw
    trio.run(main)
    assert batches == [6]
    assert pair.db._validate(1, raw) is True
    for i in range(6, 12):  # fetched ones joined the mempool and are not decoded again on an echo
        assert pair.b.app.mempool.has(pair.txs[i].hash)
        assert pair.txs[i].hash in pair.db._tx_seen


@pytest.mark.parametrize("bad", ["wrong", "extra", "oversized"])
def test_a_wrong_extra_or_oversized_answer_is_refused_and_another_peer_is_asked(pair, monkeypatch, bad):
    give_b(pair, range(6))
    prop, raw, data = propose(pair)
    want = [pair.txs[i].raw for i in range(6, 12)]
    if bad == "wrong":
        answer = want[:-1] + [pair.txs[0].raw]  # one the fetcher did not ask for
    elif bad == "extra":
        answer = want + [pair.txs[0].raw]
    else:
        monkeypatch.setattr(cd, "FETCH_MAX_BYTES", sum(map(len, want)) - 1)
        answer = want

    async def main():
        async with trio.open_nursery() as n:
            pair.db.nursery = n
            await pair.db._on_message(PEER_A, data)
            await pair.db._on_message(PEER_C, data)  # C announced it too
            await trio.testing.wait_all_tasks_blocked()
            await pair.db._on_message(PEER_A, TxFetchResponse(prop.value_id, tuple(answer)).encode())
            await trio.testing.wait_all_tasks_blocked()
            f = pair.db._fetches[prop.value_id]
            assert PEER_A in f.refused and len(f.missing) == 6 and not f.got  # nothing of it kept
            asks = pair.db.p2p.of(TxFetchRequest)
            assert [p for p, _ in asks] == [PEER_A, PEER_C]  # the next peer asked at once
            ok = tuple(want) if bad != "oversized" else tuple(want[:3])  # within the bound: in two answers
            await pair.db._on_message(PEER_C, TxFetchResponse(prop.value_id, ok).encode())
            if bad == "oversized":
                await trio.testing.wait_all_tasks_blocked()
                (p3, req3) = pair.db.p2p.of(TxFetchRequest)[-1]
                assert p3 == PEER_C and len(req3.tx_hashes) == 3
                await pair.db._on_message(PEER_C, TxFetchResponse(prop.value_id, tuple(want[3:])).encode())
            ev = await received(pair.db)
            assert ev.value == raw
    trio.run(main)


def test_an_answer_nobody_asked_for_is_ignored(pair):
    give_b(pair, range(6))
    prop, raw, data = propose(pair)

    async def main():
        async with trio.open_nursery() as n:
            pair.db.nursery = n
            # before any proposal: nothing is kept
            await pair.db._on_message(PEER_A, TxFetchResponse(prop.value_id, (pair.txs[7].raw,)).encode())
            assert not pair.db._fetches
            await pair.db._on_message(PEER_A, data)
            await trio.testing.wait_all_tasks_blocked()
            # from a peer not asked
            await pair.db._on_message(PEER_C, TxFetchResponse(prop.value_id, (pair.txs[7].raw,)).encode())
            assert len(pair.db._fetches[prop.value_id].missing) == 6
            # another announcer while a request is in flight: no second request, the first still awaited
            await pair.db._on_message(PEER_C, data)
            await trio.testing.wait_all_tasks_blocked()
            assert [p for p, _ in pair.db.p2p.of(TxFetchRequest)] == [PEER_A]
            assert pair.db._fetches[prop.value_id].announcers == [PEER_A, PEER_C]
            n.cancel_scope.cancel()
    trio.run(main)


def test_a_peer_that_never_answers_costs_the_round_its_timeout_and_no_more(pair):
    give_b(pair, range(6))
    prop, raw, data = propose(pair)
    cfg = pair.b.config
    give_up = (cfg.timeout_propose_ms + cfg.timeout_prevote_ms + cfg.timeout_precommit_ms) / 1000

    async def main():
        async with trio.open_nursery() as n:
            pair.db.nursery = n
            t0 = trio.current_time()
            await pair.db._on_message(PEER_A, data)
            while pair.db._fetches:
                await trio.sleep(0.1)
            assert trio.current_time() - t0 <= give_up + 0.2
            asked = [p for p, _ in pair.db.p2p.of(TxFetchRequest)]
            assert set(asked) == {PEER_A}  # the only one that announced it (and is its proposer)
            assert len(asked) >= 2  # asked again after each unanswered second
            assert pair.db.inbox.statistics().current_buffer_used == 0  # nothing fed to the engine
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_hash_list_that_does_not_match_the_header_is_refused(pair):
    give_b(pair, range(12))
    prop, raw, data = propose(pair)
    msg = decode_message(data)
    swapped = (msg.tx_hashes[1], msg.tx_hashes[0]) + tuple(msg.tx_hashes[2:])  # same txs, another order
    bad = CompactProposalMsg(msg.proposal, msg.shell, swapped).encode()

    async def main():
        async with trio.open_nursery() as n:
            pair.db.nursery = n
            await pair.db._on_message(PEER_A, bad)
            return await received(pair.db)
    ev = trio.run(main)
    assert ev.value != raw
    assert Block.decode(ev.value).hash == prop.value_id  # the header (and so the signed id) is the proposer's
    assert pair.db._validate(1, ev.value) is False  # the transactions root does not match: prevote nil


def test_a_shell_that_signs_another_block_or_carries_transactions_is_refused(pair):
    give_b(pair, range(12))
    prop, raw, data = propose(pair)
    msg = decode_message(data)
    other = Proposal(1, 0, b"\x01" * 32, -1, pair.a.pubkey)
    blk = Block.decode(raw)
    fat = Block(blk.header, blk.txs[:1], blk.evidence, blk.last_commit).encode()

    async def main():
        async with trio.open_nursery() as n:
            pair.db.nursery = n
            await pair.db._on_message(PEER_A, CompactProposalMsg(other.encode(), msg.shell, msg.tx_hashes).encode())
            assert pair.db.inbox.statistics().current_buffer_used == 0
            with pytest.raises(cd.PeerMisbehaved):
                await pair.db._on_message(PEER_A, CompactProposalMsg(msg.proposal, fat, msg.tx_hashes).encode())
            with pytest.raises(cd.PeerMisbehaved):
                await pair.db._on_message(PEER_A, CompactProposalMsg(msg.proposal, b"junk", msg.tx_hashes).encode())
    trio.run(main)


def test_one_peer_cannot_make_a_node_hold_unbounded_fetches(pair):
    prop, raw, data = propose(pair)  # B's mempool is empty: every proposal needs a fetch
    msg = decode_message(data)
    blk = Block.decode(raw)

    async def main():
        async with trio.open_nursery() as n:
            pair.db.nursery = n
            for i in range(3 * cd.MAX_PENDING_FETCHES):
                hd = dataclasses.replace(blk.header, time_ms=blk.header.time_ms + i)
                shell = Block(hd, (), blk.evidence, blk.last_commit)
                p = Proposal(1, 0, shell.hash, -1, pair.a.pubkey)
                await pair.db._on_message(PEER_A, CompactProposalMsg(p.encode(), shell.encode(), msg.tx_hashes).encode())
                assert len(pair.db._fetches) <= cd.MAX_PENDING_FETCHES
            n.cancel_scope.cancel()
    trio.run(main)


def test_a_fetch_answer_holds_a_bounded_number_of_bounded_transactions():
    with pytest.raises(CodecError):
        decode_message(TxFetchResponse(b"\x00" * 32, (b"x" * (64 * 1024 + 1),)).encode())
    with pytest.raises(CodecError):
        decode_message(TxFetchRequest(b"\x00" * 32, (b"\x00" * 32,) * (cd.FETCH_MAX_TXS + 1)).encode())


def test_the_switch_off_sends_full_blocks(pair):
    pair.da.compact = False
    raw = pair.da._build(1)
    prop = Proposal(1, 0, Block.decode(raw).hash, -1, pair.a.pubkey)
    data, _ = pair.da._proposal_msg(prop, raw)
    assert isinstance(decode_message(data), ProposalMsg)


def test_a_rebuilt_proposal_is_decoded_once_and_executed_from_the_mempools_transactions(pair, monkeypatch):
    """The rebuild's transactions (decoded and checked on admission) go to execution as they are held: the
    block is not looked up transaction by transaction again, and its bytes are decoded once for the value id,
    the validation and the commit together."""
    give_b(pair, range(12))
    prop, raw, data = propose(pair)
    held = {t.hash: t for t in pair.b.app.mempool.reap(100, 10**9)}
    decodes, given = [], []
    real_decode, real_exec = cd.Block.decode, pair.b.app.execute_block
    monkeypatch.setattr(cd.Block, "decode", staticmethod(lambda b, **kw: (decodes.append(len(b)), real_decode(b, **kw))[1]))

    def spy_exec(blk, txs=None):
        given.append(txs)
        return real_exec(blk, txs)
    monkeypatch.setattr(pair.b.app, "execute_block", spy_exec)

    async def main():
        async with trio.open_nursery() as n:
            pair.db.nursery = n
            await pair.db._on_message(PEER_A, data)
            await received(pair.db)
    trio.run(main)
    assert pair.db._value_id(raw) == prop.value_id
    assert pair.db._validate(1, raw) is True
    assert len([n for n in decodes if n == len(raw)]) <= 1  # the full block: decoded at most once
    assert pair.db._validate(1, raw) is True
    assert len([n for n in decodes if n == len(raw)]) <= 1  # ... and not again when asked again
    [txs, _] = given
    assert [t.raw for t in txs] == list(Block.decode(raw).txs)
    assert all(t is held[t.hash] for t in txs)  # the mempool's own objects


def test_execution_takes_only_the_held_transactions_whose_bytes_match_the_block(pair):
    """``execute_block(block, txs)``: an entry that is not the block's transaction at its place is not used
    (looked up as without it), so a wrong list cannot change what a block does."""
    give_b(pair, range(12))
    raw = pair.da._build(1)
    blk = Block.decode(raw)
    plain = pair.b.app.execute_block(blk)
    pair.b.app._executed.clear()
    shifted = list(reversed(pair.txs))  # every entry another transaction's
    ex = pair.b.app.execute_block(blk, shifted)
    assert ex.diff.root == plain.diff.root and ex.receipts == plain.receipts
    assert ex.tx_hashes == plain.tx_hashes == [t.hash for t in pair.txs]
    pair.b.app._executed.clear()
    ex2 = pair.b.app.execute_block(blk, shifted[:3])  # not one entry a transaction: ignored
    assert ex2.diff.root == plain.diff.root


def test_a_received_proposal_is_re_sent_compact_without_decoding_or_hashing_it(pair, monkeypatch):
    give_b(pair, range(12))
    prop, raw, data = propose(pair)

    async def main():
        async with trio.open_nursery() as n:
            pair.db.nursery = n
            await pair.db._on_message(PEER_A, data)
            await received(pair.db)
    trio.run(main)
    monkeypatch.setattr(cd, "tx_hash", lambda r: pytest.fail("hashed again"))
    monkeypatch.setattr(cd.Block, "decode", staticmethod(lambda *a, **kw: pytest.fail("decoded again")))
    again, ntx = pair.db._proposal_msg(prop, raw)  # a gossip re-send of A's proposal by B
    assert ntx == len(pair.txs) and again == data
