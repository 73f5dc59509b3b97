"""The canonical codec: one byte string per value, and nothing else decodes."""

from __future__ import annotations

import dataclasses
import struct

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.codec import (
    I64_MIN,
    MAX_DEPTH,
    U64_MAX,
    Bool,
    Bytes,
    CodecError,
    Int,
    List,
    Nested,
    Opt,
    Record,
    Str,
    UInt,
    decode,
    encode,
)

FAST = settings(derandomize=True, deadline=None, max_examples=200, database=None)

# ---------------------------------------------------------------------------
# Strategies and a type-strict equality (True == 1 in Python; not on the wire)
# ---------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=I64_MIN, max_value=U64_MAX)
    | st.sampled_from([0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63, U64_MAX,
                       -1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, I64_MIN])
    | st.binary(max_size=300)
    | st.text(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=30,
)


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def reorder(v):
    """The same value with every dict built in reversed insertion order."""
    if isinstance(v, list):
        return [reorder(x) for x in v]
    if isinstance(v, dict):
        return {k: reorder(v[k]) for k in reversed(list(v))}
    return v


def sort_keys(v):
    if isinstance(v, list):
        return [sort_keys(x) for x in v]
    if isinstance(v, dict):
        return {k: sort_keys(v[k]) for k in sorted(v, key=lambda s: s.encode())}
    return v


# ---------------------------------------------------------------------------
# Round trip and canonical form
# ---------------------------------------------------------------------------


@FAST
@given(values)
def test_round_trip_preserves_value_and_types(v):
    data = encode(v)
    back = decode(data)
    assert same(back, sort_keys(v))
    assert encode(back) == data


@FAST
@given(values)
def test_encoding_does_not_depend_on_dict_insertion_order(v):
    assert encode(reorder(v)) == encode(v)


@FAST
@given(st.dictionaries(st.text(max_size=6), st.integers(0, 10), min_size=2, max_size=8))
def test_maps_are_written_in_utf8_key_order(d):
    raw = encode(d)
    # parse with plain msgpack keeping the wire order of the pairs
    pairs = msgpack.unpackb(raw, object_pairs_hook=list, raw=False)
    keys = [k for k, _ in pairs]
    assert keys == sorted(d, key=lambda s: s.encode("utf-8"))


def test_tuples_encode_as_lists():
    assert encode((1, "a", b"b")) == encode([1, "a", b"b"])
    assert decode(encode((1, 2))) == [1, 2]


def test_bool_and_int_are_distinct():
    assert encode(True) != encode(1)
    assert encode(False) != encode(0)
    assert decode(encode(True)) is True
    assert type(decode(encode(1))) is int


def test_bin_and_str_are_distinct():
    assert encode(b"abc") != encode("abc")
    assert encode(b"abc")[0] == 0xC4  # bin8
    assert encode("abc")[0] == 0xA3  # fixstr
    assert type(decode(encode(b"abc"))) is bytes
    assert type(decode(encode("abc"))) is str
    assert decode(encode({"k": b""})) == {"k": b""}
    assert decode(encode({"k": ""})) == {"k": ""}


def test_integer_range_edges():
    for v in (I64_MIN, U64_MAX, 0, -1, 2**63):
        assert decode(encode(v)) == v
    for v in (I64_MIN - 1, U64_MAX + 1, 2**100, -(2**100)):
        with pytest.raises(CodecError, match="64-bit"):
            encode(v)


def test_encode_refuses_foreign_types():
    for bad in (1.0, 0.0, float("nan"), {1, 2}, object(), {1: "a"}, {b"k": 1}, {None: 1}, [1.5], {"a": {"b": 2.0}},
                {1: "a", "b": 2}, {"b": 2, 1: "a"}, "\ud800", {"\ud800": 1}, [b"ok", {"k": {3}}]):
        with pytest.raises(CodecError):
            encode(bad)
    with pytest.raises(CodecError, match="map key must be str, not int"):
        encode({"a": 1, 2: "b"})
    with pytest.raises(CodecError, match="float"):
        encode(1.0)


def test_bytes_like_values_encode_as_bin():
    assert encode(bytearray(b"xy")) == encode(b"xy") == encode(memoryview(b"xy"))


def test_depth_limit_is_the_same_on_both_sides():
    ok = []
    for _ in range(MAX_DEPTH):
        ok = [ok]  # MAX_DEPTH + 1 nested lists
    data = encode(ok)
    assert decode(data) == ok
    too_deep = [ok]
    with pytest.raises(CodecError, match="deeper"):
        encode(too_deep)
    # the same bytes written by hand are refused by decode
    with pytest.raises(CodecError, match="deeper"):
        decode(b"\x91" + data)
    # maps count as levels too
    deep_map: object = 0
    for _ in range(MAX_DEPTH + 1):
        deep_map = {"a": deep_map}
    with pytest.raises(CodecError):
        encode(deep_map)
    with pytest.raises(CodecError):
        decode(b"\x81\xa1a" * (MAX_DEPTH + 1) + b"\x00")
    # absurd depth does not blow the interpreter stack
    with pytest.raises(CodecError):
        decode(b"\x91" * 100_000 + b"\xc0")


# ---------------------------------------------------------------------------
# Strict decoding: everything that is not the canonical form is refused
# ---------------------------------------------------------------------------


def int_forms(v: int) -> list[bytes]:
    """Every msgpack encoding of the integer ``v``."""
    forms = []
    if 0 <= v <= 0x7F:
        forms.append(bytes([v]))
    if -32 <= v < 0:
        forms.append(struct.pack(">b", v))
    for tag, fmt, lo, hi in (
        (0xCC, ">B", 0, 2**8 - 1),
        (0xCD, ">H", 0, 2**16 - 1),
        (0xCE, ">I", 0, 2**32 - 1),
        (0xCF, ">Q", 0, 2**64 - 1),
        (0xD0, ">b", -(2**7), 2**7 - 1),
        (0xD1, ">h", -(2**15), 2**15 - 1),
        (0xD2, ">i", -(2**31), 2**31 - 1),
        (0xD3, ">q", -(2**63), 2**63 - 1),
    ):
        if lo <= v <= hi:
            forms.append(bytes([tag]) + struct.pack(fmt, v))
    return forms


INT_SAMPLES = [0, 1, 5, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63, U64_MAX,
               -1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, I64_MIN]


@pytest.mark.parametrize("v", INT_SAMPLES)
def test_every_wider_integer_form_is_refused(v):
    canonical = encode(v)
    forms = int_forms(v)
    assert canonical in forms
    for f in forms:
        # msgpack itself reads each form as v ...
        assert msgpack.unpackb(f) == v
        if f == canonical:
            assert decode(f) == v
        else:
            # ... but only the smallest is canonical, alone or inside a value
            with pytest.raises(CodecError, match="non-canonical"):
                decode(f)
            with pytest.raises(CodecError, match="non-canonical"):
                decode(b"\x92\xc0" + f)
            with pytest.raises(CodecError, match="non-canonical"):
                decode(b"\x81\xa1k" + f)


def test_int_forms_helper_finds_the_wider_forms():
    assert len(int_forms(0)) == 9  # fixint + 4 unsigned + 4 signed
    assert len(int_forms(-1)) == 5  # negative fixint + 4 signed
    assert len(int_forms(U64_MAX)) == 1


def test_wider_length_forms_are_refused():
    cases = [
        ("ab", b"\xd9\x02ab"),  # str8 for a fixstr
        ("ab", b"\xda\x00\x02ab"),  # str16
        ("ab", b"\xdb\x00\x00\x00\x02ab"),  # str32
        (b"ab", b"\xc5\x00\x02ab"),  # bin16 for bin8
        (b"ab", b"\xc6\x00\x00\x00\x02ab"),  # bin32
        ([1], b"\xdc\x00\x01\x01"),  # array16 for fixarray
        ([1], b"\xdd\x00\x00\x00\x01\x01"),  # array32
        ({"a": 1}, b"\xde\x00\x01\xa1a\x01"),  # map16 for fixmap
        ({"a": 1}, b"\xdf\x00\x00\x00\x01\xa1a\x01"),  # map32
    ]
    for value, raw in cases:
        assert msgpack.unpackb(raw, raw=False) == value
        with pytest.raises(CodecError, match="non-canonical"):
            decode(raw)


def test_unsorted_map_keys_refused():
    raw = b"\x82\xa1b\x01\xa1a\x02"
    assert msgpack.unpackb(raw, raw=False) == {"a": 2, "b": 1}
    with pytest.raises(CodecError, match="sorted"):
        decode(raw)
    # nested too
    with pytest.raises(CodecError, match="sorted"):
        decode(b"\x91" + raw)
    # sorted by UTF-8 bytes: "B" (0x42) comes before "a" (0x61)
    assert decode(b"\x82\xa1B\x01\xa1a\x02") == {"B": 1, "a": 2}
    with pytest.raises(CodecError, match="sorted"):
        decode(b"\x82\xa1a\x02\xa1B\x01")
    # a prefix sorts first: "a" < "ab"
    assert decode(encode({"ab": 1, "a": 2})) == {"a": 2, "ab": 1}
    with pytest.raises(CodecError, match="sorted"):
        decode(b"\x82\xa2ab\x01\xa1a\x02")


def test_duplicate_map_keys_refused():
    with pytest.raises(CodecError, match="duplicate"):
        decode(b"\x82\xa1a\x01\xa1a\x02")
    with pytest.raises(CodecError, match="duplicate"):
        decode(b"\x82\xa1a\x01\xa1a\x01")  # even with equal values


def test_non_str_map_keys_refused():
    for raw in (
        b"\x81\x01\x02",  # int key
        b"\x81\xc4\x01a\x02",  # bin key
        b"\x81\xc0\x02",  # nil key
        b"\x81\xc3\x02",  # bool key
        b"\x81\x90\x02",  # array key
    ):
        with pytest.raises(CodecError):
            decode(raw)


def test_floats_refused():
    for raw in (
        b"\xca" + struct.pack(">f", 1.5),
        b"\xcb" + struct.pack(">d", 1.5),
        b"\xca\x00\x00\x00\x00",
        b"\xcb" + bytes(8),
        b"\x91\xcb" + struct.pack(">d", 2.0),
        b"\x81\xa1a\xca" + struct.pack(">f", 2.0),
    ):
        with pytest.raises(CodecError, match="float"):
            decode(raw)


def test_trailing_bytes_refused():
    data = encode({"a": [1, 2, 3]})
    for extra in (b"\x00", b"\xc0", data):
        with pytest.raises(CodecError, match="trailing"):
            decode(data + extra)


def test_every_strict_prefix_refused():
    data = encode({"amount": 2**40, "to": b"\x01" * 20, "memo": "h\u00e9llo", "xs": [None, True, -5, [b"", ""]]})
    assert len(data) > 40
    for n in range(len(data)):
        with pytest.raises(CodecError):
            decode(data[:n])


def test_oversize_refused_before_parsing():
    data = encode(b"x" * 100)
    assert decode(data, max_size=len(data)) == b"x" * 100
    with pytest.raises(CodecError, match="over the limit"):
        decode(data, max_size=len(data) - 1)
    # lengths that claim more than the limit allows
    with pytest.raises(CodecError):
        decode(b"\xdd\xff\xff\xff\xff")
    with pytest.raises(CodecError):
        decode(b"\xc6\xff\xff\xff\xff")
    from ledger.codec import MAX_DECODE_SIZE

    with pytest.raises(CodecError, match="over the limit"):
        decode(b"\xc0" * (MAX_DECODE_SIZE + 1))


def test_ext_types_refused():
    for raw in (
        b"\xd4\x05\x00",  # fixext1
        b"\xd5\x05\x00\x00",  # fixext2
        b"\xc7\x00\x05",  # ext8, zero length
        b"\xc7\x01\x05\x00",  # ext8
        b"\xd6\xff\x00\x00\x00\x00",  # timestamp32
        b"\xd7\xff" + bytes(8),  # timestamp64
        b"\x91\xd4\x05\x00",  # inside a list
    ):
        with pytest.raises(CodecError):
            decode(raw)


def test_invalid_utf8_refused():
    for raw in (b"\xa2\xff\xfe", b"\xa1\x80", b"\xa3\xed\xa0\x80", b"\x81\xa1\xff\x01"):
        with pytest.raises(CodecError):
            decode(raw)


def test_reserved_byte_and_bad_input_types_refused():
    with pytest.raises(CodecError):
        decode(b"\xc1")
    with pytest.raises(CodecError, match="empty"):
        decode(b"")
    with pytest.raises(CodecError):
        decode("not bytes")  # type: ignore[arg-type]


@FAST
@given(values, st.data())
def test_any_single_byte_change_decodes_to_canonical_or_fails(v, data):
    """Whatever decode accepts re-encodes to the very bytes it was given."""
    raw = bytearray(encode(v))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255))
    try:
        out = decode(bytes(raw))
    except CodecError:
        return
    assert encode(out) == bytes(raw)


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Inner(Record):
    SCHEMA = {"x": UInt(10)}
    x: int


@dataclasses.dataclass(frozen=True)
class Sample(Record):
    SCHEMA = {
        "key": Bytes(4),
        "count": UInt(),
        "delta": Int(),
        "name": Str(8),
        "flag": Bool(),
        "tags": List(Str(4), 3),
        "inner": Nested(Inner),
        "maybe": Opt(Nested(Inner)),
    }
    key: bytes
    count: int
    delta: int
    name: str
    flag: bool
    tags: tuple
    inner: Inner
    maybe: Inner | None


GOOD = Sample(key=b"abcd", count=7, delta=-3, name="n", flag=True, tags=("a", "b"), inner=Inner(1), maybe=None)


def obj_with(**changes):
    o = GOOD.to_obj()
    o.update(changes)
    return o


def test_record_round_trip():
    assert Sample.decode(GOOD.encode()) == GOOD
    g2 = GOOD.replace(maybe=Inner(9))
    assert Sample.decode(g2.encode()) == g2
    assert Sample.decode(g2.encode()).maybe == Inner(9)


def test_record_unknown_field_named():
    o = obj_with(extra=1)
    with pytest.raises(CodecError, match=r"Sample: unknown field 'extra'"):
        Sample.decode(encode(o))


def test_record_missing_field_named():
    o = GOOD.to_obj()
    del o["flag"]
    with pytest.raises(CodecError, match=r"Sample: missing field 'flag'"):
        Sample.decode(encode(o))


@pytest.mark.parametrize(
    "field,value,msg",
    [
        ("count", -1, r"Sample\.count: expected an integer"),
        ("count", "7", r"Sample\.count: expected an integer"),
        ("count", True, r"Sample\.count: expected an integer"),
        ("delta", U64_MAX, r"Sample\.delta: expected a signed 64-bit"),
        ("name", b"n", r"Sample\.name: expected a string"),
        ("name", "x" * 9, r"Sample\.name: longer than 8"),
        ("flag", 1, r"Sample\.flag: expected a boolean"),
        ("key", "abcd", r"Sample\.key: expected bytes"),
        ("tags", "a", r"Sample\.tags: expected a list"),
        ("tags", ["a", 1], r"Sample\.tags\[1\]: expected a string"),
        ("tags", ["a", "b", "c", "d"], r"Sample\.tags: more than 3"),
        ("inner", {"x": 11}, r"Sample\.inner\.x: expected an integer from 0 to 10"),
        ("inner", {"y": 1}, r"Sample\.inner: unknown field 'y'"),
        ("inner", 5, r"Sample\.inner: expected a map"),
        ("maybe", {"x": "1"}, r"Sample\.maybe\.x: expected an integer"),
    ],
)
def test_record_wrong_type_names_the_field(field, value, msg):
    with pytest.raises(CodecError, match=msg):
        Sample.decode(encode(obj_with(**{field: value})))


@pytest.mark.parametrize("n", [0, 3, 5, 32])
def test_record_fixed_bytes_length(n):
    with pytest.raises(CodecError, match=rf"Sample\.key: expected exactly 4 bytes, got {n}"):
        Sample.decode(encode(obj_with(key=b"k" * n)))


def test_record_refuses_non_map_and_non_canonical_bytes():
    with pytest.raises(CodecError, match="Sample: expected a map"):
        Sample.decode(encode([1, 2]))
    raw = GOOD.encode()
    with pytest.raises(CodecError):
        Sample.decode(raw + b"\x00")
