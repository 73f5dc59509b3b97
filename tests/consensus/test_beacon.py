"""The beacon (issue 14, fault 9): one output per key and input, chained per block."""

from __future__ import annotations

import pytest

from consensus import beacon
from ledger.crypto import PrivateKey

K = PrivateKey.from_name("beacon-a")
K2 = PrivateKey.from_name("beacon-b")
ALPHA = beacon.beacon_input("esoc-test", 7, beacon.genesis_randomness("esoc-test"))


def test_proof_verifies_and_is_deterministic():
    p = beacon.prove(K, ALPHA)
    assert len(p) == beacon.PROOF_SIZE and beacon.prove(K, ALPHA) == p
    assert len(beacon.verify(K.public, ALPHA, p)) == 32


@pytest.mark.parametrize("i", [0, 31, 32, 47, 48, 79])
def test_any_changed_byte_is_refused(i):
    p = bytearray(beacon.prove(K, ALPHA))
    p[i] ^= 1
    with pytest.raises(beacon.BeaconError):
        beacon.verify(K.public, ALPHA, bytes(p))


def test_proof_is_bound_to_key_and_input():
    p = beacon.prove(K, ALPHA)
    with pytest.raises(beacon.BeaconError):
        beacon.verify(K2.public, ALPHA, p)
    with pytest.raises(beacon.BeaconError):
        beacon.verify(K.public, ALPHA + b"x", p)
    with pytest.raises(beacon.BeaconError):
        beacon.verify(K.public, ALPHA, p[:-1])


def test_output_is_unique_a_second_nonce_gives_no_second_output():
    """The grinding of the old beacon: an Ed25519 signer can make many valid signatures
    over one message.  Here a proof with another nonce k' (what a grinder would try)
    carries the same Gamma, hence the same output: nothing to choose from."""
    import nacl.bindings as s

    x, _ = beacon._secret(K)
    hp = beacon._hash_to_curve(K.public, ALPHA)
    gamma = s.crypto_scalarmult_ed25519_noclamp(x, hp)
    outs = set()
    for n in range(5):
        k = beacon._scalar(bytes([n + 1]) * 32)
        c = beacon._challenge(hp, gamma, s.crypto_scalarmult_ed25519_base_noclamp(k), s.crypto_scalarmult_ed25519_noclamp(k, hp))
        sc = s.crypto_core_ed25519_scalar_add(k, s.crypto_core_ed25519_scalar_mul(beacon._scalar(c), x))
        outs.add(beacon.verify(K.public, ALPHA, gamma + c + sc))
    assert outs == {beacon.verify(K.public, ALPHA, beacon.prove(K, ALPHA))}
    # and a Gamma that is not x * H(alpha) does not verify with any challenge the prover can make
    other = s.crypto_scalarmult_ed25519_noclamp(beacon._scalar(b"\x05" * 32), hp)
    p = beacon.prove(K, ALPHA)
    with pytest.raises(beacon.BeaconError):
        beacon.verify(K.public, ALPHA, other + p[32:])


def test_randomness_chains_and_depends_on_the_previous_value():
    r0 = beacon.genesis_randomness("esoc-test")
    out = beacon.verify(K.public, ALPHA, beacon.prove(K, ALPHA))
    r1 = beacon.next_randomness(r0, out)
    assert r1 != beacon.next_randomness(beacon.genesis_randomness("other"), out)
    assert beacon.beacon_input("esoc-test", 8, r1) != beacon.beacon_input("esoc-test", 8, r0)
