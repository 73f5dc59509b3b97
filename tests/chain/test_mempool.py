"""The mempool: bounds, duplicates, nonce order, update after commit, reaping."""

from __future__ import annotations

import pytest

from ledger import codes
from ledger.tx import Deregister, Issue, Retire, SignedTx, Transfer, sign_tx
from chain.mempool import Mempool, Rejected

from . import ADDR, CHAIN, KEYS, World


def pay(signer: str, nonce: int, amount: int = 1, expiry: int = 100, memo: str = "") -> SignedTx:
    return sign_tx(KEYS[signer], CHAIN, "transfer", Transfer(to=ADDR["bob"], amount=amount, memo=memo), nonce, expiry)


def add(pool: Mempool, w: World, tx: SignedTx, verified: bool = False) -> bytes:
    return pool.add(tx, w.app.state(), w.app.height + 1, verified)


def rejected(pool, w, tx) -> int:
    with pytest.raises(Rejected) as e:
        add(pool, w, tx)
    return e.value.code


def test_duplicate_refused(w):
    pool = Mempool(CHAIN)
    tx = pay("alice", 0)
    assert add(pool, w, tx) == tx.hash
    assert rejected(pool, w, tx) == codes.DUPLICATE
    # the same bytes decoded afresh are the same transaction
    from ledger.tx import decode_tx

    assert rejected(pool, w, decode_tx(tx.raw)) == codes.DUPLICATE
    assert len(pool) == 1 and pool.size_bytes == len(tx.raw)


def test_full_by_count(w):
    pool = Mempool(CHAIN, max_txs=2)
    add(pool, w, pay("alice", 0))
    add(pool, w, pay("ent", 0))
    assert rejected(pool, w, pay("alice", 1)) == codes.MEMPOOL_FULL
    assert rejected(pool, w, pay("reg", 0)) == codes.MEMPOOL_FULL
    assert len(pool) == 2


def test_full_by_bytes(w):
    t0, t1 = pay("alice", 0), pay("ent", 0)
    pool = Mempool(CHAIN, max_bytes=len(t0.raw) + len(t1.raw) - 1)
    add(pool, w, t0)
    assert rejected(pool, w, t1) == codes.MEMPOOL_FULL
    assert pool.size_bytes == len(t0.raw)
    tiny = Mempool(CHAIN, max_bytes=len(t0.raw) - 1)
    assert rejected(tiny, w, t0) == codes.MEMPOOL_FULL
    assert len(tiny) == 0 and tiny.size_bytes == 0


def test_per_sender_limit(w):
    pool = Mempool(CHAIN, max_per_sender=2)
    add(pool, w, pay("alice", 0))
    add(pool, w, pay("alice", 1))
    assert rejected(pool, w, pay("alice", 2)) == codes.MEMPOOL_FULL
    # other senders are not affected
    add(pool, w, pay("ent", 0))
    add(pool, w, pay("ent", 1))
    assert len(pool) == 4


def test_nonce_sequencing_of_queued_txs(w):
    pool = Mempool(CHAIN)
    for n in range(3):
        add(pool, w, pay("alice", n))
    assert rejected(pool, w, pay("alice", 4)) == codes.BAD_NONCE  # a gap
    assert rejected(pool, w, pay("alice", 2, amount=2)) == codes.BAD_NONCE  # nonce already queued
    assert rejected(pool, w, pay("alice", 1, amount=2)) == codes.BAD_NONCE
    add(pool, w, pay("alice", 3))
    # each sender has its own sequence
    assert rejected(pool, w, pay("ent", 1)) == codes.BAD_NONCE
    add(pool, w, pay("ent", 0))
    assert [(t.sender, t.body.nonce) for t in pool.reap(100, 10**9)] == [
        (ADDR["alice"], 0), (ADDR["alice"], 1), (ADDR["alice"], 2), (ADDR["alice"], 3), (ADDR["ent"], 0)
    ]


def test_second_tx_with_the_account_nonce_refused_while_one_is_pending(w):
    """A conflicting transaction for a nonce already queued is refused.

    Regression: the pending count was only consulted when the nonce did not
    match the account's, so a second transaction with the account's own nonce
    was admitted next to the first; block building then fell back to
    filtering and the pool held transactions that could never be included.
    """
    pool = w.app.mempool
    first = pay("alice", 0, amount=1)
    w.submit(first)
    assert rejected(pool, w, pay("alice", 0, amount=2)) == codes.BAD_NONCE
    assert len(pool) == 1
    ex = w.block()
    assert ex.block.txs == (first.raw,)


def test_admission_checks_run_in_the_pool(w):
    pool = Mempool(CHAIN)
    assert rejected(pool, w, pay("carol", 0)) == codes.SENDER_NOT_REGISTERED
    assert rejected(pool, w, pay("alice", 0, expiry=0)) == codes.EXPIRED
    other = sign_tx(KEYS["alice"], "other", "transfer", Transfer(to=ADDR["bob"], amount=1), 0, 100)
    assert rejected(pool, w, other) == codes.WRONG_CHAIN
    good = pay("alice", 0)
    forged = SignedTx(body=good.body, sig=bytes(64))
    assert rejected(pool, w, forged) == codes.BAD_SIGNATURE
    assert len(pool) == 0
    # a verified signature is remembered, so a block need not check it again
    add(pool, w, good)
    assert pool.is_verified(good.hash) and not pool.is_verified(forged.hash)


def test_update_after_commit_drops_included_and_expired(worlds):
    a, b = worlds("a"), worlds("b")
    pool = a.app.mempool
    a0, a1, a2 = pay("alice", 0), pay("alice", 1), pay("alice", 2)
    e0 = pay("ent", 0, expiry=1)  # last chance is height 1
    c0 = sign_tx(KEYS["cb"], CHAIN, "issue", Issue(to=ADDR["bob"], amount=9), 0, 5)
    r0 = pay("reg", 0, amount=0, memo="conflict")  # replaced by another reg nonce-0 tx
    for t in (a0, a1, a2, e0, c0, r0):
        a.submit(t)
    assert len(pool) == 6
    # another node decides block 1 with alice's first tx and a different reg tx
    r0_other = pay("reg", 0, amount=0, memo="other")
    b.submit(a0)
    b.submit(r0_other)
    ex_b = b.block()
    assert len(ex_b.block.txs) == 2
    a.app.commit(a.app.execute_block(ex_b.block), None)

    left = {t.hash for t in pool.reap(100, 10**9)}
    # included: a0; expired: e0 (next height 2 > expiry 1); stale nonce: r0
    assert left == {a1.hash, a2.hash, c0.hash}
    assert len(pool) == 3
    assert not pool.has(a0.hash) and not pool.has(e0.hash) and not pool.has(r0.hash)
    assert pool.size_bytes == sum(len(t.raw) for t in (a1, a2, c0))
    # what is left still forms a valid block on top of the new state
    ex = a.block()
    assert [r.code for r in ex.receipts] == [codes.OK] * 3
    assert len(pool) == 0 and pool.size_bytes == 0
    # the pool's per-sender bookkeeping is clean: fresh nonces are admitted
    a.submit(pay("ent", 0, expiry=100))
    a.submit(pay("alice", 3))
    a.submit(pay("reg", 1, amount=0))  # reg holds nothing: a zero transfer (refused in the block, not here)
    assert len(pool) == 3


def test_update_drops_what_follows_an_expired_tx(w):
    pool = w.app.mempool
    t0 = pay("alice", 0, expiry=100)
    t1 = pay("alice", 1, expiry=1)  # expires after height 1 ...
    t2 = pay("alice", 2, expiry=100)  # ... and t2 can no longer follow
    for t in (t0, t1, t2):
        w.submit(t)
    # block 1 carries nothing from alice: built from another pool's view
    other = Mempool(CHAIN)
    other.add(pay("ent", 0), w.app.state(), 1, False)
    pool_saved, w.app.mempool = w.app.mempool, other
    ex = w.app.build_block(2_000, KEYS["val"], None)
    w.app.mempool = pool_saved
    w.app.commit(ex, None)
    assert [t.hash for t in pool.reap(100, 10**9)] == [t0.hash]
    w.submit(pay("alice", 1, expiry=100, memo="again"))
    assert len(pool) == 2


def test_reap_respects_max_txs_and_max_bytes(w):
    pool = Mempool(CHAIN)
    txs = [pay("alice", 0), pay("ent", 0), pay("alice", 1, memo="x" * 100), pay("ent", 1)]
    for t in txs:
        add(pool, w, t)
    sizes = [len(t.raw) for t in txs]
    assert pool.reap(100, 10**9) == txs  # arrival order
    assert pool.reap(2, 10**9) == txs[:2]
    assert pool.reap(0, 10**9) == []
    assert pool.reap(100, sum(sizes[:3])) == txs[:3]
    assert pool.reap(100, sum(sizes[:3]) - 1) == txs[:2]
    assert pool.reap(100, sizes[0] - 1) == []
    # reaping does not remove anything
    assert len(pool) == 4


def test_reaped_block_respects_the_app_limits(worlds):
    from . import make_genesis

    w = worlds(genesis=make_genesis(params={"max_block_txs": 2}))
    for n in range(5):
        w.submit(pay("alice", n))
    sizes = []
    while len(w.app.mempool):
        ex = w.block()
        sizes.append(len(ex.block.txs))
    assert sizes == [2, 2, 1]
    assert w.acct("alice").nonce == 5


def test_update_drops_txs_of_a_sender_deregistered_by_the_block(w):
    """Regression: update() re-checked only nonce and expiry, so a queued
    transaction whose sender a block had deregistered stayed in the pool (up
    to its expiry, possibly forever) and sent every later block build down
    the slow re-filtering path."""
    pool = w.app.mempool
    bob_tx = w.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=50))
    w.block(bob_tx)
    w.submit(w.tx("reg", "deregister", Deregister(account=ADDR["bob"])))
    from_bob = sign_tx(KEYS["bob"], CHAIN, "transfer", Transfer(to=ADDR["alice"], amount=5), 0, 2**64 - 1)
    w.submit(from_bob)
    ex = w.block()
    assert len(ex.block.txs) == 1  # bob's transaction could not follow his deregistration
    assert not w.acct("bob").registered
    assert not pool.has(from_bob.hash)
    assert len(pool) == 0 and pool.size_bytes == 0


def test_payment_over_the_balance_is_refused_at_admission(w):
    """Issue 14 fault 10: a transfer of more than the sender holds was admitted and failed in
    the block (INSUFFICIENT_FUNDS), burning a nonce; it is refused at admission now."""
    pool = w.app.mempool
    with pytest.raises(Rejected) as e:
        w.submit(pay("alice", 0, amount=1_001))  # alice holds 1,000
    assert e.value.code == codes.INSUFFICIENT_FUNDS
    assert "moves 1001 fen and the account holds 1000 fen" in e.value.reason
    assert len(pool) == 0
    w.submit(pay("alice", 0, amount=1_000))  # the nonce was not taken; the whole balance is fine
    assert len(pool) == 1


def test_balance_is_checked_net_of_the_senders_pending_payments(w):
    pool = w.app.mempool
    w.submit(pay("alice", 0, amount=600))
    with pytest.raises(Rejected) as e:
        w.submit(pay("alice", 1, amount=401))
    assert e.value.code == codes.INSUFFICIENT_FUNDS
    assert "600 fen of it promised to its pending transactions" in e.value.reason
    w.submit(pay("alice", 1, amount=400))
    assert rejected(pool, w, pay("alice", 2, amount=1)) == codes.INSUFFICIENT_FUNDS
    # money coming in is not counted until it is committed: alice's 1,000 for bob are pending
    assert rejected(pool, w, pay("bob", 0, amount=1)) == codes.INSUFFICIENT_FUNDS
    # a retirement counts too: the central bank may retire only what it holds
    w.block(w.tx("cb", "issue", Issue(to=ADDR["cb"], amount=50)))
    assert w.acct("alice").balance == 0 and len(pool) == 0  # both of alice's went in the block
    cb_nonce = w.acct("cb").nonce
    retire = sign_tx(KEYS["cb"], CHAIN, "retire", Retire(amount=51), cb_nonce, 100)
    assert rejected(pool, w, retire) == codes.INSUFFICIENT_FUNDS
    add(pool, w, sign_tx(KEYS["cb"], CHAIN, "retire", Retire(amount=30), cb_nonce, 100))
    assert rejected(pool, w, sign_tx(KEYS["cb"], CHAIN, "transfer", Transfer(to=ADDR["bob"], amount=21),
                                     cb_nonce + 1, 100)) == codes.INSUFFICIENT_FUNDS


def test_pending_spend_is_released_when_a_payment_leaves_the_pool(w):
    pool = w.app.mempool
    t0 = pay("alice", 0, amount=700, expiry=1)  # expires after height 1
    w.submit(t0)
    assert rejected(pool, w, pay("alice", 1, amount=301)) == codes.INSUFFICIENT_FUNDS
    # block 1 is built from another pool's view and leaves t0 out; t0 then expires
    other, pool_saved = Mempool(CHAIN), w.app.mempool
    w.app.mempool = other
    w.block()
    w.app.mempool = pool_saved
    pool.update([], w.app.state(), w.app.height + 1)  # as the commit does: t0 expired at height 1
    assert len(pool) == 0
    w.submit(pay("alice", 0, amount=1_000))  # the 700 promised to t0 is free again


def test_refusals_before_signatures_judge_as_add_does(w):
    pool = Mempool(CHAIN)
    add(pool, w, pay("alice", 0))
    batch = [pay("alice", 0),   # already pending (the same bytes)
             pay("alice", 2, memo="early"),  # a gap: alice's next is 1
             pay("alice", 1),   # follows
             pay("alice", 2),   # follows the one before it in the batch
             pay("alice", 4),   # a gap again
             pay("ent", 1),     # ent's next is 0
             pay("ent", 0),
             pay("alice", 1, expiry=0)]  # expired (and its nonce is taken by the batch's third)
    pre = pool.refusals_before_signatures(batch, w.app.state(), w.app.height + 1)
    codes_pre = [None if r is None else r.code for r in pre]
    assert codes_pre == [codes.DUPLICATE, codes.BAD_NONCE, None, None, codes.BAD_NONCE, codes.BAD_NONCE, None,
                         codes.EXPIRED]
    assert "nonce 4" in pre[4].reason and "next nonce 3" in pre[4].reason
    # the same as add() judging the batch in order, on a pool holding the same
    twin = Mempool(CHAIN)
    add(twin, w, pay("alice", 0))
    seq = []
    for tx in batch:
        try:
            add(twin, w, tx)
            seq.append(None)
        except Rejected as e:
            seq.append(e.code)
    assert seq == codes_pre
    assert len(pool) == 1  # judging admits nothing


def test_update_leaves_no_bookkeeping_for_a_sender_whose_transactions_were_all_included(w):
    pool = w.app.mempool
    txs = [pay("alice", 0, amount=5), pay("alice", 1, amount=7), pay("ent", 0, amount=3)]
    for t in txs:
        w.submit(t)
    ex = w.app.build_block(2_000, KEYS["val"], None)
    pool.add(pay("ent", 1, amount=2), w.app.state(), w.app.height + 1, False)  # arrives while the block is decided
    w.app.commit(ex, None)
    assert [t.body.nonce for t in pool.reap(100, 10**9)] == [1]
    assert ADDR["alice"] not in pool._by_sender and ADDR["alice"] not in pool._spend
    assert pool._spend == {ADDR["ent"]: 2} and len(pool._by_sender[ADDR["ent"]]) == 1
    assert pool.size_bytes == len(pool.reap(100, 10**9)[0].raw)


def test_update_reads_only_the_accounts_the_block_wrote_and_judges_the_others_by_expiry(w, monkeypatch):
    """After a block, a sender whose account the block did not write keeps its pending transactions without
    its account being read (their nonces still follow it); one that expired drops it and what follows."""
    pool = w.app.mempool
    e0, e1 = pay("ent", 0, expiry=100), pay("ent", 1, expiry=1)  # e1 expires after height 1 ...
    e2 = pay("ent", 2, expiry=100)  # ... and e2 can no longer follow
    for t in (e0, e1, e2):
        w.submit(t)
    # block 1 carries only alice's payment to bob: ent's account is not written
    other = Mempool(CHAIN)
    other.add(pay("alice", 0), w.app.state(), 1, False)
    saved, w.app.mempool = w.app.mempool, other
    ex = w.app.build_block(2_000, KEYS["val"], None)
    w.app.mempool = saved
    read = []
    from ledger.state import State
    real = State.account
    monkeypatch.setattr(State, "account", lambda self, a: (read.append(a), real(self, a))[1])
    w.app.commit(ex, None)
    assert ADDR["ent"] not in read  # judged without its account
    assert [t.hash for t in pool.reap(100, 10**9)] == [e0.hash]
    monkeypatch.undo()
    w.submit(pay("ent", 1, expiry=100, memo="again"))  # the nonce after e0 is free again
    assert len(pool) == 2


def test_update_with_the_written_paths_drops_what_a_full_recheck_drops(worlds):
    """The same block and pool, with and without the written paths: the same transactions remain."""
    a, b = worlds("a"), worlds("b")
    txs = [pay("alice", 0), pay("alice", 1), pay("ent", 0, expiry=1), pay("ent", 1), pay("reg", 0, amount=0)]
    for wd in (a, b):
        for t in txs:
            wd.submit(t)
    block_src = worlds("c")
    block_src.submit(pay("alice", 0))
    block_src.submit(pay("reg", 0, amount=0, memo="other"))  # takes reg's nonce 0 from under the pending one
    ex = block_src.block()
    for wd in (a, b):
        exw = wd.app.execute_block(ex.block)
        wd.app.store.stage_block(exw.block, exw.raw, None, exw.receipts, exw.diff, exw.receipts_encoded, exw.tx_hashes)
        wd.app._height += 1
        wd.app._executed.clear()
    a.app.mempool.update(ex.tx_hashes, a.app.state(), 2, ex.diff.changes)
    b.app.mempool.update(ex.tx_hashes, b.app.state(), 2)
    left_a = [t.hash for t in a.app.mempool.reap(100, 10**9)]
    assert left_a == [t.hash for t in b.app.mempool.reap(100, 10**9)]
    assert left_a == [txs[1].hash]  # alice's second; ent's expired and what follows; reg's nonce taken
