"""``codec.decode``'s fast path returns exactly what the strict decoder returns, and refuses nothing it accepts.

The fast path (msgpack without a per-map callback, one shape walk, re-encode
and compare) must agree with ``_decode_strict`` on every input: canonical
values of every type and nesting, and bytes mutated from them (a byte
flipped, inserted, dropped), including unsorted and duplicate keys, floats,
ext types and non-minimal forms.
"""

from __future__ import annotations

import msgpack
from hypothesis import given, settings, strategies as st

from ledger import codec
from ledger.codec import CodecError, MAX_DECODE_SIZE

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.binary(max_size=40),
                   st.text(max_size=20))
VALUES = st.recursive(LEAVES, lambda kids: st.one_of(st.lists(kids, max_size=5),
                                                     st.dictionaries(st.text(max_size=6), kids, max_size=5)),
                      max_leaves=25)


def _strict(data: bytes):
    try:
        return ("ok", codec._decode_strict(data, MAX_DECODE_SIZE))
    except CodecError as e:
        return ("error", str(e))


def _fast_agrees(data: bytes) -> None:
    ref = _strict(data)
    fast = codec._decode_fast(data, MAX_DECODE_SIZE)
    if fast is not codec._NOT_FAST:
        assert ref == ("ok", fast)
        assert [type(x) for x in _flat(fast)] == [type(x) for x in _flat(ref[1])]
    try:
        got = ("ok", codec.decode(data))
    except CodecError as e:
        got = ("error", str(e))
    assert got == ref


def _flat(v):
    if type(v) is dict:
        for k, x in v.items():
            yield k
            yield from _flat(x)
    elif type(v) is list:
        for x in v:
            yield from _flat(x)
    else:
        yield v


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_canonical_values_decode_alike(v):
    data = codec.encode(v)
    assert codec._decode_fast(data, MAX_DECODE_SIZE) is not codec._NOT_FAST
    _fast_agrees(data)


@settings(max_examples=600, deadline=None)
@given(VALUES, st.data())
def test_mutated_bytes_are_judged_alike(v, data):
    raw = bytearray(codec.encode(v))
    op = data.draw(st.sampled_from(["flip", "insert", "drop"]))
    i = data.draw(st.integers(0, len(raw) - 1))
    if op == "flip":
        raw[i] ^= 1 << data.draw(st.integers(0, 7))
    elif op == "insert":
        raw.insert(i, data.draw(st.integers(0, 255)))
    else:
        del raw[i]
    if raw:
        _fast_agrees(bytes(raw))


def test_unsorted_duplicate_float_and_ext_take_the_strict_path_and_its_error():
    cases = {
        msgpack.packb({"b": 1, "a": 2}): "sorted",
        b"\x82\xa1a\x01\xa1a\x02": "duplicate",
        msgpack.packb([1.5]): "float",
        msgpack.packb(msgpack.ExtType(1, b"x")): "malformed",
    }
    for data, word in cases.items():
        assert codec._decode_fast(data, MAX_DECODE_SIZE) is codec._NOT_FAST
        kind, msg = _strict(data)
        assert kind == "error" and word in msg


# ---------------------------------------------------------------- receipts: events packed by shape
from hypothesis import given as _given, settings as _settings, strategies as _st  # noqa: E402

from ledger.block import Receipt  # noqa: E402
from ledger.codec import CodecError, Record  # noqa: E402

_EV_LEAF = _st.one_of(_st.none(), _st.booleans(), _st.integers(-(2**64), 2**65), _st.text(max_size=6),
                      _st.binary(max_size=6))
_EV_VAL = _st.recursive(_EV_LEAF, lambda inner: _st.one_of(_st.lists(inner, max_size=3),
                                                           _st.dictionaries(_st.text(max_size=4), inner, max_size=3)),
                        max_leaves=8)
_EV_KEYS = _st.sampled_from(["type", "from", "to", "amount", "contract", "name", "data", "entry", "version", "a", "é"])
_EVENT = _st.one_of(_st.dictionaries(_EV_KEYS, _EV_VAL, max_size=5), _EV_VAL,
                    _st.dictionaries(_st.one_of(_EV_KEYS, _st.integers(0, 3)), _EV_LEAF, max_size=3))


def _deep_list(n):
    v = 0
    for _ in range(n):
        v = [v]
    return v


def _enc(f, r):
    try:
        return ("ok", f(r))
    except (CodecError, TypeError, ValueError, OverflowError) as e:
        return (type(e).__name__, str(e))


@_settings(max_examples=500, deadline=None, derandomize=True, database=None)
@_given(_st.lists(_EVENT, max_size=6), _st.integers(0, 2**16 - 1), _st.integers(0, 2**64 - 1), _EV_VAL)
def test_receipt_events_packed_by_shape_are_the_general_codecs_bytes(events, code, gas_used, result):
    for _ in range(2):  # the second time every shape is known
        r = Receipt(tx_hash=b"\x01" * 32, code=code, gas_used=gas_used, events=tuple(events), result=result)
        assert _enc(Receipt.encode, r) == _enc(Record.encode, r) == _enc(_receipt_encode_before, r)


def _receipt_encode_before(r):
    """Receipt.encode as it was at 704a1ba (each event: as it stands if flat and sorted, else ``_canon(e)``)."""
    import msgpack

    from ledger.block import _flat_sorted
    from ledger.codec import _canon

    events = [e if _flat_sorted(e) else _canon(e) for e in r.events]
    return msgpack.packb({"code": r.code, "events": events, "gas_used": r.gas_used,
                          "result": None if r.result is None else _canon(r.result), "tx_hash": r.tx_hash},
                         use_bin_type=True, strict_types=True)


@_settings(max_examples=80, deadline=None, derandomize=True, database=None)
@_given(_st.integers(0, 40), _st.integers(0, 40), _st.booleans())
def test_receipts_decode_in_a_blocks_list_exactly_up_to_the_nesting_limits(n_data, n_result, in_map):
    # The rule every law's receipt keeps (the runtime refuses deeper data: tests/contracts/
    # test_receipt_depth.py, through real law calls): event data nested at most MAX_EVENT_DATA_NESTING,
    # a result at most MAX_RESULT_NESTING; then the receipt decodes alone and in a block's list, and
    # Receipt.encode gives the general codec's bytes.  One level more and the list does not decode,
    # so the limits are exact, not a guess on the safe side.
    from ledger.block import MAX_EVENT_DATA_NESTING, MAX_RESULT_NESTING
    from ledger.codec import decode, encode_array_of_encoded

    data = _deep_list(n_data) if not in_map else {"k": _deep_list(n_data - 1)} if n_data else 0
    ev = {"type": "law", "contract": "tax", "name": "x", "data": data}
    r = Receipt(tx_hash=b"\x02" * 32, code=0, gas_used=1, events=(ev, ev), result=_deep_list(n_result))
    got = _enc(Receipt.encode, r)
    assert got == _enc(_receipt_encode_before, r)
    ok = n_data <= MAX_EVENT_DATA_NESTING and n_result <= MAX_RESULT_NESTING
    if ok:
        assert got == _enc(Record.encode, r)
        assert Receipt.decode(got[1]) == r
        assert [Receipt.from_obj(o) for o in decode(encode_array_of_encoded([got[1]] * 2))] == [r, r]
    elif got[0] == "ok":  # encodable (Receipt.encode counts from the event) but not readable in a block
        try:
            decode(encode_array_of_encoded([got[1]]))
        except CodecError:
            pass
        else:
            raise AssertionError("a receipt over the nesting limits decoded in a block's list")
