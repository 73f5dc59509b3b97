"""Domain-separated signatures and tagged hashes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto import (
    DOMAINS,
    PUBKEY_SIZE,
    SIG_SIZE,
    PrivateKey,
    h,
    signing_hash,
    tagged_hash,
    verify,
    verify_raw,
)

FAST = settings(derandomize=True, deadline=None, max_examples=50, database=None)

ALICE = PrivateKey.from_name("alice", salt="test")
BOB = PrivateKey.from_name("bob", salt="test")
CHAIN = "esoc-test"
PAYLOAD = b"\x82\xa1a\x01\xa1b\x02"


def flip(b: bytes, i: int, bit: int = 1) -> bytes:
    out = bytearray(b)
    out[i] ^= bit
    return bytes(out)


def test_signature_verifies_in_its_own_domain_and_chain():
    for d in sorted(DOMAINS):
        sig = ALICE.sign(d, CHAIN, PAYLOAD)
        assert len(sig) == SIG_SIZE
        assert verify(ALICE.public, d, CHAIN, PAYLOAD, sig)


def test_cross_domain_replay_fails():
    for d1, d2 in itertools.permutations(sorted(DOMAINS), 2):
        sig = ALICE.sign(d1, CHAIN, PAYLOAD)
        assert not verify(ALICE.public, d2, CHAIN, PAYLOAD, sig), (d1, d2)


def test_cross_chain_replay_fails():
    sig = ALICE.sign("tx", CHAIN, PAYLOAD)
    for other in ("", "esoc-test2", "esoc-tes", "ESOC-TEST", CHAIN + "\x00"):
        assert not verify(ALICE.public, "tx", other, PAYLOAD, sig)


def test_chain_and_payload_boundary_is_unambiguous():
    # moving a byte between chain id and payload must give another message
    assert signing_hash("tx", "ab", b"c") != signing_hash("tx", "a", b"bc")
    assert signing_hash("tx", "a", b"") != signing_hash("tx", "", b"a")


def test_raw_signature_is_not_a_domain_signature():
    # signing the payload itself (no domain, no chain) must not verify
    sig = ALICE.sign_raw(PAYLOAD)
    assert verify_raw(ALICE.public, PAYLOAD, sig)
    assert not verify(ALICE.public, "tx", CHAIN, PAYLOAD, sig)


def test_unknown_domain_refused():
    with pytest.raises(ValueError, match="unknown signing domain"):
        signing_hash("txx", CHAIN, PAYLOAD)
    with pytest.raises(ValueError):
        ALICE.sign("", CHAIN, PAYLOAD)


def test_tampered_payload_sig_or_pubkey_fail():
    sig = ALICE.sign("tx", CHAIN, PAYLOAD)
    for i in range(len(PAYLOAD)):
        assert not verify(ALICE.public, "tx", CHAIN, flip(PAYLOAD, i), sig)
    assert not verify(ALICE.public, "tx", CHAIN, PAYLOAD + b"\x00", sig)
    assert not verify(ALICE.public, "tx", CHAIN, PAYLOAD[:-1], sig)
    for i in range(SIG_SIZE):
        assert not verify(ALICE.public, "tx", CHAIN, PAYLOAD, flip(sig, i)), i
    for i in range(PUBKEY_SIZE):
        assert not verify(flip(ALICE.public, i), "tx", CHAIN, PAYLOAD, sig), i
    assert not verify(BOB.public, "tx", CHAIN, PAYLOAD, sig)


def test_malleated_s_is_refused():
    # s + L (the group order) is the classic Ed25519 malleation; libsodium refuses it
    L = 2**252 + 27742317777372353535851937790883648493
    sig = ALICE.sign("tx", CHAIN, PAYLOAD)
    s = int.from_bytes(sig[32:], "little")
    mal = sig[:32] + (s + L).to_bytes(32, "little")
    assert not verify(ALICE.public, "tx", CHAIN, PAYLOAD, mal)


def test_malformed_sizes_return_false():
    sig = ALICE.sign("tx", CHAIN, PAYLOAD)
    for pk in (b"", ALICE.public[:31], ALICE.public + b"\x00", b"\x00" * 64):
        assert verify(pk, "tx", CHAIN, PAYLOAD, sig) is False
    for s in (b"", sig[:63], sig + b"\x00", sig * 2):
        assert verify(ALICE.public, "tx", CHAIN, PAYLOAD, s) is False
    # well-sized but invalid points / zero signature
    for pk in (bytes(32), b"\xff" * 32):
        assert verify(pk, "tx", CHAIN, PAYLOAD, sig) is False
    assert verify(ALICE.public, "tx", CHAIN, PAYLOAD, bytes(64)) is False
    assert verify_raw(bytes(32), b"", bytes(64)) is False


@FAST
@given(st.binary(max_size=200), st.text(max_size=20), st.sampled_from(sorted(DOMAINS)))
def test_sign_verify_property(payload, chain, domain):
    sig = BOB.sign(domain, chain, payload)
    assert verify(BOB.public, domain, chain, payload, sig)
    assert not verify(ALICE.public, domain, chain, payload, sig)
    assert not verify(BOB.public, domain, chain + "x", payload, sig)
    assert not verify(BOB.public, domain, chain, payload + b"x", sig)


def test_keys_are_deterministic_from_seed_and_name():
    assert PrivateKey.from_name("alice", salt="test").public == ALICE.public
    assert PrivateKey.from_name("alice").public != ALICE.public  # other salt
    assert PrivateKey(ALICE.seed).public == ALICE.public
    with pytest.raises(ValueError):
        PrivateKey(b"\x00" * 31)
    # Ed25519 signatures are deterministic
    assert ALICE.sign("tx", CHAIN, PAYLOAD) == ALICE.sign("tx", CHAIN, PAYLOAD)


def test_tagged_hashes_differ_per_tag():
    data = b"same data"
    tags = ["tx", "tx hash", "merkle leaf", "merkle node", "state key", "state value", "address", "a", "A", "tx "]
    hashes = {tagged_hash(t, data) for t in tags}
    assert len(hashes) == len(tags)
    assert h(data) not in hashes
    assert all(len(x) == 32 for x in hashes)
    # and the tag is not merely prepended to the data
    assert tagged_hash("ab", b"c") != tagged_hash("a", b"bc")
    assert tagged_hash("tx", b"") != tagged_hash("tx", b"\x00")


def test_known_vectors_do_not_drift():
    """Renaming a tag or changing the hash forks the chain: pin a few outputs."""
    assert h(b"").hex() == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"  # BLAKE3("")
    # tagged_hash is BLAKE3 derive_key mode with context "esoc 2026 <tag>"
    import blake3

    assert tagged_hash("tx", b"x") == blake3.blake3(b"x", derive_key_context="esoc 2026 tx").digest()
