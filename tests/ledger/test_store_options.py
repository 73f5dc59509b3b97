"""How the store opens LevelDB (ledger/store.py's DB_OPTIONS): tables written without compression,
and a database written with the options used before (snappy) still read, extended and proved."""

from __future__ import annotations

import glob
import os

from ledger.smt import verify_proof
from ledger.state import Account, acct_path, key_hash, path_bytes, value_hash
from ledger.store import DB_OPTIONS, ChainStore

from .test_state import A_ALICE, A_BOB, ALICE, CHAIN, VAL, genesis, run_chain

BIG = b"compressible " * 4096  # 53 KB that snappy shrinks to a fraction


def _tables_hold(path: str, needle: bytes) -> bool:
    """Whether ``needle`` is verbatim in one of the database's table files (after a compaction)."""
    for f in glob.glob(os.path.join(path, "*.ldb")) + glob.glob(os.path.join(path, "*.sst")):
        with open(f, "rb") as fh:
            if needle in fh.read():
                return True
    return False


def _written_and_compacted(path: str, **db_options) -> None:
    store = ChainStore(path, db_options=db_options or None)
    try:
        store.db.put(b"x/big", BIG, sync=True)
        store.db.compact_range()  # memtable -> a table file
    finally:
        store.close()


def test_tables_are_written_uncompressed(tmp_path):
    assert DB_OPTIONS["compression"] is None
    _written_and_compacted(str(tmp_path / "now"))
    _written_and_compacted(str(tmp_path / "snappy"), compression="snappy")
    # the block's bytes are in the table as written; with snappy they are not (the check can tell)
    assert _tables_hold(str(tmp_path / "now"), BIG[:4000])
    assert not _tables_hold(str(tmp_path / "snappy"), BIG[:4000])


def _add_block(store: ChainStore, nonce: int, amount: int):
    from chain.app import Application
    from ledger.tx import Transfer, sign_tx

    app = Application(store, genesis())
    tx = sign_tx(ALICE, CHAIN, "transfer", Transfer(to=A_BOB, amount=amount), nonce, 100)
    app.mempool.add(tx, app.state(), app.height + 1, verified=False)
    ex = app.build_block(10_000 + nonce, VAL, None)
    assert [r.code for r in ex.receipts] == [0]
    app.commit(ex, None)
    return ex.block.header


def _check(store: ChainStore, headers: list, bob: list[int]) -> None:
    assert store.height() == len(headers)
    for h, hd in enumerate(headers, start=1):
        assert store.state_root(h) == hd.state_root
        assert store.block(h).header == hd
        assert store.height_of(hd.hash) == h
        raw = store.read_at(acct_path(A_BOB), h)
        assert Account.decode(raw).balance == bob[h]
        root, proof = store.prove(acct_path(A_BOB), h)
        assert root == hd.state_root
        assert verify_proof(root, key_hash(path_bytes(acct_path(A_BOB))), value_hash(raw), proof)
    assert Account.decode(store.read_latest(path_bytes(acct_path(A_BOB)))).balance == bob[len(headers)]


def test_a_database_written_with_snappy_opens_and_grows_without_it_and_back(tmp_path):
    path = str(tmp_path / "db")
    # written as before 2026-12-05 (snappy), its tables compacted so they are snappy tables on disk
    store, headers = run_chain(path, [100, 200])
    store.close()
    old = ChainStore(path, create=False, db_options={"compression": "snappy"})
    old.db.compact_range()
    old.close()

    now = ChainStore(path, create=False)  # today's options: reads the snappy tables
    try:
        _check(now, headers, [0, 100, 300])
        headers.append(_add_block(now, 2, 50))  # and writes the next block beside them
        now.db.compact_range()  # old and new tables merged into uncompressed ones
        _check(now, headers, [0, 100, 300, 350])
    finally:
        now.close()

    back = ChainStore(path, create=False, db_options={"compression": "snappy"})  # an older build opens it
    try:
        _check(back, headers, [0, 100, 300, 350])
        headers.append(_add_block(back, 3, 25))
        _check(back, headers, [0, 100, 300, 350, 375])
    finally:
        back.close()


class _Recorder:
    def __init__(self):
        self.ops: list[tuple] = []

    def put(self, k: bytes, v: bytes) -> None:
        self.ops.append(("put", k, v))

    def delete(self, k: bytes) -> None:
        self.ops.append(("delete", k))


def test_the_state_writes_go_into_the_batch_in_key_order_and_all_of_them():
    import random

    from ledger.state import StateDiff

    rng = random.Random(5)
    h = lambda: rng.randbytes(32)  # noqa: E731
    changes = {rng.randbytes(rng.randrange(1, 40)): (None if rng.random() < 0.2 else h()) for _ in range(300)}
    values = {h(): h() for _ in range(300)}
    nodes = {h(): b"\x02" + h() + h() for _ in range(900)}
    diff = StateDiff(root=h(), changes=changes, values=values, nodes=nodes)
    wb = _Recorder()
    ChainStore._write_diff(wb, diff)
    keys = [op[1] for op in wb.ops]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) == 1500
    want = {("put", b"n/" + k, v) for k, v in nodes.items()} | {("put", b"v/" + k, v) for k, v in values.items()}
    want |= {("delete", b"s/" + k) if v is None else ("put", b"s/" + k, v) for k, v in changes.items()}
    assert set(wb.ops) == want
