"""Executing transactions and blocks: what each kind does, what a failure
leaves behind, which blocks are refused, and that two nodes agree."""

from __future__ import annotations

import dataclasses

import pytest

from ledger import codes
from ledger.block import ZERO_HASH
from ledger.state import Account, Supply, acct_path, path_bytes
from ledger.tx import (
    ACCOUNT_KINDS,
    Deregister,
    Issue,
    Register,
    Retire,
    SetRole,
    SetValidator,
    SignedTx,
    Transfer,
    sign_tx,
)
from consensus import beacon
from chain.app import RANDOMNESS, VALSET, beacon_alpha, end_block_validators, mix_beacon
from chain.execution import InvalidBlock, admission_error
from chain.mempool import Rejected

from . import ADDR, CHAIN, KEYS, World, with_header, with_txs


def only_code(ex) -> int:
    assert len(ex.receipts) == 1
    return ex.receipts[0].code


def expect_only_nonce_changed(w: World, tx, code: int):
    """Run ``tx`` alone in a block; it must fail with ``code`` and change
    nothing but its sender's nonce: account records, supply, and root."""
    before = w.accounts()
    supply_before = w.app.state().supply()
    sender = tx.sender
    # the root the state must have if only the nonce moves
    s = w.app.state()
    s.set_account(sender, dataclasses.replace(s.account(sender), nonce=s.account(sender).nonce + 1))
    end_block_validators(s, w.app.height + 1)  # block bookkeeping: proposer priorities advance
    # and the beacon the proposer's VRF proof mixes in (consensus/beacon.py)
    h = w.app.height + 1
    mix_beacon(s, w.app.chain_id, h, beacon.prove(KEYS["val"], beacon_alpha(s, w.app.chain_id, h)), KEYS["val"].public)
    expected_root = s.commit(w.store.smt).root

    ex = w.block(tx)
    assert only_code(ex) == code, codes.name(ex.receipts[0].code)
    assert ex.receipts[0].events == ()
    after = w.accounts()
    want = dict(before)
    want[sender] = dataclasses.replace(before[sender], nonce=before[sender].nonce + 1)
    assert after == want
    assert w.app.state().supply() == supply_before
    beacon_paths = {path_bytes(RANDOMNESS)} | ({path_bytes(("beacon", h - 1))} if h >= 2 else set())
    assert set(ex.diff.changes) == {path_bytes(acct_path(sender)), path_bytes(VALSET)} | beacon_paths
    assert ex.block.header.state_root == expected_root
    return ex


# ---------------------------------------------------------------------------
# Transfers
# ---------------------------------------------------------------------------


def test_transfer_moves_money_and_bumps_nonce(w):
    tx = w.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=300, memo="rent"))
    ex = w.block(tx)
    assert only_code(ex) == codes.OK
    assert w.acct("alice") == Account(balance=700, nonce=1, kind="citizen", roles=(), name="alice")
    assert w.acct("bob") == Account(balance=0 + 300, nonce=0, kind="citizen", roles=(), name="bob")
    ev = ex.receipts[0].events
    assert ev == ({"type": "transfer", "from": ADDR["alice"], "to": ADDR["bob"], "amount": 300},)
    assert ex.receipts[0].tx_hash == tx.hash
    assert w.store.block(1).txs == (tx.raw,)
    assert w.app.state().supply() == Supply(issued=1_500, retired=0)
    assert w.store.tx_location(ex.receipts[0].tx_hash) == (1, 0)


def test_several_transfers_in_one_block_apply_in_order(w):
    t1 = w.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=600))
    t2 = w.tx("bob", "transfer", Transfer(to=ADDR["ent"], amount=500))  # only funded by t1
    t3 = w.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=600))  # now insufficient
    ex = w.block(t1, t2, t3)
    assert [r.code for r in ex.receipts] == [codes.OK, codes.OK, codes.INSUFFICIENT_FUNDS]
    assert w.acct("alice").balance == 400 and w.acct("alice").nonce == 2
    assert w.acct("bob").balance == 100 and w.acct("bob").nonce == 1
    assert w.acct("ent").balance == 1_000


def test_transfer_insufficient_funds_changes_only_the_nonce(w):
    expect_only_nonce_changed(w, w.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=1_001)), codes.INSUFFICIENT_FUNDS)


def test_transfer_to_unregistered_recipient_changes_only_the_nonce(w):
    tx = w.tx("alice", "transfer", Transfer(to=ADDR["carol"], amount=10))
    expect_only_nonce_changed(w, tx, codes.RECIPIENT_NOT_REGISTERED)
    assert w.store.read_at(acct_path(ADDR["carol"]), 1) is None  # not even created


def test_transfer_of_zero_is_invalid(w):
    expect_only_nonce_changed(w, w.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=0)), codes.INVALID_ARGUMENT)


def test_transfer_to_self_changes_only_the_nonce_but_succeeds(w):
    ex = w.block(w.tx("alice", "transfer", Transfer(to=ADDR["alice"], amount=10)))
    assert only_code(ex) == codes.OK
    assert w.acct("alice").balance == 1_000 and w.acct("alice").nonce == 1


# ---------------------------------------------------------------------------
# Issue and retire: the central bank only
# ---------------------------------------------------------------------------


def test_issue_by_central_bank_creates_money(w):
    ex = w.block(w.tx("cb", "issue", Issue(to=ADDR["bob"], amount=5_000)))
    assert only_code(ex) == codes.OK
    assert w.acct("bob").balance == 5_000
    assert w.app.state().supply() == Supply(issued=1_500 + 5_000, retired=0)
    assert ex.receipts[0].events == ({"type": "issue", "to": ADDR["bob"], "amount": 5_000},)


def test_issue_by_others_is_not_authorized(w):
    for who in ("alice", "reg"):
        expect_only_nonce_changed(w, w.tx(who, "issue", Issue(to=ADDR[who], amount=5)), codes.NOT_AUTHORIZED)


def test_issue_to_unregistered_or_of_zero_fails(w):
    expect_only_nonce_changed(w, w.tx("cb", "issue", Issue(to=ADDR["carol"], amount=5)), codes.RECIPIENT_NOT_REGISTERED)
    expect_only_nonce_changed(w, w.tx("cb", "issue", Issue(to=ADDR["bob"], amount=0)), codes.INVALID_ARGUMENT)


def test_issue_cannot_overflow_the_supply(w):
    big = 2**64 - 1 - 1_500
    ex = w.block(w.tx("cb", "issue", Issue(to=ADDR["bob"], amount=big)))
    assert only_code(ex) == codes.OK
    expect_only_nonce_changed(w, w.tx("cb", "issue", Issue(to=ADDR["ent"], amount=1)), codes.SUPPLY_OVERFLOW)


def test_retire_by_central_bank_from_its_own_balance(w):
    w.block(w.tx("cb", "issue", Issue(to=ADDR["cb"], amount=800)))
    ex = w.block(w.tx("cb", "retire", Retire(amount=300)))
    assert only_code(ex) == codes.OK
    assert w.acct("cb").balance == 500
    assert w.app.state().supply() == Supply(issued=1_500 + 800, retired=300)
    # never more than it holds
    expect_only_nonce_changed(w, w.tx("cb", "retire", Retire(amount=501)), codes.INSUFFICIENT_FUNDS)
    expect_only_nonce_changed(w, w.tx("cb", "retire", Retire(amount=0)), codes.INVALID_ARGUMENT)


def test_retire_by_others_is_not_authorized(w):
    expect_only_nonce_changed(w, w.tx("alice", "retire", Retire(amount=10)), codes.NOT_AUTHORIZED)


# ---------------------------------------------------------------------------
# Registration and roles: the registrar only
# ---------------------------------------------------------------------------


def test_register_each_kind(w):
    names = ["carol", "dave", "val2"]
    txs = [w.tx("reg", "register", Register(account=ADDR[n], kind=k, name=n.title())) for n, k in zip(names, ACCOUNT_KINDS)]
    ex = w.block(*txs)
    assert [r.code for r in ex.receipts] == [codes.OK] * 3
    for n, k in zip(names, ACCOUNT_KINDS):
        assert w.acct(n) == Account(balance=0, nonce=0, kind=k, roles=(), name=n.title())
    # a registered recipient can now be paid, and the new account can send
    ex = w.block(w.tx("alice", "transfer", Transfer(to=ADDR["carol"], amount=10)))
    assert only_code(ex) == codes.OK
    ex = w.block(w.tx("carol", "transfer", Transfer(to=ADDR["alice"], amount=4)))
    assert only_code(ex) == codes.OK
    assert w.acct("carol").balance == 6


def test_register_failures(w):
    expect_only_nonce_changed(w, w.tx("reg", "register", Register(account=ADDR["carol"], kind="alien")), codes.INVALID_ARGUMENT)
    expect_only_nonce_changed(w, w.tx("reg", "register", Register(account=ADDR["carol"], kind="contract")), codes.INVALID_ARGUMENT)
    expect_only_nonce_changed(w, w.tx("reg", "register", Register(account=ADDR["bob"], kind="citizen")), codes.ALREADY_REGISTERED)
    expect_only_nonce_changed(w, w.tx("alice", "register", Register(account=ADDR["carol"], kind="citizen")), codes.NOT_AUTHORIZED)


def test_set_role_grants_and_revokes_powers(w):
    ex = w.block(w.tx("reg", "set_role", SetRole(account=ADDR["alice"], role="central_bank", grant=True)))
    assert only_code(ex) == codes.OK
    assert w.acct("alice").roles == ("central_bank",)
    assert only_code(w.block(w.tx("alice", "issue", Issue(to=ADDR["bob"], amount=7)))) == codes.OK
    assert w.acct("bob").balance == 7
    # granting twice keeps one copy; roles stay sorted
    w.block(w.tx("reg", "set_role", SetRole(account=ADDR["alice"], role="treasury", grant=True)),
            w.tx("reg", "set_role", SetRole(account=ADDR["alice"], role="central_bank", grant=True)))
    assert w.acct("alice").roles == ("central_bank", "treasury")
    w.block(w.tx("reg", "set_role", SetRole(account=ADDR["alice"], role="central_bank", grant=False)))
    assert w.acct("alice").roles == ("treasury",)
    expect_only_nonce_changed(w, w.tx("alice", "issue", Issue(to=ADDR["bob"], amount=7)), codes.NOT_AUTHORIZED)


def test_set_role_failures(w):
    expect_only_nonce_changed(w, w.tx("reg", "set_role", SetRole(account=ADDR["alice"], role="king", grant=True)), codes.UNKNOWN_ROLE)
    expect_only_nonce_changed(w, w.tx("reg", "set_role", SetRole(account=ADDR["carol"], role="treasury", grant=True)), codes.NOT_REGISTERED)
    expect_only_nonce_changed(w, w.tx("alice", "set_role", SetRole(account=ADDR["alice"], role="registrar", grant=True)), codes.NOT_AUTHORIZED)


def test_deregistered_account_keeps_its_money_but_cannot_send(w):
    ex = w.block(w.tx("reg", "deregister", Deregister(account=ADDR["alice"])))
    assert only_code(ex) == codes.OK
    assert w.acct("alice") == Account(balance=1_000, nonce=0, kind="", roles=(), name="alice")
    tx = sign_tx(KEYS["alice"], CHAIN, "transfer", Transfer(to=ADDR["bob"], amount=1), 0, 100)
    with pytest.raises(Rejected) as e:
        w.submit(tx)
    assert e.value.code == codes.SENDER_NOT_REGISTERED
    expect_only_nonce_changed(w, w.tx("bob", "transfer", Transfer(to=ADDR["alice"], amount=0)), codes.INVALID_ARGUMENT)


def test_set_validator_needs_the_operator_role(w):
    expect_only_nonce_changed(
        w, w.tx("alice", "set_validator", SetValidator(pubkey=KEYS["val2"].public, power=5)), codes.NOT_AUTHORIZED
    )


def test_call_without_contracts_is_unknown_contract(w):
    from ledger.tx import Call

    expect_only_nonce_changed(w, w.tx("alice", "call", Call(contract="tax", entry="pay", args=None, gas_limit=10)), codes.UNKNOWN_CONTRACT)


# ---------------------------------------------------------------------------
# Admission
# ---------------------------------------------------------------------------


def test_unregistered_sender_refused_at_admission(w):
    tx = sign_tx(KEYS["carol"], CHAIN, "transfer", Transfer(to=ADDR["bob"], amount=1), 0, 100)
    err = admission_error(w.app.state(), tx, CHAIN, 1, verified=False)
    assert err is not None and err[0] == codes.SENDER_NOT_REGISTERED
    with pytest.raises(Rejected) as e:
        w.submit(tx)
    assert e.value.code == codes.SENDER_NOT_REGISTERED
    assert len(w.app.mempool) == 0


@pytest.mark.parametrize(
    "make,code,msg",
    [
        (lambda: sign_tx(KEYS["alice"], CHAIN, "transfer", Transfer(to=ADDR["bob"], amount=1), 1, 100), codes.BAD_NONCE, "nonce"),
        (lambda: sign_tx(KEYS["alice"], "other-chain", "transfer", Transfer(to=ADDR["bob"], amount=1), 0, 100), codes.WRONG_CHAIN, "for chain"),
        (lambda: sign_tx(KEYS["alice"], CHAIN, "transfer", Transfer(to=ADDR["bob"], amount=1), 0, 0), codes.EXPIRED, "expired"),
        (lambda: forge(sign_tx(KEYS["alice"], CHAIN, "transfer", Transfer(to=ADDR["bob"], amount=1), 0, 100)), codes.BAD_SIGNATURE, "signature"),
    ],
    ids=["bad-nonce", "wrong-chain", "expired", "bad-signature"],
)
def test_inadmissible_tx_refused_by_mempool_and_in_a_block(worlds, make, code, msg):
    """Admission in the mempool and in a proposed block judge alike."""
    a, b = worlds("a"), worlds("b")
    bad = make()
    with pytest.raises(Rejected) as e:
        a.submit(bad)
    assert e.value.code == code
    # a good block from a, then the same block with the bad tx in it
    ok_tx = a.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=1))
    a.submit(ok_tx)
    good = a.app.build_block(2_000, KEYS["val"], None)
    assert len(good.block.txs) == 1
    for txs in ((bad.raw,), (ok_tx.raw, bad.raw) if code != codes.BAD_NONCE else (bad.raw, ok_tx.raw)):
        forged = with_txs(good.block, txs)
        with pytest.raises(InvalidBlock, match=rf"transaction {txs.index(bad.raw)} .*{msg}"):
            b.app.execute_block(forged)
        assert b.app.height == 0
    # the untouched block is fine on b
    assert b.app.execute_block(good.block).diff.root == good.diff.root


def forge(tx: SignedTx) -> SignedTx:
    sig = bytearray(tx.sig)
    sig[5] ^= 1
    return SignedTx(body=tx.body, sig=bytes(sig))


def test_block_with_undecodable_tx_is_invalid(worlds):
    a, b = worlds("a"), worlds("b")
    a.submit(a.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=1)))
    good = a.app.build_block(2_000, KEYS["val"], None)
    raw = good.block.txs[0]
    for junk in (b"", b"\xc0", raw[:-1], raw + b"\x00"):
        with pytest.raises(InvalidBlock, match="transaction 0"):
            b.app.execute_block(with_txs(good.block, (junk,)))


def test_block_from_unregistered_sender_is_invalid(worlds):
    a, b = worlds("a"), worlds("b")
    a.submit(a.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=1)))
    good = a.app.build_block(2_000, KEYS["val"], None)
    bad = sign_tx(KEYS["carol"], CHAIN, "transfer", Transfer(to=ADDR["bob"], amount=1), 0, 100)
    with pytest.raises(InvalidBlock, match="not a registered"):
        b.app.execute_block(with_txs(good.block, (bad.raw,)))


def test_duplicate_tx_in_a_block_is_invalid(worlds):
    a, b = worlds("a"), worlds("b")
    tx = a.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=1))
    a.submit(tx)
    good = a.app.build_block(2_000, KEYS["val"], None)
    with pytest.raises(InvalidBlock, match="nonce"):
        b.app.execute_block(with_txs(good.block, (tx.raw, tx.raw)))


# ---------------------------------------------------------------------------
# Two nodes, one chain
# ---------------------------------------------------------------------------


def busy_blocks(w: World) -> list:
    """A few blocks with every kind of success and failure; returns Executed."""
    out = []
    out.append(w.block(
        w.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=250)),
        w.tx("cb", "issue", Issue(to=ADDR["cb"], amount=10_000)),
        w.tx("reg", "register", Register(account=ADDR["carol"], kind="citizen", name="Carol")),
        w.tx("ent", "transfer", Transfer(to=ADDR["dave"], amount=5)),  # unregistered recipient
    ))
    out.append(w.block(
        w.tx("cb", "retire", Retire(amount=2_500)),
        w.tx("cb", "transfer", Transfer(to=ADDR["carol"], amount=700)),
        w.tx("bob", "transfer", Transfer(to=ADDR["carol"], amount=10_000)),  # insufficient
        w.tx("alice", "issue", Issue(to=ADDR["alice"], amount=1)),  # not authorized
        w.tx("reg", "set_role", SetRole(account=ADDR["carol"], role="treasury", grant=True)),
    ))
    out.append(w.block(
        w.tx("carol", "transfer", Transfer(to=ADDR["alice"], amount=100, memo="thanks")),
        w.tx("reg", "deregister", Deregister(account=ADDR["ent"])),
    ))
    out.append(w.block())  # an empty block
    return out


def test_second_node_accepts_the_blocks_and_reaches_the_same_state(worlds):
    a, b = worlds("a"), worlds("b")
    assert a.store.state_root(0) == b.store.state_root(0)
    built = busy_blocks(a)
    assert sum(len(e.block.txs) for e in built) == 11
    assert {r.code for e in built for r in e.receipts} >= {codes.OK, codes.INSUFFICIENT_FUNDS,
                                                           codes.NOT_AUTHORIZED, codes.RECIPIENT_NOT_REGISTERED}
    for ex_a in built:
        raw = ex_a.raw
        from ledger.block import Block

        block = Block.decode(raw)  # as it arrives over the wire
        ex_b = b.app.execute_block(block)
        assert ex_b.diff.root == ex_a.diff.root == block.header.state_root
        assert [r.encode() for r in ex_b.receipts] == [r.encode() for r in ex_a.receipts]
        b.app.commit(ex_b, None)
    assert b.app.height == a.app.height == 4
    for h in range(5):
        assert a.store.state_root(h) == b.store.state_root(h)
        assert a.store.block_bytes(h) == b.store.block_bytes(h)
        assert [r.encode() for r in a.store.receipts(h)] == [r.encode() for r in b.store.receipts(h)]
    assert a.all_state() == b.all_state()
    assert a.app.last_block_hash() == b.app.last_block_hash()


@pytest.mark.parametrize(
    "field,value,msg",
    [
        ("state_root", b"\x01" * 32, "state root"),
        ("txs_root", b"\x02" * 32, "transactions root"),
        ("receipts_root", b"\x03" * 32, "receipts root"),
        ("validators_hash", b"\x04" * 32, "validators hash"),
        ("next_validators_hash", b"\x05" * 32, "next validators hash"),
        ("prev_hash", b"\x06" * 32, "does not extend"),
        ("prev_hash", ZERO_HASH, "does not extend"),
        ("evidence_root", b"\x07" * 32, "evidence root"),
        ("last_commit_hash", b"\x08" * 32, "last commit"),
        ("chain_id", "other", "another chain"),
        ("height", 2, "does not follow"),
        ("app_version", 2, "app version"),
        ("beacon_proof", b"", "beacon proof"),  # issue 14 fault 9: the proposer's VRF proof is required
        ("beacon_proof", b"\x09" * 80, "beacon proof"),
    ],
)
def test_tampered_header_refused(worlds, field, value, msg):
    a, b = worlds("a"), worlds("b")
    a.submit(a.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=5)))
    good = a.app.build_block(5_000, KEYS["val"], None).block
    bad = with_header(good, **{field: value})
    with pytest.raises(InvalidBlock, match=msg):
        b.app.execute_block(bad)
    assert b.app.height == 0 and b.acct("bob").balance == 0
    ex = b.app.execute_block(good)  # the genuine block still passes
    b.app.commit(ex, None)
    assert b.acct("bob").balance == 5


def test_block_time_must_increase(tmp_path, worlds):
    a, b = worlds("a"), worlds("b")
    first = a.block()  # time 2000
    b.app.commit(b.app.execute_block(first.block), None)
    second = a.app.build_block(first.block.header.time_ms + 1, KEYS["val"], None).block
    for t in (first.block.header.time_ms, first.block.header.time_ms - 1, 0):
        with pytest.raises(InvalidBlock, match="time"):
            b.app.execute_block(with_header(second, time_ms=t))
    assert b.app.execute_block(second).diff.root == second.header.state_root
    # block 1 may not be at or before the genesis time either
    c = worlds("c")
    with pytest.raises(InvalidBlock, match="time"):
        c.app.execute_block(with_header(first.block, time_ms=1_000))


def test_dropped_or_reordered_txs_refused(worlds):
    a, b = worlds("a"), worlds("b")
    t1 = a.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=5))
    t2 = a.tx("ent", "transfer", Transfer(to=ADDR["bob"], amount=7))
    a.submit(t1)
    a.submit(t2)
    good = a.app.build_block(5_000, KEYS["val"], None).block
    dropped = dataclasses.replace(good, txs=(good.txs[0],))
    with pytest.raises(InvalidBlock, match="transactions root"):
        b.app.execute_block(dropped)
    # reordered with a matching txs_root: execution then disagrees with the receipts root
    swapped = with_txs(good, (good.txs[1], good.txs[0]))
    with pytest.raises(InvalidBlock, match="receipts root"):
        b.app.execute_block(swapped)


def test_genesis_of_another_chain_refused(tmp_path):
    from ledger.store import StoreError
    from chain.app import Application

    from . import make_genesis

    a = World(tmp_path, "a")
    a.close()
    from ledger.store import ChainStore

    st = ChainStore(a.path)
    try:
        with pytest.raises(StoreError, match="another chain"):
            Application(st, make_genesis(chain_id="someone-else"))
    finally:
        st.close()


def test_replayed_tx_in_a_later_block_is_invalid(worlds):
    a, b = worlds("a"), worlds("b")
    tx = a.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=5))
    first = a.block(tx)
    b.app.commit(b.app.execute_block(first.block), None)
    # the mempool refuses it once committed
    with pytest.raises(Rejected) as e:
        a.submit(tx)
    assert e.value.code == codes.BAD_NONCE
    # and a block carrying it again is refused
    a.submit(a.tx("ent", "transfer", Transfer(to=ADDR["bob"], amount=1)))
    second = a.app.build_block(a.time + 1_000, KEYS["val"], None)
    with pytest.raises(InvalidBlock, match="nonce"):
        b.app.execute_block(with_txs(second.block, (tx.raw,)))
    with pytest.raises(InvalidBlock, match="nonce"):
        b.app.execute_block(with_txs(second.block, second.block.txs + (tx.raw,)))
    assert b.app.execute_block(second.block).diff.root == second.block.header.state_root


def test_expiry_is_the_last_height_a_tx_may_be_in(worlds):
    a, b = worlds("a"), worlds("b")
    t1 = a.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=5), expiry=1)
    first = a.block(t1)  # height 1 == expiry: fine
    assert first.block.txs == (t1.raw,)
    b.app.commit(b.app.execute_block(first.block), None)
    t2 = a.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=5), expiry=1)
    with pytest.raises(Rejected) as e:
        a.submit(t2)
    assert e.value.code == codes.EXPIRED
    a.submit(a.tx("ent", "transfer", Transfer(to=ADDR["bob"], amount=1)))
    second = a.app.build_block(a.time + 1_000, KEYS["val"], None)
    with pytest.raises(InvalidBlock, match="expired"):
        b.app.execute_block(with_txs(second.block, (t2.raw,)))


def test_a_proposals_unseen_transactions_are_checked_in_one_batch(worlds, monkeypatch):
    """With ``verify_batch`` set (the node's worker pool), a block's transactions the node has not
    seen are decoded once and checked in one batch; execution checks none of them again, and a
    wrongly signed one still makes the block invalid with its reason."""
    a, b = worlds("a"), worlds("b")
    txs = [a.tx("alice", "transfer", Transfer(to=ADDR["bob"], amount=i + 1)) for i in range(3)]
    for t in txs:
        a.submit(t)
    good = a.app.build_block(2_000, KEYS["val"], None)
    batches = []

    def batch(decoded):
        batches.append([t.hash for t in decoded])
        return [t.verify_signature() for t in decoded]

    b.app.verify_batch = batch
    forged = with_txs(good.block, (txs[0].raw, forge(txs[1]).raw))
    with pytest.raises(InvalidBlock, match="transaction 1 .*signature does not verify"):
        b.app.execute_block(forged)
    assert batches == [[txs[0].hash, forge(txs[1]).hash]]
    batches.clear()
    inline = []
    real = SignedTx.verify_signature
    monkeypatch.setattr(SignedTx, "verify_signature", lambda self: inline.append(self.hash) or real(self))
    ex = b.app.execute_block(good.block)
    assert ex.diff.root == good.diff.root
    assert batches == [[txs[1].hash, txs[2].hash]]  # txs[0] was checked in the first batch already
    assert inline == [txs[1].hash, txs[2].hash]  # only inside the batch function, never by execution


def test_the_transfer_fast_path_writes_and_receipts_as_the_general_path(worlds):
    """``_apply_transfer`` (one write of the sender) against the general handler path, on every outcome:
    success, to oneself, zero, overdraft, unregistered recipient; same receipts, same state, same root."""
    import chain.execution as ex_mod

    def general(executor, state, tx, payload, ctx, events):  # the same rule, not the fast path's identity
        return ex_mod.transfer(executor, state, tx, payload, ctx, events)

    cases = [("alice", "bob", 10), ("alice", "alice", 5), ("ent", "bob", 0), ("bob", "alice", 10**9),
             ("alice", "carol", 1), ("ent", "alice", 500), ("alice", "bob", 990)]
    results = []
    for name, fast in (("fast", True), ("general", False)):
        w = worlds(name)
        if not fast:
            w.app.executor.handlers["transfer"] = general
        txs = [w.tx(frm, "transfer", Transfer(to=ADDR[to], amount=amt)) for frm, to, amt in cases]
        ex = w.build_exactly(txs)
        w.app.commit(ex, None)
        results.append(([r.encode() for r in ex.receipts], ex.diff.root, w.all_state()))
    assert results[0] == results[1]
    codes_seen = {decode_receipt_code(r) for r in results[0][0]}
    assert codes_seen == {codes.OK, codes.INVALID_ARGUMENT, codes.INSUFFICIENT_FUNDS, codes.RECIPIENT_NOT_REGISTERED}


def decode_receipt_code(raw: bytes) -> int:
    from ledger.codec import decode

    return decode(raw)["code"]
