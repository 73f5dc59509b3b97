"""The fast transfer decoder accepts exactly what the general strict decoder accepts, with the same values.

``ledger.tx._decode_transfer`` reads a canonical transfer from its fixed byte
layout; anything else goes to the general codec.  These properties hold the
two together: on valid transfers of every size class (integers in each
msgpack width, strings fixstr and str8, non-ASCII memos), and on every
mutation of one (a byte flipped, inserted, dropped, truncated), the fast
path either declines (None) or returns the very transaction the general
decoder returns; and ``decode_tx`` as a whole agrees with the general
decoder, error or value.
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from ledger.crypto import PrivateKey
from ledger.tx import Transfer, TxError, _decode_transfer, decode_tx, decode_tx_general, sign_tx

KEY = PrivateKey.from_name("fast", salt="test")

UINTS = st.one_of(st.integers(0, 127), st.integers(128, 255), st.integers(256, 65535),
                  st.integers(65536, 2**32 - 1), st.integers(2**32, 2**64 - 1))
MEMOS = st.one_of(st.just(""), st.text(max_size=40), st.text(alphabet="é€x", min_size=20, max_size=90))
CHAINS = st.one_of(st.just("esoc"), st.text(alphabet="abc-", min_size=1, max_size=64))


def _signed(chain: str, amount: int, memo: str, nonce: int, expiry: int, to: bytes) -> bytes:
    return sign_tx(KEY, chain, "transfer", Transfer(to=to, amount=amount, memo=memo), nonce, expiry).raw


def _same(a, b) -> bool:
    return (a.raw == b.raw and a.body == b.body and a.sig == b.sig and a.body_bytes == b.body_bytes
            and a.payload_record() == b.payload_record() and a.hash == b.hash)


def _general(raw: bytes):
    try:
        return decode_tx_general(raw)
    except TxError as e:
        return e


@settings(max_examples=300, deadline=None)
@given(CHAINS, UINTS, MEMOS, UINTS, UINTS, st.binary(min_size=20, max_size=20))
def test_fast_path_reads_every_canonical_transfer_as_the_general_decoder(chain, amount, memo, nonce, expiry, to):
    raw = _signed(chain, amount, memo, nonce, expiry, to)
    ref = decode_tx_general(raw)
    fast = _decode_transfer(raw)
    if len(ref.body_bytes) < 256 and len(memo.encode()) < 256 and len(chain.encode()) < 256:
        assert fast is not None  # the common layout is taken by the fast path
    if fast is not None:
        assert _same(fast, ref)
        assert fast.verify_signature()


@settings(max_examples=600, deadline=None)
@given(UINTS, MEMOS, UINTS, st.data())
def test_a_mutated_transfer_is_judged_as_the_general_decoder_judges_it(amount, memo, nonce, data):
    raw = bytearray(_signed("esoc", amount, memo, nonce, 10**6, b"\x07" * 20))
    op = data.draw(st.sampled_from(["flip", "insert", "drop", "truncate", "set"]))
    i = data.draw(st.integers(0, len(raw) - 1))
    if op == "flip":
        raw[i] ^= 1 << data.draw(st.integers(0, 7))
    elif op == "insert":
        raw.insert(i, data.draw(st.integers(0, 255)))
    elif op == "drop":
        del raw[i]
    elif op == "truncate":
        del raw[i:]
    else:
        raw[i] = data.draw(st.sampled_from([0x00, 0x7F, 0x80, 0xA0, 0xBF, 0xC4, 0xCC, 0xCD, 0xCE, 0xCF, 0xD9, 0xFF]))
    raw = bytes(raw)
    ref = _general(raw)
    fast = _decode_transfer(raw)
    if fast is not None:
        assert not isinstance(ref, Exception), f"fast path accepted what the codec refuses: {ref}"
        assert _same(fast, ref)
    whole = decode_tx(raw) if not isinstance(ref, Exception) else None
    if isinstance(ref, Exception):
        try:
            decode_tx(raw)
        except TxError as e:
            assert str(e) == str(ref)  # the same clear error
        else:
            raise AssertionError("decode_tx accepted what the general decoder refuses")
    else:
        assert _same(whole, ref)


def test_non_minimal_integer_is_refused_with_the_codecs_error():
    raw = _signed("esoc", 5, "", 0, 100, b"\x01" * 20)
    tx = decode_tx(raw)
    body = tx.body_bytes
    # nonce 0 written as uint8 0x00 instead of fixint: not canonical
    bad_body = body.replace(b"\xa5nonce\x00", b"\xa5nonce\xcc\x00")
    bad = b"\x82\xa4body\xc4" + bytes([len(bad_body)]) + bad_body + b"\xa3sig\xc4\x40" + tx.sig
    assert _decode_transfer(bad) is None
    try:
        decode_tx(bad)
    except TxError as e:
        assert "non-canonical" in str(e)
    else:
        raise AssertionError("a non-minimal integer was accepted")


def test_other_kinds_take_the_general_path():
    raw = sign_tx(KEY, "esoc", "retire", {"amount": 5, "memo": ""}, 0, 10).raw
    assert _decode_transfer(raw) is None
    assert decode_tx(raw).body.kind == "retire"


# ---------------------------------------------------------------- calls
import msgpack  # noqa: E402

from ledger.codec import MAX_DEPTH  # noqa: E402
from ledger.tx import Call, _decode_call  # noqa: E402

_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.text(max_size=30),
                    st.binary(max_size=30))
ARGS = st.recursive(_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=12)
CALL_ARGS = st.one_of(st.dictionaries(st.text(max_size=12), ARGS, max_size=5), ARGS)
NAMES = st.one_of(st.just("tax"), st.text(max_size=64))


def _call(chain: str, contract: str, entry: str, args, gas: int, nonce: int, expiry: int) -> bytes:
    return sign_tx(KEY, chain, "call", Call(contract, entry, args, gas), nonce, expiry).raw


def _deep(n: int):
    v: object = 1
    for _ in range(n):
        v = [v]
    return v


@settings(max_examples=300, deadline=None)
@given(CHAINS, NAMES, NAMES, CALL_ARGS, st.integers(0, 10**9), UINTS, UINTS)
def test_fast_path_reads_every_canonical_call_as_the_general_decoder(chain, contract, entry, args, gas, nonce, expiry):
    raw = _call(chain, contract, entry, args, gas, nonce, expiry)
    ref = decode_tx_general(raw)
    fast = _decode_call(raw)
    assert fast is not None  # every canonical call takes the fast path (bin8 and bin16 bodies)
    assert _same(fast, ref)
    assert fast.body.payload == ref.body.payload and fast.payload_record().args == ref.payload_record().args
    assert decode_tx(raw).raw == raw


def test_call_nesting_at_the_codecs_limit_is_judged_as_the_general_decoder():
    for n in range(MAX_DEPTH - 4, MAX_DEPTH + 2):
        body = sign_tx(KEY, "esoc", "call", Call("tax", "x", {"a": 0}, 5), 0, 9)
        deep = dict(body.body.payload, args={"a": _deep(n)})
        obj = dict(body.body.to_obj(), payload=dict(sorted(deep.items())))
        bb = msgpack.packb(dict(sorted(obj.items())), use_bin_type=True)  # (the encoder refuses to nest so deep)
        raw = msgpack.packb({"body": bb, "sig": body.sig}, use_bin_type=True)
        ref = _general(raw)
        fast = _decode_call(raw)
        if fast is not None:
            assert not isinstance(ref, Exception) and _same(fast, ref)
        got = _general_via(decode_tx, raw)
        assert (str(got) == str(ref)) if isinstance(ref, Exception) else _same(got, ref)


def _general_via(f, raw):
    try:
        return f(raw)
    except TxError as e:
        return e


@settings(max_examples=800, deadline=None)
@given(CALL_ARGS, UINTS, st.booleans(), st.data())
def test_a_mutated_call_is_judged_as_the_general_decoder_judges_it(args, nonce, long_chain, data):
    raw = bytearray(_call("c" * 60 if long_chain else "esoc", "tax", "pay_wage", args, 10**6, nonce, 10**6))
    op = data.draw(st.sampled_from(["flip", "insert", "drop", "truncate", "set"]))
    i = data.draw(st.integers(0, len(raw) - 1))
    if op == "flip":
        raw[i] ^= 1 << data.draw(st.integers(0, 7))
    elif op == "insert":
        raw.insert(i, data.draw(st.integers(0, 255)))
    elif op == "drop":
        del raw[i]
    elif op == "truncate":
        del raw[i:]
    else:
        raw[i] = data.draw(st.sampled_from([0x00, 0x7F, 0x80, 0x84, 0x85, 0xA0, 0xBF, 0xC0, 0xC2, 0xC4, 0xC5,
                                            0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0xD9, 0xDC, 0xDE, 0xFF]))
    raw = bytes(raw)
    ref = _general(raw)
    fast = _decode_call(raw)
    if fast is not None:
        assert not isinstance(ref, Exception), f"fast path accepted what the codec refuses: {ref}"
        assert _same(fast, ref)
    got = _general_via(decode_tx, raw)
    if isinstance(ref, Exception):
        assert isinstance(got, TxError) and str(got) == str(ref)  # the same clear error
    else:
        assert _same(got, ref)


def test_a_call_payload_with_a_wrong_field_is_refused_with_the_codecs_error():
    from ledger import codec

    tx = sign_tx(KEY, "esoc", "call", Call("tax", "x", {}, 5), 0, 9)
    for payload in ({"args": {}, "contract": "tax", "entry": "x", "gas_limit": 10**9 + 1},
                    {"args": {}, "contract": "tax", "entry": "x", "gaz_limit": 5},
                    {"args": {}, "contract": 7, "entry": "x", "gas_limit": 5}):
        bb = codec.encode(dict(tx.body.to_obj(), payload=payload))
        raw = codec.encode({"body": bb, "sig": tx.sig})
        assert _decode_call(raw) is None
        ref = _general(raw)
        assert isinstance(ref, TxError)
        got = _general_via(decode_tx, raw)
        assert isinstance(got, TxError) and str(got) == str(ref)
