"""Every receipt a law can produce decodes, whatever its data's nesting.

A block's receipts are read back as one list (ledger/block.py: a law event's
``data`` at depth ``EVENT_DATA_AT``, a transaction's ``result`` at
``RESULT_AT``), so the runtime refuses an event's data nested deeper than
``MAX_EVENT_DATA_NESTING`` and a result deeper than ``MAX_RESULT_NESTING``
(NOT_ENCODABLE: the call fails as any law error does).  Here a tiny law
emits and returns values of every nesting from 0 to 40, called through the
chain's own executor, and each receipt is decoded the way the readers do
(alone, and in a block's receipts list, and from the store after a commit).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from chain.execution import BlockContext
from contracts.runtime.errors import ErrorCode
from ledger import codec, codes
from ledger.address import address_of
from ledger.block import MAX_EVENT_DATA_NESTING, MAX_RESULT_NESTING, Receipt
from ledger.codec import Record, encode_array_of_encoded

DEEP = '''\
"""Test law: emits and returns a value nested ``n`` deep."""

ENTRIES = ("emit_deep", "return_deep")


def nest(n, kind):
    v = kind
    i = 0
    while i < n:
        if i % 2 == 0 or kind == 0:
            v = [v]
        else:
            v = {"k": v}
        i += 1
    return v


def emit_deep(n, kind):
    emit("deep", nest(n, kind))
    return 0


def return_deep(n, kind):
    emit("flat", {"n": n})
    return nest(n, kind)
'''

CHAIN = "receipt-depth"


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    from chain.app import open_application
    from ledger.crypto import PrivateKey
    from ledger.genesis import Genesis, GenesisAccount, GenesisLaw
    from ledger.state import Validator
    from ledger.store import ChainStore

    key = PrivateKey.from_name("caller", salt="receipt-depth")
    v = Validator(PrivateKey.from_name("v", salt="receipt-depth").public, 10, "v")
    g = Genesis(CHAIN, 1_700_000_000_000, (GenesisAccount(address_of(key.public), 10**12, "citizen", (), "c"),),
                (v,), {"max_block_txs": 100}, (GenesisLaw(name="deep", source=DEEP),))
    store = ChainStore(str(tmp_path_factory.mktemp("receipt-depth")))
    app = open_application(store, g)
    yield app, key, v, store
    store.close()


def _call(app, key, entry: str, n: int, kind, nonce: int):
    from ledger.tx import Call, decode_tx, sign_tx

    return decode_tx(sign_tx(key, CHAIN, "call", Call("deep", entry, {"n": n, "kind": kind}, 1_000_000), nonce,
                             10**9).raw)


def _read_back(receipt: Receipt) -> None:
    """Decoded alone (GetTx, SimulateTx) and in a block's receipts list (store, GetBlock, block sync);
    the bytes (assembled from the law events' bytes the runtime made) are the general codec's."""
    raw = receipt.encode()
    assert raw == Record.encode(receipt) == receipt.replace().encode() and Receipt.decode(raw) == receipt
    if receipt.code == codes.OK:  # every event's bytes were known (the call's, the law's), and used
        assert receipt.event_bytes is not None and None not in receipt.event_bytes
        assert receipt.replace().event_bytes is None
    listed = codec.decode(encode_array_of_encoded([raw, raw]))
    assert [Receipt.from_obj(o) for o in listed] == [receipt, receipt]


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["emit_deep", "return_deep"]), st.integers(0, 40), st.sampled_from([0, 1, "x", b"\x00"]))
def test_every_receipt_a_law_can_produce_decodes(chain, entry, n, kind):
    app, key, _, _ = chain
    state = app.state()  # never committed: each example from the same state
    tx = _call(app, key, entry, n, kind, state.account(address_of(key.public)).nonce)
    ctx = BlockContext(CHAIN, app.height + 1, app.last_time_ms() + 1, bytes(32))
    receipt = app.executor.apply_tx(state, tx, ctx)
    _read_back(receipt)
    limit = MAX_EVENT_DATA_NESTING if entry == "emit_deep" else MAX_RESULT_NESTING
    if n <= limit:
        assert receipt.code == codes.OK
        deep = receipt.events[-1]["data"] if entry == "emit_deep" else receipt.result
        assert _nesting(deep) == n
    else:
        assert receipt.code == codes.CONTRACT_BASE + int(ErrorCode.NOT_ENCODABLE)
        assert receipt.events == () and receipt.result is None


def _nesting(v) -> int:
    if type(v) is list and v:
        return 1 + max(map(_nesting, v))
    if type(v) is dict and v:
        return 1 + max(map(_nesting, v.values()))
    return 0


def test_the_limits_are_what_the_receipts_list_can_carry():
    from contracts.runtime import hostapi
    from ledger import block

    assert (MAX_EVENT_DATA_NESTING, MAX_RESULT_NESTING) == (codec.MAX_DEPTH - 4, codec.MAX_DEPTH - 2) == (28, 30)
    assert (hostapi.EVENT_DATA_AT, hostapi.RESULT_AT) == (block.EVENT_DATA_AT, block.RESULT_AT)


def test_a_committed_block_of_the_deepest_receipts_is_read_back_from_the_store(chain):
    app, key, v, store = chain
    nonce = app.state().account(address_of(key.public)).nonce
    txs = [_call(app, key, "emit_deep", MAX_EVENT_DATA_NESTING, 1, nonce),
           _call(app, key, "return_deep", MAX_RESULT_NESTING, 0, nonce + 1),
           _call(app, key, "emit_deep", MAX_EVENT_DATA_NESTING + 1, 1, nonce + 2),
           _call(app, key, "return_deep", MAX_RESULT_NESTING + 1, 0, nonce + 3)]
    st_ = app.state()
    for tx in txs:
        app.mempool.add(tx, st_, app.height + 1, verified=True)
    ex = app.build_block(app.last_time_ms() + 1000, v.pubkey, None)
    app.commit(ex, None)
    got = store.receipts(ex.block.header.height)
    assert [r.code for r in got] == [codes.OK, codes.OK] + [codes.CONTRACT_BASE + int(ErrorCode.NOT_ENCODABLE)] * 2
    assert _nesting(got[0].events[-1]["data"]) == MAX_EVENT_DATA_NESTING
    assert _nesting(got[1].result) == MAX_RESULT_NESTING
    assert got == list(ex.receipts)
    assert [r.encode() for r in got] == [r.encode() for r in ex.receipts]  # decoded: no event bytes known
