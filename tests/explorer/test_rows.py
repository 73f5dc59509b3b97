"""What the index derives from one verified block (explorer.verify.tx_rows), on a
block built here: money rows for every law event that moves money, account
history as the net change per address, and the hook's welfare payouts."""

from __future__ import annotations

from explorer.verify import Verified, hook_money, month_of, tx_rows
from ledger.address import address_of, encode_address
from ledger.block import Block, Commit, Header, Receipt
from ledger.crypto import PrivateKey
from ledger.tx import Call, sign_tx

T = 1_796_342_400_000  # 2026-12-03 UTC


def _block(txs, receipts) -> Verified:
    z = bytes(32)
    hd = Header(chain_id="t", height=7, time_ms=T, prev_hash=z, txs_root=z, state_root=z, receipts_root=z,
                evidence_root=z, last_commit_hash=z, proposer=z, validators_hash=z, next_validators_hash=z,
                app_version=1)
    return Verified(Block(hd, tuple(t.raw for t in txs), (), None), b"", receipts, Commit(7, 0, z, ()), 1, 1)


def test_law_events_become_money_rows_and_history_nets_per_address():
    k = PrivateKey.generate()
    me = address_of(k.public)
    shop, treasury = bytes([1] * 20), bytes([2] * 20)
    tx = sign_tx(k, "t", "call", Call(contract="allocation", entry="redeem", args={}, gas_limit=10), 0, 100)
    me_s, shop_s, tr_s = encode_address(me), encode_address(shop), encode_address(treasury)
    law = lambda name, data: {"type": "law", "contract": "x", "name": name, "data": data}  # noqa: E731
    events = (
        {"type": "call", "contract": "allocation", "entry": "redeem", "version": 3},
        {"type": "transfer", "from": me, "to": shop, "amount": 500},
        {"type": "transfer", "from": me, "to": treasury, "amount": 40},
        law("tax_collected", {"kind": "transfer_tax", "payer": me_s, "amount": 40, "law": "tax", "version": 1}),
        law("order_settled", {"id": "o1", "kind": "purchase", "amount": 9_000, "fee": 90}),
        law("redeemed", {"scheme": "ration", "citizen": me_s, "paid": 500}),
        law("promotion_redeemed", {"citizen": me_s, "discount": 25, "price": 100}),
        law("voucher_redeemed", {"citizen": me_s, "kind": "childcare", "amount": 300}),
        law("redeemed", {"scheme": "ration", "citizen": me_s, "paid": True}),  # not an amount: ignored
    )
    v = _block([tx], [Receipt(tx.hash, 0, 10, events, None)])
    txs, hist, money = tx_rows(v)
    assert txs[0]["tax"] == 40 and txs[0]["law_version"] == 3 and txs[0]["sender"] == me_s
    assert {h["address"]: h["delta"] for h in hist} == {me_s: -540, shop_s: 500, tr_s: 40}
    got = sorted((m["kind"], m["sub"], m["amount"]) for m in money)
    assert got == [("allocation", "promotion", 25), ("allocation", "ration", 500), ("procurement", "purchase", 9_000),
                   ("tax", "transfer_tax", 40), ("welfare", "voucher_childcare", 300)]
    assert {m["month"] for m in money} == {"2026-12"} == {month_of(T)}
    assert sorted(m["seq"] for m in money) == list(range(len(money)))  # keys unique within the block


def test_welfare_payouts_come_from_the_hook_record_of_this_height_only():
    rec = {"height": 7, "code": 0, "events": [{"name": "payout_batch", "data": {"period": 202612, "total": 1_500}},
                                              {"name": "payout_batch", "data": {"period": 202612, "total": 0}},
                                              {"name": "underfunded", "data": {"balance": 3}}]}
    rows = hook_money(7, T, "welfare", rec, start_seq=4)
    assert [(r["kind"], r["sub"], r["amount"], r["idx"], r["seq"]) for r in rows] == [("welfare", "welfare", 1_500, -1, 4)]
    assert hook_money(8, T, "welfare", rec, 0) == []  # a record left from an earlier block pays nothing now
    assert hook_money(7, T, "welfare", None, 0) == [] and hook_money(7, T, "welfare", [1, 2], 0) == []
