"""The explorer's index against a real chain: what it holds, that a lying
node cannot put a forged block in it, that it resumes without loss or
duplication after its own restart and its node's, that re-indexing from
genesis gives the same rows, and that SQLite and PostgreSQL agree."""

from __future__ import annotations

import dataclasses

import pytest

from explorer.follower import Follower
from explorer.index import TABLES, Index
from explorer.verify import Rejected, parse_commit, verify_block
from ledger.block import Block, Commit, CommitSig, validator_set_hash
from ledger.codec import decode, encode
from ledger.crypto import PrivateKey
from wallet.client import Client

from .conftest import follow_to


def test_index_holds_the_transfer_the_wage_tax_and_the_law_records(chain, tmp_path):
    ix = Index(str(tmp_path / "ix.sqlite"))
    follow_to(ix, chain.grpc, chain.top + 1)
    t = ix.tx(chain.transfer["hash"].hex())
    assert t["kind"] == "transfer" and t["code"] == 0 and t["payload"]["amount"] == 12_345
    assert t["payload"]["to"] == chain.bob and t["sender"] == chain.alice
    w = ix.tx(chain.wage["hash"].hex())
    assert w["kind"] == "call" and w["law_version"] == 1 and w["tax"] > 0
    assert ix.taxes_paid(chain.steelworks) == [{"kind": "iit_wage", "amount": w["tax"], "count": 1}]
    hist = ix.history(chain.alice, 0, 100)
    assert {"tx_hash": chain.transfer["hash"].hex(), "delta": -12_345} in [
        {"tx_hash": h["tx_hash"], "delta": h["delta"]} for h in hist]
    net_pay = next(h for h in hist if h["tx_hash"] == chain.wage["hash"].hex())
    assert net_pay["delta"] == 30_000_00 - w["tax"]
    failed = ix.tx(chain.failed["hash"].hex())
    assert failed["code"] == chain.failed["code"] and failed["code_name"] == "RECIPIENT_NOT_REGISTERED"
    assert {law["name"] for law in ix.laws()} >= {"tax", "welfare", "procurement"}
    assert "def pay_wage(" in ix.law_version("tax", 1)["source"]
    assert ix.check_totals() == []
    assert ix.counts()["transactions"] == len(ix.dump()["txs"]) >= 5
    welfare = ix.money_by_month("welfare")
    assert [(m["kind"], m["amount"], m["count"]) for m in welfare] == [("welfare", chain.pension, 1)]
    supply = ix.supply_by_month()
    assert supply and supply[-1]["supply"] > 0  # the genesis allocation, proved by the supply record
    ix.close()


def _responses(chain, heights):
    with Client(chain.grpc) as c:
        return {h: c.block(height=h) for h in heights}


def test_a_forged_block_is_refused_and_the_index_is_unchanged(chain, tmp_path):
    h = chain.transfer["height"]
    rs = _responses(chain, [h - 1, h, h + 1])
    with Client(chain.grpc) as c:
        powers = {v.pubkey: v.power for v in c.validators(h).validators}
    prev_blk = Block.decode(rs[h - 1].block)
    prev = {"height": h - 1, "hash": prev_blk.hash.hex(),
            "next_validators_hash": prev_blk.header.next_validators_hash.hex()}
    good = rs[h]
    commit = parse_commit(good.commit) or Block.decode(rs[h + 1].block).last_commit
    blk = Block.decode(good.block)
    cid = blk.header.chain_id
    # the real block passes
    v = verify_block(good.block, good.receipts, commit, powers, prev, cid)
    assert v.signed_power == v.total_power == sum(powers.values())

    forged_header = dataclasses.replace(blk, header=dataclasses.replace(blk.header, time_ms=blk.header.time_ms + 1))
    with pytest.raises(Rejected, match="commit is for another block"):
        verify_block(forged_header.encode(), good.receipts, commit, powers, prev, cid)
    forged_txs = dataclasses.replace(blk, txs=blk.txs[:-1])
    with pytest.raises(Rejected, match="transactions do not match"):
        verify_block(forged_txs.encode(), good.receipts, commit, powers, prev, cid)
    receipts = decode(good.receipts)
    receipts[0]["code"] = 0 if receipts[0]["code"] else 21
    with pytest.raises(Rejected, match="receipts do not match"):
        verify_block(good.block, encode(receipts), commit, powers, prev, cid)
    bad_sig = dataclasses.replace(commit, signatures=tuple(
        CommitSig(s.validator, bytes(64)) for s in commit.signatures))
    with pytest.raises(Rejected, match="bad precommit signature"):
        verify_block(good.block, good.receipts, bad_sig, powers, prev, cid)
    # a node that invents a validator set of its own keys: the header names another set
    fake = PrivateKey.generate()
    with pytest.raises(Rejected, match="not the one its header names"):
        verify_block(good.block, good.receipts, commit, {fake.public: 10}, prev, cid)
    # ... and a header that names that set does not link to the indexed chain
    liar = dataclasses.replace(blk.header, validators_hash=validator_set_hash({fake.public: 10}))
    with pytest.raises(Rejected, match="did not announce"):
        verify_block(dataclasses.replace(blk, header=liar).encode(), good.receipts, commit, {fake.public: 10}, prev, cid)
    with pytest.raises(Rejected, match="does not link"):
        verify_block(good.block, good.receipts, commit, powers, {**prev, "hash": "00" * 32}, cid)
    with pytest.raises(Rejected, match="not enough|more than 2/3"):
        verify_block(good.block, good.receipts, dataclasses.replace(commit, signatures=()), powers, prev, cid)

    # through the follower: the forged block is refused and nothing is written
    ix = Index(str(tmp_path / "ix.sqlite"))
    follow_to(ix, chain.grpc, h - 1)
    before = ix.dump()
    top = ix.height()
    f = Follower(ix, chain.grpc)
    bad = type(good)()
    bad.CopyFrom(rs[top + 1] if top + 1 in rs else _responses(chain, [top + 1])[top + 1])
    real = Block.decode(bad.block)
    bad.block = dataclasses.replace(real, txs=real.txs + (b"\x00",)).encode()
    with Client(chain.grpc) as c, pytest.raises(Rejected):
        f.add(c, bad, parse_commit(bad.commit) or Commit(top + 1, 0, real.hash, ()))
    assert ix.dump() == before and ix.height() == top
    ix.close()


def test_restart_of_the_follower_and_of_the_node_loses_and_duplicates_nothing(chain, tmp_path):
    """Index part of the chain, stop; restart the node; resume; the rows equal a fresh index from genesis."""
    a = Index(str(tmp_path / "a.sqlite"))
    follow_to(a, chain.grpc, chain.transfer["height"])
    first = a.height()
    node = chain.net.nodes[0]
    node.stop()
    node.start()
    node.wait_ready()
    top = chain.net.height(0)
    follow_to(a, chain.grpc, top + 2)  # resumes from first + 1
    assert a.height() > first
    b = Index(str(tmp_path / "b.sqlite"))
    follow_to(b, chain.grpc, a.height())
    upto = min(a.height(), b.height()) - 1
    da, db = a.dump(upto), b.dump(upto)
    assert da == db
    assert len(da["blocks"]) == upto and [r[0] for r in da["blocks"]] == list(range(1, upto + 1))
    assert len({r[0] for r in da["txs"]}) == len(da["txs"])  # no transaction twice
    assert a.check_totals() == [] and b.check_totals() == []  # running totals equal the rows they sum
    a.close()
    b.close()


def test_sqlite_and_postgresql_give_the_same_answers(chain, tmp_path, postgres_url):
    s = Index(str(tmp_path / "s.sqlite"))
    p = Index(postgres_url)
    for t in TABLES:
        p.w.write([(f"DELETE FROM {t}", ())])
    follow_to(s, chain.grpc, chain.top + 1)
    follow_to(p, chain.grpc, chain.top + 1)
    upto = min(s.height(), p.height()) - 1
    assert s.dump(upto) == p.dump(upto)
    assert s.check_totals() == [] and p.check_totals() == []
    for q in [lambda i: i.tx(chain.wage["hash"].hex()), lambda i: i.history(chain.alice, 0, 50),
              lambda i: i.taxes_paid(chain.steelworks), lambda i: i.money_by_month("tax"), lambda i: i.laws(),
              lambda i: i.law_versions("tax"), lambda i: i.blocks(upto, 5)]:
        assert q(s) == q(p)
    s.close()
    p.close()
