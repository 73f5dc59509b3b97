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
