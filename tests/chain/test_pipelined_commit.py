"""The commit pipeline (issue 13 item 2): a decided block is staged in memory, readable at once,
and written to LevelDB afterwards; the next block executes on the staged state.

Real LevelDB stores throughout.  The staged block must read exactly as a written one, the next
block built on it must equal the block built by a node that wrote synchronously, and a crash
before the write must lose the staged block and nothing else.
"""

from __future__ import annotations

import threading

import pytest

from ledger.state import Account, acct_path_bytes
from ledger.store import ChainStore, StoreError
from ledger.tx import Transfer

from . import ADDR, KEYS, World


def _fund(w: World) -> None:
    w.submit(w.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=300)))


def test_a_staged_block_reads_as_written_before_it_is_on_disk(tmp_path):
    w = World(tmp_path)
    _fund(w)
    ex1 = w.app.build_block(w.time + 1_000, KEYS["val"], None)
    w.app.stage(ex1, None)
    store = w.store
    assert store.db.get(b"m/height") == (0).to_bytes(8, "big")  # nothing of block 1 in LevelDB yet
    assert store.staged_height() == 1
    # every read of the store and the application is at height 1
    assert w.app.height == store.height() == 1
    assert w.acct("bob").balance == 300 and w.acct("alice").balance == 700 and w.acct("alice").nonce == 1
    assert store.block(1).hash == ex1.block.hash
    assert store.state_root(1) == ex1.block.header.state_root
    assert [r.code for r in store.receipts(1)] == [r.code for r in ex1.receipts]
    assert store.tx_location(ex1.tx_hashes[0]) == (1, 0)
    root, proof = store.prove(("acct", ADDR["bob"]), 1)
    assert root == ex1.block.header.state_root and proof is not None
    assert len(w.app.mempool) == 0  # the mempool moved to height 1 too
    # other threads (gRPC's) read what is on disk: height 0, no block 1, the old balances
    seen = {}

    def other_thread() -> None:
        seen["height"] = store.height()
        seen["block"] = store.block(1)
        seen["tx"] = store.tx_location(ex1.tx_hashes[0])
        seen["bob"] = store.read_latest(acct_path_bytes(ADDR["bob"]))
        seen["root"] = store.state_root(store.height())
        # the application's views a gRPC thread asks for (Status: is this node a validator?)
        seen["valset"] = w.app.valset().hash() == w.app.valset(store.height() + 1).hash()
        seen["validators"] = len(w.app.validators())

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert Account.decode(seen.pop("bob")).balance == 0
    assert seen == {"height": 0, "block": None, "tx": None, "root": store.state_root(0), "valset": True,
                    "validators": 1}
    # a second block is not staged before the first is written
    with pytest.raises(StoreError, match="still being written"):
        store.stage_block(ex1.block, ex1.raw, None, ex1.receipts, ex1.diff)
    with pytest.raises(StoreError, match="not written"):
        store.unstage()
    # written on another thread (as the node does), reads are unchanged and now come from disk
    t = threading.Thread(target=store.write_staged)
    t.start()
    t.join()
    store.unstage()
    assert store.staged_height() is None
    assert store.db.get(b"m/height") == (1).to_bytes(8, "big")
    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert seen["height"] == 1 and seen["block"].hash == ex1.block.hash and seen["tx"] == (1, 0)
    assert seen["root"] == ex1.block.header.state_root and Account.decode(seen["bob"]).balance == 300
    assert w.app.height == store.height() == 1 and w.acct("bob").balance == 300
    assert store.block(1).hash == ex1.block.hash and store.tx_location(ex1.tx_hashes[0]) == (1, 0)
    with pytest.raises(StoreError, match="no block is staged"):
        store.write_staged()
    w.close()


def test_the_next_block_executes_on_the_staged_state_as_on_the_written_one(tmp_path):
    """Node P stages block 1 and builds block 2 before block 1 is written; node S writes each block
    before going on.  S accepts P's block 2 (same state root, receipts, everything in the header),
    and both end with the same state."""
    p, s = World(tmp_path, "pipelined"), World(tmp_path, "synchronous")
    for w in (p, s):
        _fund(w)
    ex1 = p.app.build_block(2_000, KEYS["val"], None)
    p.app.stage(ex1, None)
    s.app.commit(s.app.execute_block(ex1.block), None)
    # block 2 spends what block 1 gave bob: its execution reads the staged state
    for w in (p, s):
        w.submit(w.tx("bob", "transfer", Transfer(to=ADDR["ent"], amount=120)))
    ex2 = p.app.build_block(3_000, KEYS["val"], None)
    assert len(ex2.block.txs) == 1 and ex2.receipts[0].code == 0
    p.store.write_staged()
    p.store.unstage()
    p.app.commit(ex2, None)
    s.app.commit(s.app.execute_block(ex2.block), None)  # raises InvalidBlock on any difference
    for h in (1, 2):
        assert p.store.state_root(h) == s.store.state_root(h)
    assert p.all_state() == s.all_state()
    assert p.acct("ent").balance == 620
    p.close()
    s.close()


def test_a_crash_before_the_write_loses_the_staged_block_and_nothing_else(tmp_path):
    w = World(tmp_path)
    _fund(w)
    ex1 = w.app.build_block(2_000, KEYS["val"], None)
    w.app.commit(ex1, None)
    w.submit(w.tx("alice", "transfer", Transfer(to=ADDR["ent"], amount=50)))
    ex2 = w.app.build_block(3_000, KEYS["val"], None)
    w.app.stage(ex2, None)
    assert w.app.height == 2
    w.store.db.close()  # the process dies: the staged batch was never written
    again = World(tmp_path)
    assert again.app.height == again.store.height() == 1
    assert again.store.state_root(1) == ex1.block.header.state_root
    assert again.store.block(2) is None and again.store.tx_location(ex2.tx_hashes[0]) is None
    assert again.acct("ent").balance == 500 and again.acct("alice").balance == 700
    # the decision is replayed (the WAL's part): the same block commits, to the same root
    again.app.commit(again.app.execute_block(ex2.block), None)
    assert again.store.state_root(2) == ex2.block.header.state_root and again.acct("ent").balance == 550
    again.close()


def test_a_failed_write_leaves_the_block_staged_and_reads_intact(tmp_path):
    w = World(tmp_path)
    _fund(w)
    ex1 = w.app.build_block(2_000, KEYS["val"], None)
    w.app.stage(ex1, None)
    store = w.store

    class FullDisk:
        """Stands in for the staged LevelDB write batch on a full disk."""

        def write(self):
            raise OSError(28, "No space left on device")

    staged = store._staged
    batch, staged.batch = staged.batch, FullDisk()
    with pytest.raises(OSError, match="No space"):
        store.write_staged()
    staged.batch = batch
    assert store.staged_height() == 1 and w.acct("bob").balance == 300
    with pytest.raises(StoreError, match="not written"):
        store.unstage()
    store.write_staged()  # the disk has room again
    store.unstage()
    assert ChainStore.height(store) == 1 and store.db.get(b"m/height") == (1).to_bytes(8, "big")
    w.close()


def test_stored_receipts_bytes_are_the_canonical_encoding_staged_and_written(tmp_path):
    """StreamBlocks/GetBlock send ``receipts_bytes`` as they are stored; they must be what encoding the
    decoded receipts gives (the general codec), a failed transaction's receipt included."""
    from ledger.codec import encode

    w = World(tmp_path)
    t1 = w.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=300))
    t2 = w.tx("bob", "transfer", Transfer(to=ADDR["ent"], amount=10**9))  # bob cannot pay this
    ex = w.build_exactly([t1, t2])
    assert [r.code == 0 for r in ex.receipts] == [True, False]
    w.app.stage(ex, None)
    staged = w.store.receipts_bytes(1)
    assert staged == encode([r.to_obj() for r in w.store.receipts(1)])
    w.store.write_staged()
    w.store.unstage()
    assert w.store.receipts_bytes(1) == staged == encode([r.to_obj() for r in ex.receipts])
    assert w.store.receipts_bytes(0) == encode([]) == w.store.receipts_bytes(5)
    w.close()
