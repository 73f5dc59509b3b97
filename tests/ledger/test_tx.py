"""The signed transaction envelope: round trip, hashing, strict decoding."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.address import address_of
from ledger.codec import encode
from ledger.crypto import PrivateKey, verify
from ledger.tx import (
    MAX_TX_SIZE,
    PAYLOADS,
    Call,
    Issue,
    Register,
    Retire,
    SetRole,
    SignedTx,
    Transfer,
    TxBody,
    TxError,
    decode_tx,
    sign_tx,
    tx_hash,
)

FAST = settings(derandomize=True, deadline=None, max_examples=60, database=None)

KEY = PrivateKey.from_name("alice", salt="tx-test")
OTHER = PrivateKey.from_name("bob", salt="tx-test")
CHAIN = "esoc-test"
TO = address_of(OTHER.public)


def transfer(amount=5, nonce=0, expiry=100, chain=CHAIN, key=KEY, memo=""):
    return sign_tx(key, chain, "transfer", Transfer(to=TO, amount=amount, memo=memo), nonce, expiry)


def raw_signed(kind, payload, key=KEY, chain=CHAIN, nonce=0, expiry=100) -> bytes:
    """Sign an arbitrary body (bypassing sign_tx's payload check)."""
    body = TxBody(chain_id=chain, kind=kind, payload=payload, signer=key.public, nonce=nonce, expiry=expiry)
    return SignedTx(body=body, sig=key.sign("tx", chain, body.encode())).raw


def envelope(body_obj: dict, sig: bytes) -> bytes:
    """Wire bytes of an envelope around a hand-made body map.

    Works whether the envelope nests the body as a map or as its canonical
    bytes (the layout of Cosmos' TxRaw): it follows what SignedTx writes.
    """
    probe = transfer().to_obj()["body"]
    body = encode(body_obj) if isinstance(probe, bytes) else body_obj
    return encode({"body": body, "sig": sig})


def test_sign_decode_round_trip():
    tx = transfer(amount=12345, nonce=7, expiry=99, memo="rent")
    back = decode_tx(tx.raw)
    assert back == tx
    assert back.raw == tx.raw
    assert back.hash == tx.hash
    assert back.verify_signature()
    assert back.sender == address_of(KEY.public)
    p = back.payload_record()
    assert p == Transfer(to=TO, amount=12345, memo="rent")
    assert back.body.nonce == 7 and back.body.expiry == 99 and back.body.kind == "transfer"


@pytest.mark.parametrize(
    "kind,payload",
    [
        ("issue", Issue(to=TO, amount=10)),
        ("retire", Retire(amount=3)),
        ("register", Register(account=TO, kind="citizen", name="Bob")),
        ("set_role", SetRole(account=TO, role="treasury", grant=True)),
        ("call", Call(contract="tax", entry="pay", args={"x": [1, b"2", None]}, gas_limit=1000)),
    ],
)
def test_round_trip_every_kind(kind, payload):
    tx = sign_tx(KEY, CHAIN, kind, payload, 3, 50)
    back = decode_tx(tx.raw)
    assert back == tx and back.verify_signature()
    assert back.payload_record() == payload


@FAST
@given(
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.text(max_size=256),
)
def test_round_trip_property(amount, nonce, expiry, memo):
    tx = sign_tx(KEY, CHAIN, "transfer", Transfer(to=TO, amount=amount, memo=memo), nonce, expiry)
    back = decode_tx(tx.raw)
    assert back == tx and back.hash == tx.hash and back.verify_signature()


def test_hash_is_stable():
    a = transfer()
    b = transfer()
    assert a.raw == b.raw  # Ed25519 is deterministic, encoding canonical
    assert a.hash == b.hash == tx_hash(a.raw)
    assert len(a.hash) == 32
    assert decode_tx(a.raw).hash == a.hash
    # the hash is over the signed wire bytes: the same tx decoded from the
    # wire, or rebuilt from its parts, has the same hash
    assert SignedTx(body=a.body, sig=a.sig).hash == a.hash


def test_hash_covers_every_field_and_the_signature():
    base = transfer()
    variants = [
        transfer(amount=6),
        transfer(nonce=1),
        transfer(expiry=101),
        transfer(chain="other"),
        transfer(memo="x"),
        transfer(key=OTHER),
    ]
    hashes = {v.hash for v in variants} | {base.hash}
    assert len(hashes) == len(variants) + 1
    # same body, another (invalid) signature: another hash
    forged = SignedTx(body=base.body, sig=bytes(64))
    assert forged.hash != base.hash


def test_tampered_body_fails_verification():
    tx = transfer()
    b = tx.body
    for change in (
        {"nonce": 1},
        {"expiry": 101},
        {"kind": "issue"},
        {"payload": Transfer(to=TO, amount=6).to_obj()},
        {"signer": OTHER.public},
    ):
        t2 = SignedTx(body=dataclasses.replace(b, **change), sig=tx.sig)
        assert not t2.verify_signature(), change
        # and through the wire
        assert not decode_tx(t2.raw).verify_signature(), change


def test_altered_chain_id_fails_verification():
    tx = transfer(chain="chain-a")
    assert tx.verify_signature()
    moved = SignedTx(body=dataclasses.replace(tx.body, chain_id="chain-b"), sig=tx.sig)
    assert not moved.verify_signature()
    assert not decode_tx(moved.raw).verify_signature()
    # the signature is over the tx domain only: it is not a valid vote/header signature
    for domain in ("vote", "proposal", "header", "evidence", "p2p-handshake"):
        assert not verify(KEY.public, domain, "chain-a", tx.body.encode(), tx.sig)


def test_decode_refuses_unknown_kind():
    raw = raw_signed("mint_for_me", {"amount": 1})
    with pytest.raises(TxError, match="unknown transaction kind 'mint_for_me'"):
        decode_tx(raw)
    with pytest.raises(TxError, match="unknown transaction kind"):
        sign_tx(KEY, CHAIN, "mint_for_me", {"amount": 1}, 0, 1)


GOOD = Transfer(to=TO, amount=5).to_obj()


@pytest.mark.parametrize(
    "kind,payload,msg",
    [
        ("transfer", {**GOOD, "amount": -1}, r"transfer payload\.amount"),
        ("transfer", {**GOOD, "amount": "5"}, r"transfer payload\.amount"),
        ("transfer", {**GOOD, "to": TO[:19]}, r"transfer payload\.to: expected exactly 20 bytes"),
        ("transfer", {**GOOD, "to": "esc1..."}, r"transfer payload\.to: expected bytes"),
        ("transfer", {**GOOD, "memo": "x" * 257}, r"transfer payload\.memo: longer than 256"),
        ("transfer", {**GOOD, "fee": 0}, r"unknown field 'fee'"),
        ("transfer", {"to": TO, "amount": 5}, r"missing field 'memo'"),
        ("transfer", [TO, 5, ""], r"expected a map"),
        ("transfer", None, r"expected a map"),
        ("set_role", {"account": TO, "role": "treasury", "grant": 1}, r"set_role payload\.grant: expected a boolean"),
        ("call", {"contract": "c", "entry": "e", "args": None, "gas_limit": 10**9 + 1}, r"call payload\.gas_limit"),
    ],
)
def test_decode_refuses_payload_schema_violations(kind, payload, msg):
    raw = raw_signed(kind, payload)
    with pytest.raises(TxError, match=msg):
        decode_tx(raw)
    with pytest.raises(TxError):
        sign_tx(KEY, CHAIN, kind, payload, 0, 1)


def test_decode_refuses_envelope_violations():
    tx = transfer()
    obj = tx.to_obj()
    body = tx.body.to_obj()
    bad = [
        encode({**obj, "extra": 1}),
        encode({"body": obj["body"]}),
        encode({"sig": obj["sig"]}),
        encode({**obj, "sig": tx.sig[:63]}),
        encode({**obj, "sig": tx.sig + b"\x00"}),
        encode([obj["body"], obj["sig"]]),
        envelope({**body, "signer": KEY.public[:31]}, tx.sig),
        envelope({**body, "nonce": -1}, tx.sig),
        envelope({**body, "chain_id": "c" * 65}, tx.sig),
        envelope({**body, "fee": 1}, tx.sig),
        envelope({k: v for k, v in body.items() if k != "expiry"}, tx.sig),
    ]
    assert envelope(body, tx.sig) == tx.raw  # the helper builds real envelopes
    for raw in bad:
        with pytest.raises(TxError, match="malformed transaction"):
            decode_tx(raw)
    # the reason names the field
    with pytest.raises(TxError, match="unknown field 'extra'"):
        decode_tx(bad[0])
    with pytest.raises(TxError, match="missing field 'sig'"):
        decode_tx(bad[1])
    with pytest.raises(TxError, match="missing field 'body'"):
        decode_tx(bad[2])
    with pytest.raises(TxError, match="sig: expected exactly 64 bytes"):
        decode_tx(bad[3])
    with pytest.raises(TxError, match="signer: expected exactly 32 bytes"):
        decode_tx(bad[6])
    with pytest.raises(TxError, match="missing field 'expiry'"):
        decode_tx(bad[10])
    with pytest.raises(TxError):
        decode_tx(tx.raw + b"\x00")  # trailing byte
    for n in range(len(tx.raw)):
        with pytest.raises(TxError):
            decode_tx(tx.raw[:n])


def test_decode_refuses_oversize():
    big = sign_tx(KEY, CHAIN, "call", Call(contract="c", entry="e", args=b"x" * MAX_TX_SIZE, gas_limit=1), 0, 1)
    assert len(big.raw) > MAX_TX_SIZE
    with pytest.raises(TxError, match="over the limit"):
        decode_tx(big.raw)
    # just under the limit is fine
    room = MAX_TX_SIZE - len(sign_tx(KEY, CHAIN, "call", Call("c", "e", b"", 1), 0, 1).raw) - 4
    ok = sign_tx(KEY, CHAIN, "call", Call(contract="c", entry="e", args=b"x" * room, gas_limit=1), 0, 1)
    assert len(ok.raw) <= MAX_TX_SIZE
    assert decode_tx(ok.raw) == ok


def test_every_kind_has_a_payload_schema():
    assert {"transfer", "issue", "retire", "register", "deregister", "set_role", "set_validator", "call"} <= set(PAYLOADS)


def test_non_canonical_body_refused():
    import msgpack

    tx = transfer()
    body = tx.body.to_obj()
    unsorted = {k: body[k] for k in sorted(body, reverse=True)}
    assert list(unsorted) != sorted(unsorted)
    if isinstance(tx.to_obj()["body"], bytes):
        raw = encode({"body": msgpack.packb(unsorted, use_bin_type=True), "sig": tx.sig})
    else:
        raw = msgpack.packb({"body": unsorted, "sig": tx.sig}, use_bin_type=True)
    with pytest.raises(TxError, match="malformed transaction"):
        decode_tx(raw)
